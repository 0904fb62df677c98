"""The project-local PostgreSQL/PostGIS cluster under ``.data/postgres`` (the embedded default).

The cluster listens only on a Unix socket in a directory that only its OS user can enter, so
``trust`` authentication on that socket is safe; no TCP port is opened. When the command runs as
root, the server runs as the unprivileged ``postgres`` OS user (PostgreSQL refuses to run as root).
WAL archiving for point-in-time recovery is configured in ``duogui.conf`` (rewritten at every start) and
copies segments into ``.data/wal-archive`` once a base backup exists (``app/backup/pitr.py``).
"""

from __future__ import annotations

import hashlib
import os
import pwd
import shlex
import shutil
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo

OWNER_ROLE = "duogui"
PG_MAJOR = 15
PG_BIN = Path(f"/usr/lib/postgresql/{PG_MAJOR}/bin")
UNPRIVILEGED_OS_USER = "postgres"
# sun_path is 108 bytes; leave room for "/.s.PGSQL.NNNNN".
_MAX_SOCKET_DIR = 90
# The server settings duogui owns live in their own file, included from postgresql.conf, so that an
# existing cluster gets them without anyone editing postgresql.conf by hand.
DUOGUI_CONF = "duogui.conf"
CONF_INCLUDE = f"include_if_exists = '{DUOGUI_CONF}'"
# Segments are archived only once this marker exists (the first base backup writes it): WAL older than
# every base backup can never be replayed, and the test suite would otherwise fill the disk with it.
ARCHIVE_MARKER = ".archiving"
_ARCHIVE_SCRIPT = """#!/bin/sh
# duogui: archive_command of the local cluster (written by app/localdb.py; edits are overwritten).
# Copies one WAL segment into the archive atomically; refuses to overwrite a different file.
set -eu
src="$1"; name="$2"; dir={archive}
[ -e "$dir/{marker}" ] || exit 0
if [ -e "$dir/$name" ]; then
  cmp -s "$src" "$dir/$name" && exit 0
  echo "duogui: $dir/$name exists with different content; not overwritten" >&2
  exit 1
fi
cp "$src" "$dir/.$name.partial"
sync "$dir/.$name.partial"
mv "$dir/.$name.partial" "$dir/$name"
"""


class LocalClusterError(RuntimeError):
    """The local cluster could not be prepared; the message says what to do."""


