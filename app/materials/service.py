"""The materials library: storing an upload as the next version of its slot, listing, offering, fetching.

A library *slot* is (owner organisation, purpose, material code, project or NULL for org-wide). Storing
into a filled slot supersedes its current version and adds the next one; attachments point at a version,
so an earlier application keeps what it was decided on.

Ordering that keeps the store and the catalogue in step (no row without its file, no refused upload in
the store): the upload is hashed, sniffed and guarded first, in a worker thread, holding no connection
(:mod:`app.materials.guards`). Then:

* Local store (``places_in_transaction``): one short transaction takes the slot's advisory lock and the
  blob's, inserts ``material.blob`` (ON CONFLICT DO NOTHING), supersedes and inserts the version, audits,
  and renames the file into place *before* it commits: a committed row always has its file. If the
  transaction fails after placing a new blob, the file is removed again under the blob's lock unless
  another transaction stored the same bytes meanwhile (it holds that lock from its insert to its commit,
  so the check cannot race).
* S3 store: the object is uploaded first (:func:`upload_ahead`, no connection, no lock: content-addressed,
  so a duplicate upload is harmless), then the same transaction only checks that the object is there and
  records the rows. A failed transaction leaves the object; it is an orphan (no row names it, so it is
  never served) and ``duogui materials sweep`` removes it once it is older than an upload can take. It is
  not deleted on the spot: another upload of the same bytes may be between its own upload and commit.

The sweep and the transaction meet on the blob's advisory lock: the sweep deletes a file only while
holding it and after seeing no row; the transaction checks the object exists after inserting its row under
that lock (and uploads it again if a sweep removed an old orphan of the same bytes just before).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Any, Literal

import yaml
from psycopg import Connection
from psycopg.rows import dict_row
from pydantic import BaseModel, Field

from app.auth.deps import Grant
from app.errors import NotFound
from app.materials.access import may_read
from app.materials.guards import Staged, stage_bytes
from app.materials.storage import BlobStore, current_store
from app.settings import PROJECT_ROOT
from layers.audit import Actor, record

log = logging.getLogger("duogui.materials")

Purpose = Literal["application", "decision", "demolition", "minutes"]
CODE_PATTERN = r"^[a-z0-9][a-z0-9_]{0,63}$"
TEMPLATE_FILES = (PROJECT_ROOT / "app" / "projects" / "templates", PROJECT_ROOT / "app" / "projects")


class Material(BaseModel):
    """One version of one library material (its metadata; the bytes are at ``/content``)."""

    id: int
    owner_org_id: int
    owner_org_name: str = Field(description="所属单位名称")
    project_id: int | None = Field(description="所属项目；空为单位通用材料（如营业执照）")
    purpose: Purpose
    material_code: str
    file_name: str
    media_type: str = Field(description="按内容识别的类型")
    size: int
    sha256: str
    version: int
    supersedes_id: int | None
    superseded_at: datetime | None
    current: bool = Field(description="是否为该材料的现行版本")
    valid_until: date | None = Field(description="有效期至（空为长期有效）")
    uploaded_by_name: str
    uploaded_at: datetime


SELECT = """
SELECT m.id, m.owner_org_id, o.name_zh AS owner_org_name, m.project_id, m.purpose, m.material_code,
       m.file_name, m.media_type, m.size, m.sha256, m.version, m.supersedes_id, m.superseded_at,
       m.superseded_at IS NULL AS current, m.valid_until, m.uploaded_by_name, m.uploaded_at
