"""Who sees residents' personal information in full, the masked view for everyone else, and the audit.

Need to know (个人信息保护法; DOMAIN.md "Security baseline"): the values of
:data:`app.demolition.personal.PERSONAL_FIELDS` are shown in full only to

- every user of the land-preparation department (organisation ``land-prep``, 土地整备局), which runs the
  district's demolition cases; and
- coordinators of the sub-district (街道) responsible for the unit (the unit's 责任街道): they work its
  households. A sub-district's coordinator sees the units of other sub-districts in the same project masked.

Everyone else who may read the ledger (administrators, planners, viewers, reviewers, project units) sees
them masked. Each request that shows unmasked values writes ONE audit event ``demolition.personal_data.read``
naming the channel (api, events, csv, xlsx, bulk…), the project and the units whose values it showed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from psycopg import Connection

from app.auth.deps import Grant
from app.auth.policy import Role
from app.demolition.models import Unit
from app.demolition.personal import PERSONAL_FIELDS, mask_field
from layers.audit import record

LAND_PREPARATION = "land-prep"
READ_ACTION = "demolition.personal_data.read"


@dataclass(frozen=True, slots=True)
class Disclosure:
    """What one caller may see in full: the whole ledger, or the units of one sub-district."""

    whole_ledger: bool
    subdistrict_id: int | None

    def full(self, unit_subdistrict_id: int | None) -> bool:
        """Whether a unit of this 责任街道 is shown to the caller in full."""
        return self.whole_ledger or (
            self.subdistrict_id is not None and unit_subdistrict_id == self.subdistrict_id
        )


def disclosure_of(conn: Connection[Any], grant: Grant) -> Disclosure:
    """The caller's need to know, from their role and organisation."""
    row = conn.execute(
        "SELECT code, kind FROM auth.organisation WHERE id = %s", (grant.principal.org_id,)
    ).fetchone()
    code, kind = row if row else (None, None)
    coordinator_of = (
        grant.principal.org_id if grant.principal.role is Role.COORDINATOR and kind == "subdistrict" else None
    )
    return Disclosure(whole_ledger=code == LAND_PREPARATION, subdistrict_id=coordinator_of)


def masked_unit(unit: Unit) -> Unit:
    """The unit as shown without the need to know."""
    return unit.model_copy(update={f: mask_field(f, getattr(unit, f)) for f in PERSONAL_FIELDS})


def masked_dict(values: dict[str, Any]) -> dict[str, Any]:
    """A unit's fields (a dict, e.g. a conflict's ``current``) with its personal values masked."""
    return {k: mask_field(k, v) for k, v in values.items()}


def has_personal(unit: Unit) -> bool:
    """Whether the unit holds any personal value at all."""
    return any(getattr(unit, f) for f in PERSONAL_FIELDS)


def audit_full_read(
    conn: Connection[Any], grant: Grant, project_id: int, unit_ids: list[int], channel: str
) -> None:
    """Record one read of unmasked personal data (nothing when no unit's values were shown)."""
    if not unit_ids:
        return
    record(
        conn,
        grant.actor,
        READ_ACTION,
        "project",
        project_id,
        after={"channel": channel, "units": sorted(set(unit_ids)), "fields": list(PERSONAL_FIELDS)},
    )


@dataclass(frozen=True, slots=True)
class ShownUnits:
    """Units as one caller sees them, and whether any unmasked personal value is among them."""

    units: list[Unit]
    personal: bool


def shown_units(
    conn: Connection[Any], grant: Grant, project_id: int, units: list[Unit], channel: str
) -> ShownUnits:
    """The units as this caller may see them; one audit event when any unmasked value is shown."""
    access = disclosure_of(conn, grant)
    shown, revealed = [], []
    for unit in units:
        if access.full(unit.subdistrict_id):
            shown.append(unit)
            if has_personal(unit):
                revealed.append(unit.id)
        else:
            shown.append(masked_unit(unit))
    audit_full_read(conn, grant, project_id, revealed, channel)
    return ShownUnits(shown, bool(revealed))


def shown_unit(conn: Connection[Any], grant: Grant, unit: Unit, channel: str = "api") -> Unit:
    """One unit as this caller may see it (audited when shown in full)."""
    return shown_units(conn, grant, unit.project_id, [unit], channel).units[0]