class LocalCluster:
    """Initialise, start, stop and address the project-local cluster."""

    def __init__(self, data_dir: Path, port: int) -> None:
        self.data_dir = data_dir.resolve()
        self.pgdata = self.data_dir / "postgres"
        self.port = port
        self.log_file = self.data_dir / "postgres.log"
        self.wal_archive = self.data_dir / "wal-archive"
        self.archive_script = self.data_dir / "archive-wal.sh"

    # -- addressing ---------------------------------------------------------------------------

    @property
    def socket_dir(self) -> Path:
        """Socket directory under ``.data/``, or a short private one when that path is too long."""
        preferred = self.data_dir / "run"
        if len(str(preferred)) <= _MAX_SOCKET_DIR:
            return preferred
        digest = hashlib.sha1(str(self.data_dir).encode()).hexdigest()[:12]
        return Path(tempfile.gettempdir()) / f"duogui-{digest}"

    def dsn(self, user: str = OWNER_ROLE, dbname: str = "duogui") -> str:
        """Connection string for ``user`` on ``dbname`` through the private socket."""
        return make_conninfo(host=str(self.socket_dir), port=self.port, user=user, dbname=dbname)

    # -- state ----------------------------------------------------------------------------------

    @property
    def os_user(self) -> str:
        """OS user that owns and runs the cluster."""
        if os.geteuid() == 0:
            return UNPRIVILEGED_OS_USER
        return pwd.getpwuid(os.geteuid()).pw_name

    def is_initialised(self) -> bool:
        """Whether ``initdb`` has run."""
        return (self.pgdata / "PG_VERSION").exists()

    def is_running(self) -> bool:
        """Whether the server answers on its socket."""
        if not self.is_initialised():
            return False
        result = self._run([str(PG_BIN / "pg_ctl"), "-D", str(self.pgdata), "status"], check=False)
        return result.returncode == 0

    # -- lifecycle ------------------------------------------------------------------------------

    def ensure_running(self, *, quiet: bool = False) -> None:
        """Initialise the cluster when new, start it when stopped; idempotent."""
        self._check_binaries()
        self.prepare_dirs()
        if not self.is_initialised():
            self._say(f"initialising the local PostGIS cluster in {self.pgdata}", quiet)
            self._initdb()
        changed = self.configure_archiving()
        if not self.is_running():
            self._say(f"starting the local cluster (socket {self.socket_dir}, port {self.port})", quiet)
            self.start()
        elif changed:
            self._reload_archiving(quiet)

    def configure_archiving(self, recovery: str = "") -> bool:
        """Write the archive script and ``duogui.conf`` (plus ``recovery`` settings); return whether the
        configuration changed."""
        self.wal_archive.mkdir(parents=True, exist_ok=True)
        self.wal_archive.chmod(0o700)
        self.own(self.wal_archive)
        script = _ARCHIVE_SCRIPT.format(archive=shlex.quote(str(self.wal_archive)), marker=ARCHIVE_MARKER)
        if not self.archive_script.exists() or self.archive_script.read_text(encoding="utf-8") != script:
            _replace_file(self.archive_script, script, 0o755)
        command = f"{shlex.quote(str(self.archive_script))} %p %f"
        conf = (
            "# Written by duogui (app/localdb.py) at every start; edits here are overwritten.\n"
            "wal_level = replica\n"
            "archive_mode = on\n"
            f"archive_command = {conf_quote(command)}\n" + recovery
        )
        path = self.pgdata / DUOGUI_CONF
        old = path.read_text(encoding="utf-8") if path.exists() else None
        if old != conf:
            _replace_file(path, conf, 0o600)
            self.own(path)
        main_conf = self.pgdata / "postgresql.conf"
        if CONF_INCLUDE not in main_conf.read_text(encoding="utf-8"):
            with main_conf.open("a", encoding="utf-8") as fh:
                fh.write(f"\n# duogui: settings duogui owns (WAL archiving)\n{CONF_INCLUDE}\n")
        return old != conf

    def _reload_archiving(self, quiet: bool) -> None:
        """Apply a changed archive_command now; archive_mode itself needs a restart, which is not ours to
        force on a cluster other people may be using."""
        with psycopg.connect(self.dsn(dbname="postgres"), autocommit=True) as conn:
            conn.execute("SELECT pg_reload_conf()")
            row = conn.execute("SHOW archive_mode").fetchone()
        if row is not None and row[0] == "off":
            self._say(
                "WAL archiving is configured but starts only after a restart: "
                "`duogui local stop && duogui local start`",
                quiet,
            )

    def stop(self) -> bool:
        """Stop the server if it runs; return whether it was running."""
        if not self.is_running():
            return False
        self._run([str(PG_BIN / "pg_ctl"), "-D", str(self.pgdata), "-m", "fast", "-w", "stop"])
        return True

    def ensure_database(self, dbname: str, app_role: str) -> None:
        """Create the app login role and ``dbname`` with PostGIS when missing."""
        with psycopg.connect(self.dsn(dbname="postgres"), autocommit=True) as conn:
            exists = conn.execute(
                "SELECT rolcanlogin AND NOT rolsuper AND NOT rolcreatedb AND NOT rolcreaterole"
                " FROM pg_roles WHERE rolname = %s",
                (app_role,),
            ).fetchone()
            verb = "ALTER" if exists else "CREATE"
            if not exists or not exists[0]:
                conn.execute(
                    sql.SQL(verb + " ROLE {} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE").format(
                        sql.Identifier(app_role)
                    )
                )
            found = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (dbname,)).fetchone()
            if not found:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname)))

    # -- internals ------------------------------------------------------------------------------

    def own(self, path: Path) -> None:
        """Give a file or folder the server needs to the server's OS user (when running as root)."""
        if os.geteuid() == 0:
            entry = pwd.getpwnam(UNPRIVILEGED_OS_USER)
            os.chown(path, entry.pw_uid, entry.pw_gid)

    def _check_binaries(self) -> None:
        if not (PG_BIN / "initdb").exists():
            raise LocalClusterError(
                f"PostgreSQL {PG_MAJOR} is not installed. Install it with: "
                f"sudo apt-get install postgresql-{PG_MAJOR} postgresql-{PG_MAJOR}-postgis-3 "
                f"postgresql-{PG_MAJOR}-pgrouting "
                "(or run `make run`, which installs it when it can)."
            )
        control = Path(f"/usr/share/postgresql/{PG_MAJOR}/extension/postgis.control")
        if not control.exists():
            raise LocalClusterError(
                "PostGIS is not installed. Install it with: "
                f"sudo apt-get install postgresql-{PG_MAJOR}-postgis-3"
            )
        # The facility gap analysis routes on the road network with pgRouting (migration 0016).
        if not Path(f"/usr/share/postgresql/{PG_MAJOR}/extension/pgrouting.control").exists():
            raise LocalClusterError(
                "pgRouting is not installed. Install it with: "
                f"sudo apt-get install postgresql-{PG_MAJOR}-pgrouting"
            )

    def prepare_dirs(self) -> None:
        """Create `.data/`, the cluster and socket folders with the owner and modes the server needs."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        for path in (self.pgdata, self.socket_dir):
            path.mkdir(parents=True, exist_ok=True)
            path.chmod(0o700)
        if os.geteuid() == 0:
            try:
                entry = pwd.getpwnam(UNPRIVILEGED_OS_USER)
            except KeyError as exc:
                raise LocalClusterError(
                    f"OS user '{UNPRIVILEGED_OS_USER}' is missing; reinstall postgresql-{PG_MAJOR}."
                ) from exc
            for path in (self.pgdata, self.socket_dir):
                os.chown(path, entry.pw_uid, entry.pw_gid)
            if not self.log_file.exists():
                self.log_file.touch()
            os.chown(self.log_file, entry.pw_uid, entry.pw_gid)
            self._grant_traverse(entry.pw_uid)

    def _grant_traverse(self, uid: int) -> None:
        """Let the unprivileged server user reach ``.data/`` (it needs search permission on every parent)."""
        for parent in [self.pgdata, *self.pgdata.parents]:
            st = parent.stat()
            if st.st_uid == uid or st.st_mode & stat.S_IXOTH:
                continue
            parent.chmod(st.st_mode | stat.S_IXOTH)
            print(
                f"duogui: granted search permission (o+x) on {parent} so the database user can reach .data/"
            )

    def _initdb(self) -> None:
        self._run(
            [
                str(PG_BIN / "initdb"),
                "-D",
                str(self.pgdata),
                "-U",
                OWNER_ROLE,
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                "--encoding=UTF8",
                "--locale=C.UTF-8",
            ]
        )
        conf = self.pgdata / "postgresql.conf"
        extra = (
            "\n# duogui: private Unix socket only, no TCP\n"
            "listen_addresses = ''\n"
            "unix_socket_permissions = 0700\n"
            "shared_buffers = 256MB\n"
            "work_mem = 32MB\n"
            "maintenance_work_mem = 256MB\n"
            "max_connections = 100\n"
            "log_min_duration_statement = 2000\n"
        )
        if os.geteuid() == 0:
            # The file belongs to the server user; append through it.
            self._run(["sh", "-c", f"cat >> '{conf}'"], input_text=extra)
        else:
            with conf.open("a", encoding="utf-8") as fh:
                fh.write(extra)

    def start(self) -> None:
        """Start the initialised cluster and wait until it accepts connections."""
        options = f"-p {self.port} -k '{self.socket_dir}'"
        result = self._run(
            [
                str(PG_BIN / "pg_ctl"),
                "-D",
                str(self.pgdata),
                "-l",
                str(self.log_file),
                "-o",
                options,
                "-w",
                "-t",
                "60",
                "start",
            ],
            check=False,
        )
        if result.returncode != 0:
            tail = self.log_tail()
            raise LocalClusterError(f"the local cluster did not start:\n{result.stderr}\n{tail}")
        for _ in range(50):
            try:
                with psycopg.connect(self.dsn(dbname="postgres"), connect_timeout=2):
                    return
            except psycopg.OperationalError:
                time.sleep(0.1)
        raise LocalClusterError(
            f"the local cluster started but does not accept connections.\n{self.log_tail()}"
        )

    def log_tail(self) -> str:
        """The last lines of the server log."""
        try:
            return "\n".join(self.log_file.read_text(encoding="utf-8", errors="replace").splitlines()[-20:])
        except OSError:
            return ""

    def run_as_owner(self, argv: list[str]) -> subprocess.CompletedProcess[str]:
        """Run a PostgreSQL tool as the cluster's OS user; raise with its output when it fails."""
        return self._run(argv)

    def _run(
        self, argv: list[str], *, check: bool = True, input_text: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        if os.geteuid() == 0:
            runuser = shutil.which("runuser") or "/usr/sbin/runuser"
            argv = [runuser, "-u", UNPRIVILEGED_OS_USER, "--", *argv]
        result = subprocess.run(
            argv, capture_output=True, text=True, input=input_text, cwd=tempfile.gettempdir()
        )
        if check and result.returncode != 0:
            raise LocalClusterError(f"{' '.join(argv)} failed:\n{result.stdout}\n{result.stderr}")
        return result

    @staticmethod
    def _say(message: str, quiet: bool) -> None:
        if not quiet:
            print(f"duogui: {message}", file=sys.stderr)


def _replace_file(path: Path, text: str, mode: int) -> None:
    """Write a file by renaming a complete copy over it: the server (reloading) or the archiver (running
    the script) never reads half of it while another start rewrites it."""
    staged = path.with_name(f".{path.name}.{os.getpid()}.partial")
    staged.write_text(text, encoding="utf-8")
    staged.chmod(mode)
    staged.replace(path)


def conf_quote(value: str) -> str:
    """A postgresql.conf string literal."""
    return "'" + value.replace("'", "''") + "'"