FROM material.material m JOIN auth.organisation o ON o.id = m.owner_org_id
"""


def _rows(conn: Connection[Any], where: str, params: dict[str, Any], order: str) -> list[Material]:
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(SELECT + " WHERE " + where + " ORDER BY " + order, params).fetchall()
    return [Material(**r) for r in rows]


def fetch(conn: Connection[Any], material_id: int) -> Material | None:
    """One version by id, whoever may see it (None when absent)."""
    found = _rows(conn, "m.id = %(id)s", {"id": material_id}, "m.id")
    return found[0] if found else None


def get_material(conn: Connection[Any], grant: Grant, material_id: int) -> Material:
    """One version the caller may read; 404 otherwise (no probing of other organisations' files)."""
    material = fetch(conn, material_id) if may_read(conn, grant, material_id) else None
    if material is None:
        raise NotFound("材料不存在。", "No such material.", code="material_not_found")
    return material


def versions(conn: Connection[Any], grant: Grant, material_id: int) -> list[Material]:
    """Every version of the material's slot that the caller may read, newest first."""
    material = get_material(conn, grant, material_id)
    found = _rows(
        conn,
        "m.owner_org_id = %(o)s AND m.purpose = %(p)s AND m.material_code = %(c)s"
        " AND coalesce(m.project_id, 0) = %(pr)s",
        {"o": material.owner_org_id, "p": material.purpose, "c": material.material_code,
         "pr": material.project_id or 0},
        "m.version DESC",
    )  # fmt: skip
    return [m for m in found if m.id == material.id or may_read(conn, grant, m.id)]


def library(
    conn: Connection[Any],
    org_id: int,
    today: date,
    *,
    material_code: str | None = None,
    project_id: int | None = None,
    purpose: str | None = None,
    include_expired: bool = False,
) -> list[Material]:
    """The organisation's library: current versions, filtered; expired ones only when asked for."""
    return _rows(
        conn,
        "m.owner_org_id = %(o)s AND m.superseded_at IS NULL"
        " AND (%(c)s::text IS NULL OR m.material_code = %(c)s)"
        " AND (%(pr)s::bigint IS NULL OR m.project_id = %(pr)s)"
        " AND (%(p)s::text IS NULL OR m.purpose = %(p)s)"
        " AND (%(all)s OR m.valid_until IS NULL OR m.valid_until >= %(today)s)",
        {"o": org_id, "c": material_code, "pr": project_id, "p": purpose, "all": include_expired,
         "today": today},
        "m.material_code, m.project_id NULLS LAST, m.id",
    )  # fmt: skip


def offers(
    conn: Connection[Any], org_id: int, project_id: int, codes: Iterable[str], today: date
) -> dict[str, list[Material]]:
    """For each checklist code, the unit's current application materials that may be attached: this
    project's or org-wide, not expired (``valid_until`` NULL or ≥ ``today``); the project's first."""
    wanted = sorted(set(codes))
    out: dict[str, list[Material]] = {code: [] for code in wanted}
    if not wanted:
        return out
    found = _rows(
        conn,
        "m.owner_org_id = %(o)s AND m.purpose = 'application' AND m.superseded_at IS NULL"
        " AND m.material_code = ANY(%(codes)s) AND (m.project_id = %(pr)s OR m.project_id IS NULL)"
        " AND (m.valid_until IS NULL OR m.valid_until >= %(today)s)",
        {"o": org_id, "codes": wanted, "pr": project_id, "today": today},
        "m.material_code, m.project_id NULLS LAST, m.uploaded_at DESC, m.id DESC",
    )
    for material in found:
        out[material.material_code].append(material)
    return out


# --- storing -------------------------------------------------------------------------------------------


@dataclass
class _Placement:
    new_blob: bool = False
    placed: bool = False


def _lock(conn: Connection[Any], key: str) -> None:
    conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (key,))


def _actor_name(conn: Connection[Any], actor: Actor) -> str:
    if actor.user_id is None:
        return actor.username
    row = conn.execute(
        "SELECT coalesce(nullif(display_name, ''), username) FROM auth.user WHERE id = %s", (actor.user_id,)
    ).fetchone()
    return str(row[0]) if row else actor.username


def _insert_version(
    conn: Connection[Any],
    store: BlobStore,
    actor: Actor,
    org_id: int,
    staged: Staged,
    purpose: str,
    code: str,
    project_id: int | None,
    valid_until: date | None,
    placement: _Placement,
) -> Material:
    """The transaction's body (see the module docstring for the order)."""
    slot = f"duogui.material.slot:{org_id}:{purpose}:{code}:{project_id or 0}"
    _lock(conn, slot)
    _lock(conn, f"duogui.material.blob:{staged.sha256}")
    inserted = conn.execute(
        "INSERT INTO material.blob (sha256, size, media_type) VALUES (%s, %s, %s)"
        " ON CONFLICT (sha256) DO NOTHING RETURNING sha256",
        (staged.sha256, staged.size, staged.media_type),
    ).fetchone()
    placement.new_blob = inserted is not None
    current = conn.execute(
        "SELECT id, version, file_name, sha256 FROM material.material WHERE owner_org_id = %s"
        " AND purpose = %s AND material_code = %s AND coalesce(project_id, 0) = %s"
        " AND superseded_at IS NULL",
        (org_id, purpose, code, project_id or 0),
    ).fetchone()
    if current is not None:
        conn.execute("UPDATE material.material SET superseded_at = now() WHERE id = %s", (current[0],))
    row = conn.execute(
        "INSERT INTO material.material (owner_org_id, project_id, purpose, material_code, file_name, sha256,"
        " media_type, size, version, supersedes_id, valid_until, uploaded_by, uploaded_by_name)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING id",
        (
            org_id,
            project_id,
            purpose,
            code,
            staged.file_name,
            staged.sha256,
            staged.media_type,
            staged.size,
            1 if current is None else current[1] + 1,
            None if current is None else current[0],
            valid_until,
            actor.user_id,
            _actor_name(conn, actor),
        ),
    ).fetchone()
    assert row is not None
    material_id = int(row[0])
    record(
        conn,
        actor,
        "material.store",
        "material",
        material_id,
        before=None if current is None else {"id": current[0], "version": current[1], "file_name": current[2],
                                             "sha256": current[3]},
        after={"owner_org_id": org_id, "project_id": project_id, "purpose": purpose, "material_code": code,
               "file_name": staged.file_name, "sha256": staged.sha256, "size": staged.size,
               "media_type": staged.media_type, "version": 1 if current is None else current[1] + 1,
               "valid_until": valid_until.isoformat() if valid_until else None},
    )  # fmt: skip
    # The file is in the store before the rows commit: a committed row always has its bytes.
    if store.places_in_transaction:
        if placement.new_blob or not store.exists(staged.sha256):
            placement.placed = True  # before: a put failing halfway may have left the file
            store.put(staged.path, staged.sha256)
    elif staged.ahead != "new" and not store.exists(staged.sha256):
        # Uploaded ahead as "already there": a sweep may have removed that (old, then unreferenced)
        # object before this transaction took the blob's lock. Rare; the bytes are still staged.
        store.put(staged.path, staged.sha256)
    found = fetch(conn, material_id)
    assert found is not None
    return found


