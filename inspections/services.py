"""Plans, generation of due inspections, and the one definition of overdue and due soon.

Services add to the session and never commit: the caller (CLI, view, scheduled job) commits
the unit of work once.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import date, timedelta
from typing import Any, NamedTuple

from sqlalchemy import ColumnElement, Select, Table, and_, delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.dml import Insert

from assets.models import Asset, AssetStatus
from assets.services import grid_and_children
from core.clock import district_today
from core.extensions import db
from core.types import utcnow
from inspections.cadence import occurrences
from inspections.models import Inspection, InspectionPlan, InspectionStatus

DEFAULT_HORIZON_DAYS = 90
DUE_SOON_DAYS = 7
INSERT_BATCH_SIZE = 5000


class Regeneration(NamedTuple):
    removed: int
    created: int


# --- The one definition of overdue and due soon (Python and SQL agree) -------------------


def _today(today: date | None) -> date:
    return district_today() if today is None else today


def is_overdue(inspection: Inspection, today: date | None = None) -> bool:
    """Scheduled and due before today in the district's time zone."""
    return inspection.status == InspectionStatus.SCHEDULED and inspection.due_on < _today(today)


def is_due_soon(inspection: Inspection, today: date | None = None) -> bool:
    """Scheduled and due between today and today + 7 days (both included)."""
    today = _today(today)
    return (
        inspection.status == InspectionStatus.SCHEDULED
        and today <= inspection.due_on <= today + timedelta(days=DUE_SOON_DAYS)
    )


def overdue_clause(today: date | None = None) -> ColumnElement[bool]:
    return and_(
        Inspection.status == InspectionStatus.SCHEDULED,
        Inspection.due_on < _today(today),
    )


def due_soon_clause(today: date | None = None) -> ColumnElement[bool]:
    today = _today(today)
    return and_(
        Inspection.status == InspectionStatus.SCHEDULED,
        Inspection.due_on >= today,
        Inspection.due_on <= today + timedelta(days=DUE_SOON_DAYS),
    )


def derived_status(inspection: Inspection, today: date | None = None) -> str:
    """'overdue', 'due_soon', 'scheduled', 'completed' or 'cancelled'."""
    today = _today(today)
    if is_overdue(inspection, today):
        return "overdue"
    if is_due_soon(inspection, today):
        return "due_soon"
    return str(inspection.status)


# --- Which assets a plan covers ------------------------------------------------------------


def plan_assets(plan: InspectionPlan) -> Select:
    """The non-retired assets matching every filter the plan sets (kind, grid, code list)."""
    query = select(Asset).where(Asset.status != AssetStatus.RETIRED)
    if plan.asset_kind is not None:
        query = query.where(Asset.kind == plan.asset_kind)
    if plan.grid_id is not None:
        query = query.where(Asset.grid_id.in_(grid_and_children(plan.grid_id)))
    if plan.asset_codes is not None:
        query = query.where(Asset.code.in_(plan.asset_codes))
    return query.order_by(Asset.id)


# --- Generation ----------------------------------------------------------------------------


def insert_ignoring_duplicates(table: Table) -> Insert:
    """``INSERT … ON CONFLICT DO NOTHING`` for the session's backend.

    The only dialect check here; it belongs beside core.spatial's if another package needs it.
    """
    dialect = postgresql if db.session.get_bind().dialect.name == "postgresql" else sqlite
    return dialect.insert(table).on_conflict_do_nothing()


def _batches(rows: list[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


def _existing_keys(plan: InspectionPlan, first: date, last: date) -> set[tuple[int, date]]:
    query = select(Inspection.asset_id, Inspection.due_on).where(
        Inspection.plan_id == plan.id, Inspection.due_on.between(first, last)
    )
    return {(asset_id, due_on) for asset_id, due_on in db.session.execute(query)}


def generate_for_plan(
    plan: InspectionPlan, today: date | None = None, horizon_days: int = DEFAULT_HORIZON_DAYS
) -> int:
    """Create the plan's missing scheduled inspections due in [today, today + horizon].

    Rows already present are skipped up front (cheap second runs); the insert still ignores
    conflicts, so a second process generating at the same time creates nothing twice.
    Returns how many rows this call inserted.
    """
    if not plan.active:
        return 0
    today = _today(today)
    last = today + timedelta(days=horizon_days)
    dates = occurrences(
        plan.start_on, plan.cadence_unit, plan.cadence_every, today, last, plan.end_on
    )
    if not dates:
        return 0
    asset_ids = db.session.scalars(plan_assets(plan).with_only_columns(Asset.id)).all()
    existing = _existing_keys(plan, dates[0], dates[-1])
    created_at = utcnow()
    rows = [
        {
            "plan_id": plan.id,
            "asset_id": asset_id,
            "contractor_id": plan.contractor_id,
            "due_on": due_on,
            "status": InspectionStatus.SCHEDULED.value,
            "created_at": created_at,
        }
        for asset_id in asset_ids
        for due_on in dates
        if (asset_id, due_on) not in existing
    ]
    return _insert_new(rows)


def _insert_new(rows: Iterable[dict[str, Any]]) -> int:
    rows = list(rows)
    if not rows:
        return 0
    statement = insert_ignoring_duplicates(Inspection.__table__).returning(
        Inspection.__table__.c.id
    )
    created = 0
    for batch in _batches(rows, INSERT_BATCH_SIZE):
        created += len(db.session.execute(statement, batch).all())
    return created


def active_plans() -> list[InspectionPlan]:
    query = select(InspectionPlan).where(InspectionPlan.active.is_(True))
    return list(db.session.scalars(query.order_by(InspectionPlan.id)))


def generate_inspections(
    today: date | None = None, horizon_days: int = DEFAULT_HORIZON_DAYS
) -> int:
    """Every active plan's due inspections over the rolling horizon; idempotent.

    ``today`` defaults to the district's today. Returns how many inspections were created.
    The caller commits.
    """
    today = _today(today)
    return sum(generate_for_plan(plan, today, horizon_days) for plan in active_plans())


def regenerate_plan(
    plan: InspectionPlan, today: date | None = None, horizon_days: int = DEFAULT_HORIZON_DAYS
) -> Regeneration:
    """After a plan edit: drop its future, scheduled, not-started inspections and generate
    again. Past, completed and cancelled inspections are kept as they are."""
    today = _today(today)
    db.session.flush()
    removed = db.session.execute(
        delete(Inspection)
        .where(
            Inspection.plan_id == plan.id,
            Inspection.status == InspectionStatus.SCHEDULED,
            Inspection.completed_at.is_(None),
            Inspection.due_on >= today,
        )
        .execution_options(synchronize_session=False)
    ).rowcount
    created = generate_for_plan(plan, today, horizon_days)
    return Regeneration(removed=removed, created=created)
