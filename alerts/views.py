"""The alerts page (staff only): each week's runs, each recipient, what was sent, failures."""

from __future__ import annotations

from flask import Blueprint, abort, render_template
from flask_babel import lazy_gettext as _l
from sqlalchemy import case, func, select

from accounts.auth import staff_required
from alerts.models import AlertDelivery, AlertRun, DeliveryStatus
from alerts.services import week_monday
from core.extensions import db

bp = Blueprint("alerts", __name__, template_folder="templates", url_prefix="/alerts")

WEEKS_SHOWN = 52
RUN_STATUS_LABELS = {"running": _l("Running"), "done": _l("Done"), "skipped": _l("Skipped")}
TRIGGER_LABELS = {"schedule": _l("Scheduler"), "cli": _l("Command line")}
DELIVERY_STATUS_LABELS = {"claimed": _l("Sending"), "sent": _l("Sent"), "failed": _l("Failed")}
KIND_LABELS = {
    "district": _l("District digest"),
    "contractor": _l("Contractor"),
    "grid": _l("Grid leader"),
}


@bp.app_context_processor
def alert_labels() -> dict:
    return {
        "run_status_labels": RUN_STATUS_LABELS,
        "trigger_labels": TRIGGER_LABELS,
        "delivery_status_labels": DELIVERY_STATUS_LABELS,
        "recipient_kind_labels": KIND_LABELS,
    }


def _delivery_counts() -> dict[str, dict[str, int]]:
    """Per week: deliveries sent, failed and still being sent."""
    query = select(
        AlertDelivery.week,
        func.count(),
        func.sum(case((AlertDelivery.status == DeliveryStatus.SENT, 1), else_=0)),
        func.sum(case((AlertDelivery.status == DeliveryStatus.FAILED, 1), else_=0)),
    ).group_by(AlertDelivery.week)
    return {
        week: {"total": total, "sent": sent or 0, "failed": failed or 0}
        for week, total, sent, failed in db.session.execute(query)
    }


@bp.get("/")
@staff_required
def alert_index():
    runs = db.session.scalars(select(AlertRun).order_by(AlertRun.week.desc(), AlertRun.id)).all()
    counts = _delivery_counts()
    weeks: dict[str, list[AlertRun]] = {}
    for run in runs:
        weeks.setdefault(run.week, []).append(run)
    for week in counts:
        weeks.setdefault(week, [])
    ordered = sorted(weeks, reverse=True)[:WEEKS_SHOWN]
    rows = [{"week": week, "runs": weeks[week], "counts": counts.get(week)} for week in ordered]
    return render_template("alerts/index.html", rows=rows)


@bp.get("/<week>")
@staff_required
def alert_week(week: str):
    try:
        week_monday(week)
    except ValueError:
        abort(404)
    runs = db.session.scalars(select(AlertRun).where(AlertRun.week == week).order_by(AlertRun.id))
    deliveries = db.session.scalars(
        select(AlertDelivery)
        .where(AlertDelivery.week == week)
        .order_by(AlertDelivery.kind, AlertDelivery.scope, AlertDelivery.email)
    ).all()
    runs = runs.all()
    if not runs and not deliveries:
        abort(404)
    return render_template("alerts/week.html", week=week, runs=runs, deliveries=deliveries)


@bp.get("/deliveries/<int:delivery_id>")
@staff_required
def alert_delivery(delivery_id: int):
    delivery = db.get_or_404(AlertDelivery, delivery_id)
    return render_template("alerts/delivery.html", delivery=delivery)