def _remove_unreferenced(conn: Connection[Any], store: BlobStore, sha256: str) -> None:
    """After a failed transaction that placed a new blob: remove the file unless a row names it now."""
    try:
        with conn.transaction():
            _lock(conn, f"duogui.material.blob:{sha256}")
            if conn.execute("SELECT 1 FROM material.blob WHERE sha256 = %s", (sha256,)).fetchone() is None:
                store.delete(sha256)
    except Exception:  # the connection may be gone: the file is then an orphan (no row), never served
        log.exception("materials: could not check the orphan blob %s", sha256)


def upload_ahead(store: BlobStore, staged: Staged) -> None:
    """For a store that uploads outside the transaction (S3): send the staged file now, holding no
    connection (call it in a worker thread before taking one). Nothing for the local store, and nothing
    when already done for this upload."""
    if store.places_in_transaction or staged.ahead is not None:
        return
    staged.ahead = "new" if store.put(staged.path, staged.sha256) else "existing"


def store_staged(
    conn: Connection[Any],
    store: BlobStore,
    actor: Actor,
    org_id: int,
    staged: Staged,
    *,
    purpose: str,
    code: str,
    project_id: int | None,
    valid_until: date | None = None,
) -> Material:
    """Store a guarded upload as the next version of its slot (one transaction, audited).

    On any failure no row remains and the temporary file is removed; a blob the local store placed is
    removed again (an S3 object uploaded ahead is left for the sweep, see the module docstring). The
    caller has checked that ``actor`` may store into this slot. For S3 the upload happens here when the
    caller did not call :func:`upload_ahead` first (then while holding the connection: call it first).
    """
    placement = _Placement()
    try:
        upload_ahead(store, staged)
        with conn.transaction():
            material = _insert_version(
                conn, store, actor, org_id, staged, purpose, code, project_id, valid_until, placement
            )
        return material
    except BaseException:
        if placement.placed:
            _remove_unreferenced(conn, store, staged.sha256)
        raise
    finally:
        staged.discard()


def store_upload(
    conn: Connection[Any],
    store: BlobStore,
    grant: Grant,
    staged: Staged,
    *,
    purpose: str,
    code: str,
    project_id: int | None,
    valid_until: date | None = None,
) -> Material:
    """An upload (already staged and guarded by :func:`app.materials.guards.stage_stream`, without a
    connection) stored into the caller's organisation's library; see :func:`store_staged`."""
    return store_staged(
        conn,
        store,
        grant.actor,
        grant.principal.org_id,
        staged,
        purpose=purpose,
        code=code,
        project_id=project_id,
        valid_until=valid_until,
    )


def store_generated(
    conn: Connection[Any],
    actor: Actor,
    org_id: int,
    project_id: int | None,
    purpose: str,
    code: str,
    file_name: str,
    data: bytes,
    media_type: str,
    *,
    store: BlobStore | None = None,
) -> Material:
    """A document the service made (joint-review minutes) stored like an upload, as the next version of
    (``org_id``, ``purpose``, ``code``, ``project_id``), in the serving application's store unless one is
    given. Runs inside the caller's transaction if any (a later rollback of the caller then leaves at most
    an unreferenced file, never a row without its file). Call it after the CPU work (rendering) is done."""
    store = store or current_store()
    staged = stage_bytes(store, data, file_name, media_type)
    return store_staged(conn, store, actor, org_id, staged, purpose=purpose, code=code, project_id=project_id)


# --- checklist types -----------------------------------------------------------------------------------


@cache
def template_types(folders: tuple[Path, ...] = TEMPLATE_FILES) -> dict[str, frozenset[str]]:
    """Accepted types per material code, from the ``materials:`` lists of the project templates (the union
    when several templates list the same code)."""
    found: dict[str, set[str]] = {}
    for folder in folders:
        for path in sorted(folder.glob("*.yaml")):
            try:
                doc = yaml.safe_load(path.read_text(encoding="utf-8"))
            except (OSError, yaml.YAMLError):
                continue
            entries = doc.get("materials") if isinstance(doc, dict) else None
            for entry in entries if isinstance(entries, list) else []:
                if isinstance(entry, dict) and isinstance(entry.get("code"), str):
                    types = entry.get("types")
                    if isinstance(types, list):
                        found.setdefault(entry["code"], set()).update(str(t) for t in types)
    return {code: frozenset(types) for code, types in found.items()}


def allowed_types(code: str) -> set[str] | None:
    """The file types the checklists accept for ``code`` (None: the code is in no checklist, any type)."""
    types = template_types().get(code)
    return set(types) if types else None
