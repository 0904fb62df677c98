"""The audit hash chain on its own database: the sealer, a hand-computed row hash, tampering found.

Tampering needs the owner with the append-only trigger disabled; each test puts the row back as it was,
so the module's chain is whole again for the next.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from typer.testing import CliRunner

from app import migrate
from app.audit.chain import verify
from app.cli import cli
from app.db import connection_options
from app.settings import Settings
from layers.audit import Actor, record
from tests.conftest import cluster_lock, create_throwaway_database, drop_database

COLUMNS = (
    "id, at, actor_id, actor_username, actor_org_id, action, object_type, object_id, before, after,"
    " request_id, client_ip, chain_seq, prev_hash, row_hash"
)


@pytest.fixture(scope="module")
def chain_db() -> Iterator[Settings]:
    """A migrated database of its own (the tests below break its chain for a moment)."""
    with cluster_lock():
        settings, name = create_throwaway_database("duogui_chain")
        migrate.upgrade(settings)
    try:
        yield settings
    finally:
        drop_database(name)


@pytest.fixture
def owner(chain_db: Settings) -> Iterator[psycopg.Connection[Any]]:
    """An owner connection to the chain database."""
    with psycopg.connect(chain_db.owner_dsn, autocommit=True) as conn:
        yield conn


def _events(conn: psycopg.Connection[Any], n: int, tag: str) -> list[int]:
    """Record ``n`` events the way the application does; their ids."""
    for i in range(n):
        record(
            conn, Actor(7, "王工", 3, f"req-{tag}-{i}", "10.1.2.3"), f"test.{tag}", "test", i, None, {"i": i}
        )
    rows = conn.execute("SELECT id FROM audit.event WHERE action = %s ORDER BY id", (f"test.{tag}",))
    return [r[0] for r in rows]


class _TriggersOff:
    """The owner's way around the guards: ALTER TABLE … DISABLE TRIGGER, put back on exit."""

    def __init__(self, conn: psycopg.Connection[Any], *names: str) -> None:
        self.conn, self.names = conn, names

    def __enter__(self) -> psycopg.Connection[Any]:
        for name in self.names:
            self.conn.execute(f"ALTER TABLE audit.event DISABLE TRIGGER {name}")
        return self.conn

    def __exit__(self, *_: object) -> None:
        for name in self.names:
            self.conn.execute(f"ALTER TABLE audit.event ENABLE TRIGGER {name}")


def test_a_row_hash_known_by_hand(owner: psycopg.Connection[Any]) -> None:
    owner.execute(
        "INSERT INTO audit.event (at, actor_id, actor_username, action, object_type, object_id, before,"
        " client_ip) VALUES ('2026-01-02 03:04:05.123456+08', 42, '张三', 'user.update', 'user', 'u-1',"
        ' \'{"b": [1, 2], "a": "张三"}\', \'192.168.0.9\')'
    )
    verify(owner)  # seals it
    seq, row_id, prev, stored = owner.execute(
        "SELECT chain_seq, id, prev_hash, row_hash FROM audit.event WHERE object_id = 'u-1'"
    ).fetchone()
    # By hand: 2026-01-01T19:04:05.123456Z is 20,454 days (56 years, 14 leap days) and 68,645 s after the
    # epoch; jsonb prints shorter keys first with ", " and ": "; an inet prints its mask.
    fields = [
        str(seq), str(row_id), "1767294245123456", "42", "张三", None, "user.update", "user", "u-1",
        '{"a": "张三", "b": [1, 2]}', None, None, "192.168.0.9/32",
    ]  # fmt: skip
    framed = "".join("-" if f is None else f"{len(f.encode())}:{f}" for f in fields)
    assert framed.startswith(f"{len(str(seq))}:{seq}") and "6:张三" in framed  # 张三 is 6 bytes of UTF-8
    assert bytes(stored) == hashlib.sha256(bytes(prev) + framed.encode()).digest()
    previous = owner.execute("SELECT row_hash FROM audit.event WHERE chain_seq = %s", (seq - 1,)).fetchone()
    assert bytes(prev) == (bytes(previous[0]) if previous else bytes(32))


def test_an_intact_chain_is_proved_to_its_head(owner: psycopg.Connection[Any]) -> None:
    _events(owner, 5, "intact")
    report = verify(owner)
    count, head = owner.execute(
        "SELECT count(*), (SELECT row_hash FROM audit.event ORDER BY chain_seq DESC LIMIT 1) FROM audit.event"
    ).fetchone()
    assert report.verified and report.first_break is None
    assert report.rows_checked == count and report.first_seq == 1 and report.last_seq == count
    assert report.head_hash == bytes(head).hex()


def test_an_altered_row_is_named(
    owner: psycopg.Connection[Any], chain_db: Settings, monkeypatch: Any
) -> None:
    ids = _events(owner, 4, "altered")
    assert verify(owner).verified
    target = ids[2]
    with _TriggersOff(owner, "event_append_only"):
        owner.execute("UPDATE audit.event SET after = '{\"i\": 99}' WHERE id = %s", (target,))
    try:
        report = verify(owner)
        assert not report.verified and report.first_break is not None
        assert report.first_break.id == target and report.first_break.kind == "content"
        seq = owner.execute("SELECT chain_seq FROM audit.event WHERE id = %s", (target,)).fetchone()[0]
        assert report.first_break.chain_seq == seq and report.rows_checked == seq - 1
        # The command line says so too, and fails.
        monkeypatch.setenv("DUOGUI_DATABASE_URL", chain_db.owner_dsn)
        result = CliRunner().invoke(cli, ["audit", "verify"])
        assert result.exit_code == 1, result.output
        assert f"记录 {target}" in result.output and "content" in result.output
    finally:
        with _TriggersOff(owner, "event_append_only"):
            owner.execute("UPDATE audit.event SET after = '{\"i\": 2}' WHERE id = %s", (target,))
    assert verify(owner).verified
    assert CliRunner().invoke(cli, ["audit", "verify"]).exit_code == 0


