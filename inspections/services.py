"""Plans, generation of due inspections, and the one definition of overdue and due soon.

Services add to the session and never commit: the caller (CLI, view, scheduled job) commits
the unit of work once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import NamedTuple

from sqlalchemy import (
    ColumnElement,
    Date,
    Integer,
    Select,
    String,
    and_,
    delete,
    func,
    literal,
    or_,
    select,
)

from accounts.models import Contractor
from assets.models import Asset, AssetStatus
from assets.services import grid_and_children
from core.clock import district_today, district_zone, now_utc
from core.extensions import db
from core.spatial import insert_ignoring_duplicates
from core.types import UTCDateTime
from inspections.cadence import occurrences
from inspections.models import Inspection, InspectionPlan, InspectionStatus

DEFAULT_HORIZON_DAYS = 90
DUE_SOON_DAYS = 7


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


def days_late(inspection: Inspection, today: date | None = None) -> int:
    """How many days an overdue inspection is past its due date (0 when it is not overdue)."""
    today = _today(today)
    return (today - inspection.due_on).days if is_overdue(inspection, today) else 0


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


def _existing_keys(plan: InspectionPlan, due_on: date) -> Select:
    """The plan's inspection of the outer query's asset due on ``due_on``, if there is one.

    Correlated to ``assets``: generation skips the assets it finds with one index probe each
    (the unique key), which keeps a second run cheap however long the plan's history is.
    """
    return select(Inspection.asset_id).where(
        Inspection.plan_id == plan.id,
        Inspection.asset_id == Asset.id,
        Inspection.due_on == due_on,
    )


GENERATED_COLUMNS = ("plan_id", "asset_id", "contractor_id", "due_on", "status", "created_at")


def _insert_new(plan: InspectionPlan, due_on: date, created_at: datetime) -> int:
    """One ``INSERT … SELECT … FROM assets``: the plan's assets lacking the inspection due on
    ``due_on`` get one. Returns how many rows the database inserted."""
    source = (
        plan_assets(plan)
        .where(Asset.id.not_in(_existing_keys(plan, due_on)))
        .with_only_columns(
            literal(plan.id, Integer),
            Asset.id,
            literal(plan.contractor_id, Integer),
            literal(due_on, Date),
            literal(InspectionStatus.SCHEDULED.value, String),
            literal(created_at, UTCDateTime()),
        )
    )
    statement = (
        insert_ignoring_duplicates(Inspection.__table__)
        .from_select(GENERATED_COLUMNS, source)
        .execution_options(preserve_rowcount=True)  # the rows inserted, conflicts not counted
    )
    return db.session.execute(statement).rowcount


def generate_for_plan(
    plan: InspectionPlan, today: date | None = None, horizon_days: int = DEFAULT_HORIZON_DAYS
) -> int:
    """Create the plan's missing scheduled inspections due in [today, today + horizon].

    The database does the work: one ``INSERT … SELECT`` over the plan's assets per due date.
    Rows already present are skipped up front (cheap second runs) and the insert still
    ignores conflicts, so a second process generating at the same time creates nothing twice
    (the unique plan/asset/due-date constraint decides). Returns how many rows were inserted.
    """
    if not plan.active:
        return 0
    db.session.flush()  # the statements below bypass the ORM's autoflush
    today = _today(today)
    last = today + timedelta(days=horizon_days)
    dates = occurrences(
        plan.start_on, plan.cadence_unit, plan.cadence_every, today, last, plan.end_on
    )
    created_at = now_utc()
    return sum(_insert_new(plan, due_on, created_at) for due_on in dates)


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


# --- What an asset's QR label prints of its inspections (its public notice) ----------------


@dataclass(frozen=True)
class InspectionSummary:
    """Who inspects an asset and when it was and will be inspected.

    ``contractors``: the contractor of the asset's next inspection; without one, the
    contractors of the plans in force that cover the asset (active, not ended, with a
    contract not ended). ``last_inspected_on``: the district date its latest inspection was
    completed. ``next_due_on``: the due date of its earliest scheduled inspection (an overdue
    one included: it is still the next to do).
    """

    contractors: tuple[Contractor, ...] = ()
    last_inspected_on: date | None = None
    next_due_on: date | None = None


def _next_inspections(asset_ids: Sequence[int]) -> dict[int, tuple[date, int]]:
    """Each asset's earliest scheduled inspection: (due date, contractor id)."""
    ranked = (
        select(
            Inspection.asset_id,
            Inspection.due_on,
            Inspection.contractor_id,
            func.row_number()
            .over(partition_by=Inspection.asset_id, order_by=(Inspection.due_on, Inspection.id))
            .label("rank"),
        )
        .where(
            Inspection.asset_id.in_(asset_ids),
            Inspection.status == InspectionStatus.SCHEDULED,
        )
        .subquery()
    )
    rows = db.session.execute(
        select(ranked.c.asset_id, ranked.c.due_on, ranked.c.contractor_id).where(ranked.c.rank == 1)
    )
    return {asset_id: (due_on, contractor_id) for asset_id, due_on, contractor_id in rows}


