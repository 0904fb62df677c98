"""The rule set in force is audited: every change of the rule files is recorded once, with both versions."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from psycopg import Connection

from analysis.rules.loader import RULES_DIR
from analysis.rules.model import RuleSet
from layers.audit import Actor, record


def fingerprint(directory: Path = RULES_DIR) -> str:
    """SHA-256 over the rule files (names and contents, in name order)."""
    digest = hashlib.sha256()
    for path in sorted(directory.glob("*.yaml")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def record_activation(
    conn: Connection[Any], ruleset: RuleSet, actor: Actor, directory: Path = RULES_DIR
) -> bool:
    """Audit the rule set in force if it differs from the last one recorded; True when it did."""
    current = {"version": ruleset.version, "sha256": fingerprint(directory), "rules": len(ruleset.rules)}
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(hashtext('duogui.ruleset_activation'))")
        row = conn.execute(
            "SELECT after FROM audit.event WHERE object_type = 'ruleset' AND action = 'ruleset.activate'"
            " ORDER BY id DESC LIMIT 1"
        ).fetchone()
        before = row[0] if row else None
        if before and before.get("sha256") == current["sha256"]:
            return False
        record(conn, actor, "ruleset.activate", "ruleset", ruleset.version, before=before, after=current)
    return True