def test_a_rehashed_row_breaks_the_next_link(owner: psycopg.Connection[Any]) -> None:
    ids = _events(owner, 3, "rehashed")
    verify(owner)
    target, following = ids[0], ids[1]
    original = owner.execute("SELECT row_hash FROM audit.event WHERE id = %s", (target,)).fetchone()[0]
    # A forger who also recomputes the altered row's own hash (with the sealer's function) breaks the link
    # from the row after it.
    with _TriggersOff(owner, "event_append_only"):
        owner.execute("UPDATE audit.event SET action = 'test.forged' WHERE id = %s", (target,))
        owner.execute(
            "UPDATE audit.event e SET row_hash = sha256(e.prev_hash || audit.canonical(e)) WHERE id = %s",
            (target,),
        )
    try:
        report = verify(owner)
        assert report.first_break is not None
        assert report.first_break.id == following and report.first_break.kind == "link"
    finally:
        with _TriggersOff(owner, "event_append_only"):
            owner.execute(
                "UPDATE audit.event SET action = 'test.rehashed', row_hash = %s WHERE id = %s",
                (original, target),
            )
    assert verify(owner).verified


def test_a_deleted_row_is_a_gap(owner: psycopg.Connection[Any]) -> None:
    ids = _events(owner, 3, "deleted")
    verify(owner)
    gone = owner.execute(f"SELECT {COLUMNS} FROM audit.event WHERE id = %s", (ids[1],)).fetchone()
    with _TriggersOff(owner, "event_append_only"):
        owner.execute("DELETE FROM audit.event WHERE id = %s", (ids[1],))
    try:
        report = verify(owner)
        assert report.first_break is not None
        assert report.first_break.id == ids[2] and report.first_break.kind == "gap"
        assert report.first_break.expected == str(gone[12]) and report.first_break.found == str(gone[12] + 1)
    finally:
        with _TriggersOff(owner, "event_unsealed_insert"):
            owner.execute(
                f"INSERT INTO audit.event ({COLUMNS}) OVERRIDING SYSTEM VALUE VALUES"
                " (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                [psycopg.types.json.Jsonb(v) if isinstance(v, dict) else v for v in gone],
            )
    assert verify(owner).verified


def test_only_the_sealer_writes_the_chain(owner: psycopg.Connection[Any], chain_db: Settings) -> None:
    [fresh] = _events(owner, 1, "unsealed")
    for statement in (
        "UPDATE audit.event SET chain_seq = 999999, prev_hash = sha256(''), row_hash = sha256('')"
        " WHERE id = %s",
        "UPDATE audit.event SET action = 'forged' WHERE id = %s",
    ):
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
            owner.execute(statement, (fresh,))
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="sealed by audit.seal only"):
        owner.execute(
            "INSERT INTO audit.event (action, object_type, chain_seq, prev_hash, row_hash)"
            " VALUES ('x', 'test', 999999, sha256(''), sha256(''))"
        )
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="younger than 180 days"):
        owner.execute("DELETE FROM audit.event WHERE id = %s", (fresh,))
    options = connection_options(chain_db)
    with psycopg.connect(chain_db.app_dsn, options=options, autocommit=True) as app:
        assert app.execute("SELECT audit.seal(10)").fetchone()[0] >= 1  # the app role may seal
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            app.execute("SELECT audit.prune(1)")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            app.execute("INSERT INTO audit.archive (before_date, first_seq, last_seq, first_id, last_id,"
                        " row_count, first_prev_hash, last_hash, file_sha256, file_name)"
                        " VALUES ('2020-01-01', 1, 1, 1, 1, 1, '', '', '', 'x')")  # fmt: skip
        app.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")  # an old snapshot could fork the chain
        with pytest.raises(psycopg.errors.InvalidTransactionState):
            app.execute("SELECT audit.seal(10)")
        app.execute("ROLLBACK")
    assert verify(owner).verified


def test_writers_never_wait_for_the_chain(owner: psycopg.Connection[Any], chain_db: Settings) -> None:
    """An open audited transaction blocks neither another writer nor the sealer; it is sealed after it."""
    with psycopg.connect(chain_db.owner_dsn) as slow:
        record(slow, Actor.system("slow"), "test.slow", "test", 1)  # uncommitted: the lower id
        [fast] = _events(owner, 1, "fast")
        owner.execute("SET lock_timeout = '2s'")
        verify(owner)  # seals the committed row while the other transaction stays open
        slow.commit()
    owner.execute("RESET lock_timeout")
    assert verify(owner).verified
    slow_row, fast_row = (
        owner.execute("SELECT id, chain_seq FROM audit.event WHERE action = %s", (a,)).fetchone()
        for a in ("test.slow", "test.fast")
    )
    assert slow_row[0] < fast_row[0] == fast and slow_row[1] > fast_row[1]
