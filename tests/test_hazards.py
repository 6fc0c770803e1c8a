"""The hazard register's services: creation with defaults, the status machine, overdue."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime

import pytest
from flask_babel import force_locale
from sqlalchemy import func, select, update
from werkzeug.datastructures import FileStorage

from accounts.access import visible
from accounts.services import user_by_email
from app import create_app
from assets.models import AssetStatus
from assets.services import asset_by_code
from core import clock
from core.audit import AuditEntry
from core.extensions import db
from core.spatial import latitude_of, longitude_of
from evidence.models import Photo
from evidence.photos import PhotoError
from hazards.models import Hazard, HazardCodeCounter, HazardEvent, HazardStatus
from hazards.services import (
    HazardValidationError,
    TransitionError,
    TransitionForbidden,
    TransitionInputError,
    add_hazard_photos,
    allowed_steps,
    change_hazard_status,
    create_hazard,
    hazard_by_code,
    hazard_description,
    hazard_overdue_clause,
    is_hazard_overdue,
    may_reopen,
    may_return_for_rework,
    next_hazard_code,
    open_hazard_for_failed_inspection,
    reopen_hazard,
    return_for_rework,
    update_hazard,
)
from tests import conftest, helpers
from tests.factories import (
    INSIDE_G2_02,
    OUTSIDE_DISTRICT,
    charging_station_data,
    gen_asset,
    gen_contractor,
    gen_hazard,
    gen_inspection,
    gen_site,
    gen_user,
    png_bytes,
)

D = date.fromisoformat
FROZEN = datetime(2026, 3, 10, 4, 0, tzinfo=UTC)  # 12:00 on 10 March in Shanghai
STATUSES = [str(status) for status in HazardStatus]
LEGAL = {
    ("open", "rectifying"),
    ("open", "rectified"),
    ("rectifying", "rectified"),
    ("rectified", "verified"),
}


@pytest.fixture
def register(app, district, officer, contractor_user, frozen_clock):
    """CS-001 in G1-01 at the site Harbour Garden (Harbour Property); the officer, the Fixers
    Ltd user, and a user of another contractor. Yields inside an app context."""
    frozen_clock.set(FROZEN)
    with app.app_context():
        gen_site()
        gen_asset(charging_station_data(1, site="Harbour Garden"))
        gen_user("other@example.org", "contractor", contractor="Others Co")
        db.session.commit()
        yield


def values(**overrides):
    data = {
        "category": "flying_wire_charging",
        "severity": "general",
        "description": "Cable from a window to an e-bike",
        "longitude": INSIDE_G2_02[0],
        "latitude": INSIDE_G2_02[1],
    }
    data.update(overrides)
    return data


def after_photos(count: int = 1) -> list[FileStorage]:
    return [
        FileStorage(io.BytesIO(png_bytes()), filename=f"after-{n}.png", content_type="image/png")
        for n in range(count)
    ]


def officer_user():
    return user_by_email("officer@example.org")


def fixer():
    return user_by_email("fixer@example.org")


def written() -> tuple[int, int, int, int]:
    """(hazards, events, hazard audit entries, photos)."""
    return (
        db.session.scalar(select(func.count(Hazard.id))),
        db.session.scalar(select(func.count(HazardEvent.id))),
        db.session.scalar(
            select(func.count(AuditEntry.id)).where(AuditEntry.entity_type == "hazard")
        ),
        db.session.scalar(select(func.count(Photo.id))),
    )


def new_hazard(status: str = "open", **overrides) -> Hazard:
    hazard = create_hazard(values(**overrides), found_by=officer_user())
    hazard.status = status
    db.session.commit()
    return hazard


# --- Creating -------------------------------------------------------------------------------


def test_create_with_defaults_derives_grid_code_and_deadline(register):
    hazard = create_hazard(values(), found_by=officer_user())
    db.session.commit()
    assert hazard.code == "HZ-2026-0001"
    assert hazard.grid.code == "G2-02"
    assert hazard.found_on == D("2026-03-10")  # today in Shanghai
    assert hazard.deadline == D("2026-04-09")  # general: 30 days
    assert hazard.status == HazardStatus.OPEN
    assert hazard.found_by.email == "officer@example.org"
    assert hazard.reported_by_contractor_id is None
    major = create_hazard(values(severity="major"), found_by=officer_user())
    db.session.commit()
    assert major.code == "HZ-2026-0002"
    assert major.deadline == D("2026-03-17")  # major: 7 days


def test_deadline_defaults_are_configurable(app, register):
    app.config["HAZARD_DEADLINE_DAYS"] = {"general": 14, "major": 2}
    general = create_hazard(values(found_on="2026-03-01"), found_by=None)
    major = create_hazard(values(severity="major", found_on="2026-03-01"), found_by=None)
    assert (general.deadline, major.deadline) == (D("2026-03-15"), D("2026-03-03"))


def test_codes_are_numbered_within_the_year_of_the_finding(register):
    codes = [
        create_hazard(values(found_on=found_on), found_by=None).code
        for found_on in ("2025-12-31", "2026-01-01", "2025-12-30", "2026-03-10")
    ]
    assert codes == ["HZ-2025-0001", "HZ-2026-0001", "HZ-2025-0002", "HZ-2026-0002"]


def test_codes_keep_counting_past_9999(register):
    create_hazard(values(), found_by=None)  # makes the year's counter
    db.session.execute(update(HazardCodeCounter).values(last=9998))
    codes = [create_hazard(values(), found_by=None).code for _ in range(3)]
    assert codes == ["HZ-2026-9999", "HZ-2026-10000", "HZ-2026-10001"]


def test_a_step_from_a_status_another_request_left_is_refused(register):
    """The hazard as read says open; another request has made it rectifying since: the step
    from open is a conflict and writes nothing (the compare-and-set on the status)."""
    hazard = create_hazard(values(), found_by=None)
    db.session.commit()
    assert hazard.status == "open"  # read
    db.session.execute(
        update(Hazard).values(status="rectifying").execution_options(synchronize_session=False)
    )
    before = written()
    with pytest.raises(TransitionError, match="same moment"):
        change_hazard_status(hazard, "rectifying", officer_user())
    assert written() == before


def test_a_years_counter_starts_after_the_hazards_it_has(register):
    """Hazards written without the counter (an older database, a restore): the year's first
    new code follows the highest there is, the longest code being the latest."""
    gen_hazard("HZ-2026-0041", "general")
    gen_hazard("HZ-2026-10002", "general")
    gen_hazard("HZ-2025-0900", "general")
    assert create_hazard(values(), found_by=None).code == "HZ-2026-10003"
    assert create_hazard(values(found_on="2025-06-01"), found_by=None).code == "HZ-2025-0901"


def test_a_rolled_back_report_gives_its_number_back(app, register):
    create_hazard(values(), found_by=None)
    db.session.commit()
    create_hazard(values(), found_by=None)
    db.session.rollback()
    assert create_hazard(values(), found_by=None).code == "HZ-2026-0002"


def test_migration_0010_seeds_the_counters_from_the_hazards(backend, tmp_path):
    from flask_migrate import downgrade, upgrade

    url = conftest.migrated_database(backend, tmp_path, "_mig0010")
    app = create_app(helpers.test_config(url))
    with app.app_context():
        downgrade(revision="0009")
        for code in ("HZ-2025-0007", "HZ-2026-0041", "HZ-2026-10002", "HZ-2026-0999"):
            gen_hazard(code, "general")
        db.session.commit()
        upgrade()
        counters = db.session.execute(
            select(HazardCodeCounter.year, HazardCodeCounter.last).order_by(HazardCodeCounter.year)
        ).all()
        assert [tuple(row) for row in counters] == [(2025, 7), (2026, 10002)]
        assert next_hazard_code(date(2026, 5, 1)) == "HZ-2026-10003"
        db.session.rollback()
        downgrade(revision="0009")
        upgrade()
        db.session.remove()
        db.engine.dispose()


def test_point_site_and_responsible_company_come_from_the_asset(register):
    asset = asset_by_code("CS-001")
    hazard = create_hazard(
        values(longitude=None, latitude=None, asset_code="cs-001"), found_by=fixer()
    )
    db.session.commit()
    point = db.session.execute(
        select(longitude_of(Hazard.location), latitude_of(Hazard.location))
    ).one()
    assert point == pytest.approx((119.15, 36.715))
    assert hazard.asset_id == asset.id
    assert hazard.grid.code == "G1-01"
    assert hazard.site.name == "Harbour Garden"
    assert hazard.responsible_company.name == "Harbour Property"
    assert hazard.reported_by_contractor.name == "Fixers Ltd"


def test_a_given_point_wins_over_the_asset_point(register):
    hazard = create_hazard(values(asset_code="CS-001"), found_by=None)
    assert hazard.asset.code == "CS-001"
    assert hazard.grid.code == "G2-02"


@pytest.mark.parametrize(
    ("overrides", "fields"),
    [
        ({"found_on": "2026-03-05", "deadline": "2026-03-04"}, {"deadline"}),
        ({"deadline": "2026-03-09"}, {"deadline"}),  # found today, deadline yesterday
        ({"found_on": "2026-03-11"}, {"found_on"}),  # the future
        ({"found_on": "10/03/2026"}, {"found_on"}),
        ({"category": "arson", "severity": "huge"}, {"category", "severity"}),
        ({"description": "  "}, {"description"}),
        ({"longitude": OUTSIDE_DISTRICT[0], "latitude": OUTSIDE_DISTRICT[1]}, {"location"}),
        ({"longitude": 36.745, "latitude": 119.25}, {"latitude"}),
        ({"longitude": None, "latitude": None}, {"longitude", "latitude"}),
        ({"longitude": None, "latitude": None, "asset_code": "CS-999"}, {"asset_code"}),
        (
            {"responsible_company_id": 1, "responsible_contractor_id": 1},
            {"responsible_contractor_id"},
        ),
        ({"site_id": 999}, {"site_id"}),
    ],
)
def test_bad_input_names_the_fields_and_writes_nothing(register, overrides, fields):
    gen_contractor("Fixers Ltd")
    with pytest.raises(HazardValidationError) as raised:
        create_hazard(values(**overrides), found_by=officer_user())
    db.session.rollback()
    assert set(raised.value.errors) == fields
    assert written() == (0, 0, 0, 0)


def test_a_contractor_cannot_name_another_contractor_responsible(register):
    others = gen_contractor("Others Co")
    with pytest.raises(HazardValidationError) as raised:
        create_hazard(values(responsible_contractor_id=others.id), found_by=fixer())
    assert raised.value.errors == {"responsible_contractor_id": "Unknown."}
    own = create_hazard(values(responsible_contractor_id=fixer().contractor_id), found_by=fixer())
    assert own.responsible_contractor.name == "Fixers Ltd"
    assert own.responsible_company_id is None


def test_creating_records_the_first_event_and_an_audit_entry(register):
    hazard = create_hazard(values(), found_by=fixer())
    db.session.commit()
    (event,) = hazard.events
    assert (event.from_status, event.to_status, event.actor) == (None, "open", "fixer@example.org")
    assert event.actor_id == fixer().id
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.entity_key == hazard.code))
    assert entry.action == "create"
    assert entry.after["deadline"] == "2026-04-09"
    assert entry.after["grid_id"] == hazard.grid_id


def test_a_failed_inspection_opens_a_hazard_on_its_asset(register):
    inspection = gen_inspection("CS-001", D("2026-03-09"))
    inspection.answers = {
        "extinguisher_in_date": "fail",
        "canopy_and_wiring": "pass",
        "camera_working": "fail",
    }
    inspection.notes = "Extinguisher gone"
    inspection.completed_at = datetime(2026, 3, 9, 17, 0, tzinfo=UTC)  # 10 March in Shanghai
    hazard = open_hazard_for_failed_inspection(inspection, fixer())
    db.session.commit()
    assert hazard.category == "charger_fault"
    assert hazard.inspection_id == inspection.id
    assert hazard.asset.code == "CS-001"
    assert hazard.found_on == D("2026-03-10")
    # the keys are kept, the labels looked up when read; the notes are the description
    assert hazard.failed_items == ["extinguisher_in_date", "camera_working"]
    assert hazard.description == "Extinguisher gone"
    assert hazard_description(hazard) == (
        "Failed items: Extinguisher present and in date, Camera working\nExtinguisher gone"
    )
    with force_locale("zh"):
        assert (
            hazard_description(hazard)
            == "不合格项：灭火器在位且在有效期内、摄像头工作正常\nExtinguisher gone"
        )
    assert hazard.reported_by_contractor.name == "Fixers Ltd"


def test_a_failure_without_notes_or_failed_items_says_the_inspection_failed(register):
    inspection = gen_inspection("CS-001", D("2026-03-09"))
    inspection.answers = {"canopy_and_wiring": "pass"}
    inspection.completed_at = datetime(2026, 3, 9, 1, 0, tzinfo=UTC)
    hazard = open_hazard_for_failed_inspection(inspection, fixer())
    db.session.commit()
    assert (hazard.failed_items, hazard.description) == ([], "")
    assert hazard_description(hazard) == "Inspection failed."
    with force_locale("zh"):
        assert hazard_description(hazard) == "巡检不合格。"
    # staff may edit it and leave the description empty: the inspection says what failed
    update_hazard(hazard, {"description": "", "severity": "major"})
    assert hazard.severity == "major"
    # a hazard reported by hand still needs one
    other = create_hazard(values(), found_by=fixer())
    with pytest.raises(HazardValidationError) as refused:
        update_hazard(other, {"description": " "})
    assert "description" in refused.value.errors


# --- The status machine -----------------------------------------------------------------


@pytest.mark.parametrize("old", STATUSES)
@pytest.mark.parametrize("new", STATUSES)
def test_every_transition_is_legal_or_refused(register, old, new):
    hazard = new_hazard(old)
    events_before = len(hazard.events)
    if (old, new) in LEGAL:
        photos = after_photos() if new == "rectified" else []
        change_hazard_status(hazard, new, officer_user(), "done", photos)
        db.session.commit()
        assert hazard.status == new
        assert [e.to_status for e in hazard.events][-1] == new
        assert hazard.events[-1].from_status == old
    else:
        with pytest.raises(TransitionError) as raised:
            change_hazard_status(hazard, new, officer_user())
        assert not isinstance(raised.value, TransitionForbidden)
        db.session.rollback()
        assert db.session.get(Hazard, hazard.id).status == old
        assert len(db.session.get(Hazard, hazard.id).events) == events_before


def test_an_unknown_status_is_refused(register):
    hazard = new_hazard()
    with pytest.raises(TransitionInputError):
        change_hazard_status(hazard, "fixed", officer_user())


def test_only_an_officer_or_admin_verifies(register, admin):
    hazard = new_hazard("rectified", responsible_contractor_id=fixer().contractor_id)
    assert allowed_steps(hazard, fixer()) == []
    assert allowed_steps(hazard, officer_user()) == ["verified"]
    with pytest.raises(TransitionForbidden):
        change_hazard_status(hazard, "verified", fixer())
    db.session.rollback()
    assert db.session.get(Hazard, hazard.id).status == "rectified"
    change_hazard_status(hazard, "verified", user_by_email(admin))
    assert hazard.status == "verified"


def test_a_contractor_moves_its_own_hazards_only(register):
    mine = new_hazard(responsible_contractor_id=fixer().contractor_id)
    theirs = new_hazard()
    assert allowed_steps(mine, fixer()) == ["rectifying", "rectified"]
    assert allowed_steps(theirs, fixer()) == []
    change_hazard_status(mine, "rectifying", fixer(), "on it")
    change_hazard_status(mine, "rectified", fixer(), photos=after_photos())
    db.session.commit()
    assert mine.status == "rectified"
    with pytest.raises(TransitionForbidden):
        change_hazard_status(theirs, "rectifying", fixer())


@pytest.mark.parametrize("status", ["rectifying", "rectified", "verified"])
def test_reopen_needs_an_officer_and_a_reason(register, status):
    hazard = new_hazard(status, responsible_contractor_id=fixer().contractor_id)
    assert may_reopen(hazard, officer_user()) and not may_reopen(hazard, fixer())
    with pytest.raises(TransitionForbidden):
        reopen_hazard(hazard, fixer(), "not fixed")
    with pytest.raises(TransitionInputError) as raised:
        reopen_hazard(hazard, officer_user(), "   ")
    assert raised.value.field == "reason"
    db.session.rollback()
    assert written()[1] == 1  # only the creation event
    reopen_hazard(hazard, officer_user(), "Cable is back")
    db.session.commit()
    assert hazard.status == "open"
    event = hazard.events[-1]
    assert (event.from_status, event.to_status, event.note) == (status, "open", "Cable is back")


def test_an_open_hazard_cannot_be_reopened(register):
    hazard = new_hazard()
    assert not may_reopen(hazard, officer_user())
    with pytest.raises(TransitionError):
        reopen_hazard(hazard, officer_user(), "why not")


def test_events_record_who_and_when(register):
    hazard = new_hazard()
    change_hazard_status(hazard, "rectifying", officer_user(), "  crew sent  ")
    db.session.commit()
    event = hazard.events[-1]
    assert event.actor == "officer@example.org"
    assert event.actor_id == officer_user().id
    assert event.note == "crew sent"
    assert event.at == clock.now_utc() == FROZEN  # the district's clock, frozen here
    assert hazard.status_changed_at == event.at
    entry = db.session.scalars(
        select(AuditEntry)
        .where(AuditEntry.entity_key == hazard.code, AuditEntry.action == "status")
        .order_by(AuditEntry.id)
    ).one()
    assert entry.before == {"status": "open"}
    assert entry.after == {"status": "rectifying", "note": "crew sent"}


def test_verifying_the_last_unverified_hazard_returns_the_asset_to_service(register):
    asset = asset_by_code("CS-001")
    asset.status = AssetStatus.FAULTY
    first = new_hazard("rectified", asset_code="CS-001")
    second = new_hazard("rectifying", asset_code="CS-001")
    change_hazard_status(first, "verified", officer_user())
    db.session.commit()
    assert asset_by_code("CS-001").status == "faulty"  # the second is not verified yet
    change_hazard_status(second, "rectified", officer_user(), photos=after_photos())
    change_hazard_status(second, "verified", officer_user())
    db.session.commit()
    assert asset_by_code("CS-001").status == "active"
    entry = db.session.scalar(
        select(AuditEntry).where(AuditEntry.entity_type == "asset", AuditEntry.action == "status")
    )
    assert (entry.before, entry.after) == ({"status": "faulty"}, {"status": "active"})


def test_verifying_leaves_a_retired_asset_retired(register):
    asset_by_code("CS-001").status = AssetStatus.RETIRED
    hazard = new_hazard("rectified", asset_code="CS-001")
    change_hazard_status(hazard, "verified", officer_user())
    assert asset_by_code("CS-001").status == "retired"


# --- Overdue -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("now", "overdue"),
    [
        (datetime(2026, 3, 10, 15, 59, 59, tzinfo=UTC), False),  # 23:59:59 on 10 March
        (datetime(2026, 3, 10, 16, 0, 0, tzinfo=UTC), True),  # 00:00 on 11 March
    ],
)
def test_overdue_at_the_shanghai_day_boundary(register, frozen_clock, now, overdue):
    hazard = new_hazard(found_on="2026-03-01", deadline="2026-03-10")
    verified = new_hazard("verified", found_on="2026-03-01", deadline="2026-03-01")
    frozen_clock.set(now)
    assert is_hazard_overdue(hazard) is overdue
    assert is_hazard_overdue(verified) is False
    in_sql = db.session.scalars(select(Hazard.code).where(hazard_overdue_clause())).all()
    assert in_sql == ([hazard.code] if overdue else [])


# --- Visibility, editing, photos ----------------------------------------------------------


def test_contractors_see_hazards_they_reported_or_answer_for(register):
    reported = create_hazard(values(), found_by=fixer())
    assigned = new_hazard(responsible_contractor_id=fixer().contractor_id)
    other = new_hazard()
    db.session.commit()
    seen = set(db.session.scalars(visible(fixer(), Hazard).with_only_columns(Hazard.code)))
    assert seen == {reported.code, assigned.code}
    assert hazard_by_code(other.code, fixer()) is None
    assert hazard_by_code(other.code.lower(), officer_user()) is other
    other_user = user_by_email("other@example.org")
    assert db.session.scalars(visible(other_user, Hazard)).all() == []


def test_update_checks_the_deadline_and_audits_changes(register):
    hazard = new_hazard(found_on="2026-03-05")
    audits = written()[2]
    with pytest.raises(HazardValidationError) as raised:
        update_hazard(hazard, {"deadline": "2026-03-04", "severity": "major"})
    assert set(raised.value.errors) == {"deadline"}
    db.session.rollback()
    assert (hazard.deadline, hazard.severity, written()[2]) == (D("2026-04-04"), "general", audits)
    update_hazard(
        hazard,
        {"deadline": "2026-03-05", "severity": "major", "responsible_contractor_id": "1"},
    )
    db.session.commit()
    assert (hazard.deadline, hazard.severity) == (D("2026-03-05"), "major")
    entry = db.session.scalars(
        select(AuditEntry).where(
            AuditEntry.action == "update", AuditEntry.entity_key == hazard.code
        )
    ).one()
    assert entry.after["deadline"] == "2026-03-05"
    assert entry.before["severity"] == "general"


def test_photos_must_be_images(register):
    hazard = new_hazard()
    before = written()
    text = FileStorage(stream=io.BytesIO(b"not an image"), filename="x.png")
    good = FileStorage(stream=io.BytesIO(png_bytes()), filename="ok.png")
    with pytest.raises(PhotoError):
        add_hazard_photos(hazard, [good, text], "before", officer_user())
    db.session.rollback()
    assert written() == before
    good.stream.seek(0)
    (photo,) = add_hazard_photos(hazard, [good], "after", officer_user())
    db.session.commit()
    assert (photo.stage, photo.content_type, photo.hazard_id) == ("after", "image/png", hazard.id)


# --- Evidence: after photos and returning for rework ----------------------------------------


@pytest.mark.parametrize("old", ["open", "rectifying"])
def test_rectified_needs_an_after_photo_and_writes_nothing_without_one(register, old):
    hazard = new_hazard(old, responsible_contractor_id=fixer().contractor_id)
    db.session.commit()
    before = written()
    with pytest.raises(TransitionInputError) as raised:
        change_hazard_status(hazard, "rectified", fixer(), "done")
    assert raised.value.field == "photos"
    db.session.rollback()
    bad = FileStorage(io.BytesIO(b"not an image"), filename="a.png", content_type="image/png")
    with pytest.raises(PhotoError):
        change_hazard_status(hazard, "rectified", fixer(), "done", [bad])
    db.session.rollback()
    assert written() == before and db.session.get(Hazard, hazard.id).status == old
    change_hazard_status(hazard, "rectified", fixer(), "done", after_photos(2))
    db.session.commit()
    photos = db.session.scalars(select(Photo).where(Photo.hazard_id == hazard.id)).all()
    assert [(photo.stage, photo.uploaded_by_id) for photo in photos] == [("after", fixer().id)] * 2


def test_after_photos_added_since_the_last_step_count(register, frozen_clock):
    hazard = new_hazard("rectifying", responsible_contractor_id=fixer().contractor_id)
    add_hazard_photos(hazard, after_photos(), "after", fixer())
    change_hazard_status(hazard, "rectified", fixer())
    db.session.commit()
    assert hazard.status == "rectified"


def test_return_for_rework_needs_an_officer_a_reason_and_a_rectified_hazard(register, frozen_clock):
    hazard = new_hazard("rectifying", responsible_contractor_id=fixer().contractor_id)
    with pytest.raises(TransitionError):
        return_for_rework(hazard, officer_user(), "not yet rectified")
    change_hazard_status(hazard, "rectified", fixer(), photos=after_photos())
    db.session.commit()
    before = written()
    assert may_return_for_rework(hazard, officer_user()) and not may_return_for_rework(
        hazard, fixer()
    )
    with pytest.raises(TransitionForbidden):
        return_for_rework(hazard, fixer(), "mine is fine")
    with pytest.raises(TransitionInputError) as raised:
        return_for_rework(hazard, officer_user(), "  ")
    assert raised.value.field == "reason"
    db.session.rollback()
    assert written() == before
    frozen_clock.set(datetime(2026, 3, 11, 4, 0, tzinfo=UTC))
    return_for_rework(hazard, officer_user(), "  Cover still loose ")
    db.session.commit()
    event = hazard.events[-1]
    assert (event.from_status, event.to_status, event.note) == (
        "rectified",
        "rectifying",
        "Cover still loose",
    )
    entry = db.session.scalars(
        select(AuditEntry)
        .where(AuditEntry.entity_key == hazard.code, AuditEntry.action == "status")
        .order_by(AuditEntry.id.desc())
    ).first()
    assert entry.before == {"status": "rectified"}
    assert entry.after["returned_for_rework"] is True
    # the first rectification's photo does not count for the second
    with pytest.raises(TransitionInputError):
        change_hazard_status(hazard, "rectified", fixer())
    db.session.rollback()
    change_hazard_status(hazard, "rectified", fixer(), photos=after_photos())
    change_hazard_status(hazard, "verified", officer_user())
    db.session.commit()
    assert hazard.status == "verified"