def _last_completed(asset_ids: Sequence[int]) -> dict[int, date]:
    """The district date of each asset's latest completed inspection."""
    rows = db.session.execute(
        select(Inspection.asset_id, func.max(Inspection.completed_at))
        .where(
            Inspection.asset_id.in_(asset_ids),
            Inspection.status == InspectionStatus.COMPLETED,
        )
        .group_by(Inspection.asset_id)
    )
    zone = district_zone()
    return {asset_id: moment.astimezone(zone).date() for asset_id, moment in rows if moment}


def plans_in_force(today: date) -> list[InspectionPlan]:
    """Active plans not ended by ``today`` whose contractor's contract has not ended."""
    query = (
        select(InspectionPlan)
        .join(InspectionPlan.contractor)
        .where(
            InspectionPlan.active.is_(True),
            or_(InspectionPlan.end_on.is_(None), InspectionPlan.end_on >= today),
            or_(Contractor.active_until.is_(None), Contractor.active_until >= today),
        )
        .order_by(InspectionPlan.id)
    )
    return list(db.session.scalars(query))


def inspection_summaries(
    asset_ids: Sequence[int], today: date | None = None
) -> dict[int, InspectionSummary]:
    """The ``InspectionSummary`` of each asset (every one of ``asset_ids`` is answered), in a
    few queries however many assets: a sheet of labels asks for up to a thousand."""
    today = _today(today)
    ids = list(asset_ids)
    if not ids:
        return {}
    upcoming = _next_inspections(ids)
    last = _last_completed(ids)
    contractor_ids: dict[int, list[int]] = {
        asset_id: [contractor_id] for asset_id, (_due, contractor_id) in upcoming.items()
    }
    without = [asset_id for asset_id in ids if asset_id not in upcoming]
    if without:
        for plan in plans_in_force(today):
            covered = plan_assets(plan).where(Asset.id.in_(without)).with_only_columns(Asset.id)
            for asset_id in db.session.scalars(covered):
                named = contractor_ids.setdefault(asset_id, [])
                if plan.contractor_id not in named:
                    named.append(plan.contractor_id)
    wanted = {contractor_id for named in contractor_ids.values() for contractor_id in named}
    contractors = {
        contractor.id: contractor
        for contractor in db.session.scalars(select(Contractor).where(Contractor.id.in_(wanted)))
    }
    return {
        asset_id: InspectionSummary(
            contractors=tuple(contractors[c] for c in contractor_ids.get(asset_id, ())),
            last_inspected_on=last.get(asset_id),
            next_due_on=upcoming[asset_id][0] if asset_id in upcoming else None,
        )
        for asset_id in ids
    }
