"""The weekly overdue alert, end to end: real SMTP on loopback (aiosmtpd), frozen clock."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from alerts.models import AlertDelivery, AlertRun, AlertRunStatus, DeliveryStatus
from alerts.services import (
    OverdueInspection,
    OverdueSnapshot,
    iso_week,
    retry_unsent,
    send_weekly,
)
from app import create_app
from core import clock
from core.extensions import db
from inspections.models import Inspection, InspectionStatus
from tests import factories
from tests.factories import gen_alert_district
from tests.helpers import (
    ALERT_BASE_URL,
    SmtpServer,
    alert_config,
    free_port,
    html_of,
    text_of,
    wait_for,
)

FIRST_MONDAY = date(2026, 3, 2)  # ISO week 2026-W10
WEEKS = 8
START = datetime(2026, 3, 1, tzinfo=UTC)


@pytest.fixture
def frozen(frozen_clock):
    frozen_clock.set(START)
    return frozen_clock


def monday_8am_shanghai(monday: date) -> datetime:
    # 08:00 in Asia/Shanghai is 00:00 UTC.
    return datetime(monday.year, monday.month, monday.day, tzinfo=UTC)


# --- The scenario (factories.gen_alert_district) -------------------------------------------


def expected_overdue(inspections: dict, completed: set[int], today: date) -> dict[int, dict]:
    return {
        inspection_id: row
        for inspection_id, row in inspections.items()
        if inspection_id not in completed and row["due_on"] < today
    }


def linked_inspections(message) -> set[int]:
    text = message.get_body(preferencelist=("plain",)).get_content()
    return {int(found) for found in re.findall(r"/inspections/(\d+)\b", text)}


# --- Eight weeks ---------------------------------------------------------------------------


def test_eight_weeks_one_email_per_recipient_with_exactly_the_overdue_rows(alert_app, smtp, frozen):
    from alerts.jobs import JOB_WEEKLY_ALERT
    from core.scheduler import run_job

    with alert_app.app_context():
        inspections = gen_alert_district()
    completed: set[int] = set()
    previous_total = None
    for week_index in range(WEEKS):
        monday = FIRST_MONDAY + timedelta(weeks=week_index)
        frozen.set(monday_8am_shanghai(monday))
        # Between runs, the contractors complete the oldest two overdue inspections.
        overdue_now = expected_overdue(inspections, completed, monday)
        with alert_app.app_context():
            for inspection_id in sorted(overdue_now, key=lambda i: inspections[i]["due_on"])[:2]:
                record = db.session.get(Inspection, inspection_id)
                record.status = InspectionStatus.COMPLETED
                record.result = "pass"
                record.completed_at = clock.now_utc()
                completed.add(inspection_id)
            db.session.commit()
        smtp.inbox.clear()
        run_job(alert_app, JOB_WEEKLY_ALERT)
        run_job(alert_app, JOB_WEEKLY_ALERT)  # a second scheduler firing in the same week: none
        expected = expected_overdue(inspections, completed, monday)
        fixers = {i for i, row in expected.items() if row["contractor"] == "Fixers Ltd"}
        bluefire = {i for i, row in expected.items() if row["contractor"] == "Blue Fire Co"}
        g101 = {i for i, row in expected.items() if row["grid"] == "G1-01"}
        g202 = {i for i, row in expected.items() if row["grid"] == "G2-02"}
        hazard_overdue = monday > date(2026, 3, 10)
        wanted = {
            "officer@example.org": set(expected),
            "admin@example.org": set(expected),
            "office@fixers.example": fixers,
            "fixer@example.org": fixers,
            "desk@bluefire.example": bluefire,
            "leader.g101@example.org": g101,
            "leader.g1@example.org": g101,
            "leader.g202@example.org": g202,
        }
        wanted = {
            address: ids
            for address, ids in wanted.items()
            if ids or (hazard_overdue and address.startswith(("officer", "admin", "leader.g1")))
        }
        assert smtp.inbox.count() == len(wanted), (monday, smtp.inbox.count(), wanted)
        for address, ids in wanted.items():
            messages = smtp.inbox.to(address)
            assert len(messages) == 1, (monday, address)
            assert linked_inspections(messages[0]) == ids, (monday, address)
            assert html_of(messages[0]).count('class="overdue-row"') == len(ids)
            assert iso_week(monday) in messages[0]["Subject"]
            assert messages[0]["Message-ID"].startswith(f"<alerts.{iso_week(monday)}.")
        digest = smtp.inbox.to("officer@example.org")[0]
        assert ("HZ-2026-0001" in text_of(digest)) == hazard_overdue
        assert "HZ-2026-0001" not in text_of(smtp.inbox.to("office@fixers.example")[0])
        if previous_total is not None:
            assert f"{previous_total} -> {len(expected)}" in text_of(digest)
        previous_total = len(expected)
        assert f"{ALERT_BASE_URL}/inspections/" in text_of(digest)
        assert "Exit &lt;blocked&gt; by bikes" in html_of(digest) or not hazard_overdue
    with alert_app.app_context():
        runs = db.session.scalars(select(AlertRun).order_by(AlertRun.week)).all()
        assert [run.week for run in runs] == [
            iso_week(FIRST_MONDAY + timedelta(weeks=i)) for i in range(WEEKS)
        ]
        assert {run.status for run in runs} == {"done"}
        duplicates = db.session.execute(
            select(AlertDelivery.week, AlertDelivery.recipient, func.count())
            .group_by(AlertDelivery.week, AlertDelivery.recipient)
            .having(func.count() > 1)
        ).all()
        assert duplicates == []
        assert (
            db.session.scalar(
                select(func.count()).where(AlertDelivery.status != DeliveryStatus.SENT)
            )
            == 0
        )


# --- Language, emptiness, dry run -------------------------------------------------------------


def test_each_recipient_reads_the_email_in_their_language(alert_app, smtp, frozen):
    with alert_app.app_context():
        gen_alert_district()
        frozen.set(monday_8am_shanghai(date(2026, 3, 16)))
        send_weekly()
    english = smtp.inbox.to("officer@example.org")[0]
    chinese = smtp.inbox.to("admin@example.org")[0]
    leader = smtp.inbox.to("leader.g101@example.org")[0]  # no account: the default, zh
    assert "Safety Asset Registry" in text_of(english) and "消防安全设施台账" not in html_of(
        english
    )
    assert "消防安全设施台账" in text_of(chinese) and "消防安全设施台账" in html_of(chinese)
    assert 'lang="zh-CN"' in html_of(chinese) and 'lang="en"' in html_of(english)
    assert "消防安全设施台账" in text_of(leader)
    assert linked_inspections(english) == linked_inspections(chinese)


def test_nobody_gets_an_empty_email_unless_configured(database_url, smtp, frozen):
    frozen.set(monday_8am_shanghai(date(2026, 2, 23)))  # Blue Fire Co has nothing overdue yet
    for send_empty, blue_fire_emails in ((False, 0), (True, 1)):
        app = create_app(alert_config(database_url, smtp.port, ALERT_SEND_EMPTY=send_empty))
        with app.app_context():
            if not send_empty:
                gen_alert_district()
            db.session.query(AlertDelivery).delete()
            db.session.query(AlertRun).delete()
            db.session.commit()
            smtp.inbox.clear()
            send_weekly()
            db.session.remove()
            db.engine.dispose()
        assert len(smtp.inbox.to("desk@bluefire.example")) == blue_fire_emails
        assert len(smtp.inbox.to("office@fixers.example")) == 1


def test_dry_run_prints_what_would_go_and_sends_and_writes_nothing(alert_app, smtp, frozen):
    with alert_app.app_context():
        gen_alert_district()
    frozen.set(monday_8am_shanghai(date(2026, 3, 16)))
    result = alert_app.test_cli_runner().invoke(args=["alerts", "send-weekly", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "officer@example.org" in result.output
    assert "desk@bluefire.example" in result.output
    assert "2026-W12" in result.output
    assert smtp.inbox.count() == 0
    with alert_app.app_context():
        assert db.session.scalar(select(func.count()).select_from(AlertRun)) == 0
        assert db.session.scalar(select(func.count()).select_from(AlertDelivery)) == 0


@pytest.mark.parametrize("week", ["2026-W99", "next week", "2026-13", "2026-W20"])
def test_send_weekly_refuses_a_bad_or_future_week_and_writes_nothing(alert_app, smtp, frozen, week):
    with alert_app.app_context():
        gen_alert_district()
    frozen.set(monday_8am_shanghai(date(2026, 3, 16)))
    result = alert_app.test_cli_runner().invoke(args=["alerts", "send-weekly", "--week", week])
    assert result.exit_code == 2
    assert "--week" in result.output
    assert smtp.inbox.count() == 0
    with alert_app.app_context():
        assert db.session.scalar(select(func.count()).select_from(AlertRun)) == 0


def test_cli_sends_a_past_week_once(alert_app, smtp, frozen):
    with alert_app.app_context():
        gen_alert_district()
    frozen.set(monday_8am_shanghai(date(2026, 3, 17)))
    runner = alert_app.test_cli_runner()
    first = runner.invoke(args=["alerts", "send-weekly", "--week", "2026-W11"])
    assert first.exit_code == 0, first.output
    assert "8 sent" in first.output
    again = runner.invoke(args=["alerts", "send-weekly", "--week", "2026-W11"])
    assert "0 sent" in again.output and "8 already handled" in again.output
    assert len(smtp.inbox.to("officer@example.org")) == 1
    assert "2026-W11" in smtp.inbox.to("officer@example.org")[0]["Subject"]


# --- SMTP down, then up -------------------------------------------------------------------


def test_smtp_down_then_up_delivers_everything_once(database_url, frozen):
    port = free_port()  # nothing listens here yet
    app = create_app(alert_config(database_url, port, ALERT_RETRY_BACKOFF_MINUTES=5))
    server = SmtpServer(port)
    try:
        with app.app_context():
            gen_alert_district()
            frozen.set(monday_8am_shanghai(date(2026, 3, 16)))
            from alerts.jobs import JOB_RETRY_ALERTS, JOB_WEEKLY_ALERT
            from core.scheduler import run_job

            run_job(app, JOB_WEEKLY_ALERT)
            deliveries = db.session.scalars(select(AlertDelivery)).all()
            assert len(deliveries) == 8
            assert {d.status for d in deliveries} == {"failed"}
            assert all("Connection refused" in d.last_error for d in deliveries)
            assert all(
                d.next_attempt_at == clock.now_utc() + timedelta(minutes=5) for d in deliveries
            )
            # Before the backoff is over, the retry job leaves them alone.
            run_job(app, JOB_RETRY_ALERTS)
            db.session.expire_all()
            assert db.session.scalar(select(func.count()).where(AlertDelivery.attempts > 1)) == 0

            server.start()
            frozen.set(clock.now_utc() + timedelta(minutes=6))
            run_job(app, JOB_RETRY_ALERTS)
            wait_for(lambda: server.inbox.count() == 8)
            db.session.expire_all()
            deliveries = db.session.scalars(select(AlertDelivery)).all()
            assert {d.status for d in deliveries} == {"sent"}
            assert {d.attempts for d in deliveries} == {2}
            # Later retries, a second weekly run and the CLI send nothing more.
            frozen.set(clock.now_utc() + timedelta(hours=1))
            run_job(app, JOB_RETRY_ALERTS)
            run_job(app, JOB_WEEKLY_ALERT)
            assert retry_unsent(ignore_backoff=True).sent == []
        assert server.inbox.count() == 8
        for address in ("officer@example.org", "admin@example.org", "fixer@example.org"):
            assert len(server.inbox.to(address)) == 1
    finally:
        server.stop()
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def test_a_claim_whose_sender_crashed_is_sent_after_the_lease(alert_app, smtp, frozen):
    """The documented window: a claim with no outcome is sent again after the lease."""
    with alert_app.app_context():
        gen_alert_district()
        frozen.set(monday_8am_shanghai(date(2026, 3, 16)))
        send_weekly(dry_run=False)
        delivery = db.session.scalar(
            select(AlertDelivery).where(AlertDelivery.email == "officer@example.org")
        )
        delivery.status = DeliveryStatus.CLAIMED  # as if the sender died before SMTP
        delivery.sent_at = None
        run = db.session.scalar(select(AlertRun))
        run.status, run.finished_at = AlertRunStatus.RUNNING, None
        db.session.commit()
        smtp.inbox.clear()
        assert retry_unsent().sent == []  # the lease has not run out
        frozen.set(clock.now_utc() + timedelta(minutes=31))
        assert retry_unsent().sent == ["district:officer@example.org"]
        # The run the crashed sender left running is done once its last email is.
        assert db.session.scalar(select(AlertRun.status)) == AlertRunStatus.DONE
    wait_for(lambda: smtp.inbox.count() == 1)
    assert len(smtp.inbox.to("officer@example.org")) == 1


def test_a_run_is_done_only_when_no_email_of_its_week_is_still_being_sent(alert_app, smtp, frozen):
    """A second send of the week that finds nothing left for it must not mark the run done
    while another process is still handing a claimed email to SMTP (seen with two hosts)."""
    with alert_app.app_context():
        gen_alert_district()
        frozen.set(monday_8am_shanghai(date(2026, 3, 16)))
        send_weekly(trigger="schedule")
        run = db.session.scalar(select(AlertRun))
        in_flight = db.session.scalar(
            select(AlertDelivery).where(AlertDelivery.email == "officer@example.org")
        )
        in_flight.status, in_flight.sent_at = DeliveryStatus.CLAIMED, None  # mid-send elsewhere
        run.status, run.finished_at = AlertRunStatus.RUNNING, None
        db.session.commit()

        assert send_weekly(trigger="schedule").sent == []
        db.session.refresh(run)
        assert run.status == AlertRunStatus.RUNNING and run.finished_at is None

        in_flight.status, in_flight.sent_at = DeliveryStatus.SENT, clock.now_utc()
        db.session.commit()
        send_weekly(trigger="schedule")
        db.session.refresh(run)
        assert run.status == AlertRunStatus.DONE and run.finished_at is not None


# --- The alerts page ----------------------------------------------------------------------


def test_alerts_page_shows_runs_recipients_and_failures(database_url, frozen):
    port = free_port()
    app = create_app(alert_config(database_url, port))
    client = app.test_client()
    with app.app_context():
        gen_alert_district()
        frozen.set(monday_8am_shanghai(date(2026, 3, 16)))
        send_weekly()
        delivery_id = db.session.scalar(
            select(AlertDelivery.id).where(AlertDelivery.email == "admin@example.org")
        )
    client.post("/login", data={"email": "officer@example.org", "password": factories.PASSWORD})
    index = client.get("/alerts/")
    assert index.status_code == 200
    assert b"2026-W12" in index.data
    week = client.get("/alerts/2026-W12")
    assert week.status_code == 200
    assert b"leader.g101@example.org" in week.data
    assert b"Connection refused" in week.data
    detail = client.get(f"/alerts/deliveries/{delivery_id}")
    assert detail.status_code == 200
    assert b"Week 2026-W12" in detail.data or b"2026-W12" in detail.data
    assert b"&lt;blocked&gt;" in detail.data and b"<blocked>" not in detail.data
    assert client.get("/alerts/not-a-week").status_code == 404
    assert client.get("/alerts/2020-W01").status_code == 404
    assert client.get("/alerts/deliveries/999999").status_code == 404

    contractor = app.test_client()
    contractor.post("/login", data={"email": "fixer@example.org", "password": factories.PASSWORD})
    assert contractor.get("/alerts/").status_code == 403
    assert contractor.get("/alerts/2026-W12").status_code == 403
    assert app.test_client().get("/alerts/").status_code == 302
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def overdue_row(number: int, grid_id: int | None, contractor_id: int) -> OverdueInspection:
    return OverdueInspection(
        number, f"A-{number}", "asset", grid_id, "", "", date(2026, 3, 1), 1, contractor_id, "", ""
    )


def test_a_recipients_share_keeps_the_snapshots_order():
    """Each grid's and contractor's rows are picked through an index built once (a province
    has thousands of grids): the same rows, in the same order, as going through them all."""
    rows = [overdue_row(n, grid_id=(n * 7) % 5 or None, contractor_id=n % 3) for n in range(60)]
    subtrees = {1: {1, 2, 3}, 2: {2}, 3: {3}, 4: {4}}
    snapshot = OverdueSnapshot(date(2026, 3, 16), "2026-W12", rows, [], subtrees)
    for grid_id in (1, 2, 4, 9, None):
        wanted = subtrees.get(grid_id, {grid_id})
        assert snapshot.in_grid(grid_id)[0] == [row for row in rows if row.grid_id in wanted]
    for contractor_id in (0, 1, 2, 7):
        mine = [row for row in rows if row.contractor_id == contractor_id]
        assert snapshot.of_contractor(contractor_id) == mine
    assert snapshot.in_grid(1)[0] and snapshot.of_contractor(2)
