"""Logging inspection results (inspections.results): the rules, and bad input writing nothing."""

from __future__ import annotations

import io
import math
import os
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import func, select
from werkzeug.datastructures import FileStorage

from accounts.access import visible
from accounts.services import user_by_email
from assets.models import Asset
from assets.services import asset_by_code
from core.audit import AuditEntry
from core.extensions import db
from core.spatial import EARTH_RADIUS_M
from evidence.models import Photo
from hazards.models import Hazard, HazardStatus
from inspections.models import Inspection
from inspections.results import (
    InspectionConflictError,
    InspectionFilters,
    InspectionNotFoundError,
    InspectionValidationError,
    cancel_inspection,
    checklist_for,
    inspection_for,
    inspection_query,
    next_inspection_of,
    record_result,
)
from tests.factories import (
    CS_ITEMS,
    INSIDE_G1_01,
    blocker_data,
    charging_station_data,
    gen_asset,
    gen_inspection,
    gen_plan,
    gen_user,
    jpeg_bytes,
    png_bytes,
)

NOW = datetime(2026, 3, 10, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
METRES_PER_DEGREE_LATITUDE = EARTH_RADIUS_M * math.pi / 180


@pytest.fixture
def field(app, district, officer, contractor_user, frozen_clock):
    """CS-001 with a scheduled inspection for Fixers Ltd; a rival contractor's user."""
    frozen_clock.set(NOW)
    with app.app_context():
        gen_asset(charging_station_data(1))
        gen_user("rival@example.org", "contractor", contractor="Rivals Inc")
        inspection = gen_inspection("CS-001", date(2026, 3, 10))
        db.session.commit()
        return inspection.id


@pytest.fixture
def ctx(app, field):
    with app.app_context():
        yield


def all_pass(**changes: str) -> dict[str, str]:
    return {key: changes.get(key, "pass") for key in CS_ITEMS}


def the_inspection(inspection_id: int) -> Inspection:
    return db.session.get(Inspection, inspection_id)


def user(email: str = "fixer@example.org"):
    return user_by_email(email)


def upload(data: bytes, name: str = "photo.png", content_type: str = "image/png") -> FileStorage:
    return FileStorage(io.BytesIO(data), filename=name, content_type=content_type)


def photo_files(app) -> list[Path]:
    directory = Path(app.config["PHOTO_DIR"])
    return sorted(directory.iterdir()) if directory.exists() else []


def snapshot(app, inspection_id: int) -> dict:
    """Everything a failed attempt must leave as it was."""
    db.session.expire_all()
    inspection = the_inspection(inspection_id)
    return {
        "status": inspection.status,
        "result": inspection.result,
        "answers": inspection.answers,
        "completed_at": inspection.completed_at,
        "photos": db.session.scalar(select(func.count(Photo.id))),
        "files": photo_files(app),
        "audit": db.session.scalar(select(func.count(AuditEntry.id))),
        "hazards": db.session.scalar(select(func.count(Hazard.id))),
        "asset_status": asset_by_code("CS-001").status,
    }


def north_of_asset(metres: float) -> tuple[float, float]:
    return INSIDE_G1_01[0], INSIDE_G1_01[1] + metres / METRES_PER_DEGREE_LATITUDE


# Passing and failing


def test_a_pass_completes_the_inspection_and_is_audited(app, field, ctx):
    record_result(
        the_inspection(field),
        user(),
        {"answers": all_pass(), "result": "pass", "notes": " All good "},
        [upload(png_bytes()), upload(jpeg_bytes(), "b.jpg", "image/jpeg")],
    )
    db.session.commit()
    db.session.expire_all()
    inspection = the_inspection(field)
    assert inspection.status == "completed"
    assert inspection.result == "pass"
    assert inspection.answers == all_pass()
    assert inspection.notes == "All good"
    assert inspection.completed_at == NOW
    assert inspection.logged_at == NOW
    assert inspection.inspector.email == "fixer@example.org"
    assert inspection.distance_m is None and inspection.flagged is False
    assert [photo.content_type for photo in inspection.photos] == ["image/png", "image/jpeg"]
    assert len(photo_files(app)) == 2
    assert asset_by_code("CS-001").status == "active"
    assert db.session.scalar(select(func.count(Hazard.id))) == 0
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.entity_type == "inspection"))
    assert (entry.action, entry.entity_key, entry.actor) == ("complete", str(field), "cli")
    assert entry.before["status"] == "scheduled"
    assert entry.after["status"] == "completed"
    assert entry.after["result"] == "pass"
    assert entry.after["photos"] == 2


def test_a_failure_marks_the_asset_faulty_and_opens_a_linked_hazard(app, field, ctx):
    answers = all_pass(camera_working="fail", smoke_detector_working="na")
    record_result(
        the_inspection(field),
        user(),
        {"answers": answers, "result": "fail", "notes": "Camera dead"},
    )
    db.session.commit()
    db.session.expire_all()
    asset = asset_by_code("CS-001")
    assert asset.status == "faulty"
    hazard = db.session.scalar(select(Hazard))
    assert hazard.inspection_id == field
    assert hazard.asset_id == asset.id
    assert hazard.status == HazardStatus.OPEN
    assert hazard.category == "charger_fault"
    assert hazard.failed_items == ["camera_working"]
    assert hazard.description == "Camera dead"
    assert hazard.found_on == date(2026, 3, 10)
    assert hazard.reported_by_contractor.name == "Fixers Ltd"
    status_entry = db.session.scalar(
        select(AuditEntry).where(AuditEntry.entity_type == "asset", AuditEntry.action == "status")
    )
    assert status_entry.before == {"status": "active"}
    assert status_entry.after == {"status": "faulty"}


def test_a_failure_hands_its_photos_to_the_hazard_as_before_photos(app, field, ctx):
    """The same files, not copies: one more row per photo, owned by the hazard."""
    record_result(
        the_inspection(field),
        user(),
        {"answers": all_pass(cutoff_when_full="fail"), "result": "fail"},
        [upload(png_bytes()), upload(jpeg_bytes(), "b.jpg", "image/jpeg")],
    )
    db.session.commit()
    db.session.expire_all()
    hazard = db.session.scalar(select(Hazard))
    inspection = the_inspection(field)
    assert [photo.stage for photo in hazard.photos] == ["before", "before"]
    assert [photo.inspection_id for photo in hazard.photos] == [None, None]
    assert [photo.stored_name for photo in hazard.photos] == [
        photo.stored_name for photo in inspection.photos
    ]
    assert [photo.content_type for photo in hazard.photos] == ["image/png", "image/jpeg"]
    assert len(photo_files(app)) == 2  # no file was copied
    entry = db.session.scalar(
        select(AuditEntry).where(AuditEntry.entity_type == "hazard", AuditEntry.action == "photos")
    )
    assert entry.after["inspection_id"] == field
    assert entry.after["photos"] == [photo.stored_name for photo in inspection.photos]


def test_a_later_pass_does_not_close_the_hazard(app, field, ctx):
    record_result(
        the_inspection(field),
        user(),
        {"answers": all_pass(no_flying_wire="fail"), "result": "fail"},
    )
    later = gen_inspection("CS-001", date(2026, 4, 10))
    db.session.commit()
    record_result(later, user(), {"answers": all_pass(), "result": "pass"})
    db.session.commit()
    db.session.expire_all()
    hazard = db.session.scalar(select(Hazard))
    assert hazard.status == HazardStatus.OPEN
    assert asset_by_code("CS-001").status == "faulty"
    assert db.session.scalar(select(func.count(Hazard.id))) == 1


def test_a_failed_item_forbids_a_pass_but_all_passed_items_may_still_fail(app, field, ctx):
    with pytest.raises(InspectionValidationError) as error:
        record_result(
            the_inspection(field),
            user(),
            {"answers": all_pass(camera_working="fail"), "result": "pass"},
        )
    assert set(error.value.errors) == {"result"}
    db.session.rollback()
    record_result(the_inspection(field), user(), {"answers": all_pass(), "result": "fail"})
    db.session.commit()
    assert the_inspection(field).result == "fail"


def test_an_officer_may_log_too(app, field, ctx):
    record_result(
        the_inspection(field),
        user("officer@example.org"),
        {"answers": all_pass(), "result": "pass"},
    )
    db.session.commit()
    assert the_inspection(field).inspector.email == "officer@example.org"


def test_the_plans_checklist_is_the_one_in_force(app, field, ctx):
    plan = gen_plan(checklist=["camera_working", "no_flying_wire"])
    inspection = gen_inspection("CS-001", date(2026, 4, 10), plan=plan)
    db.session.commit()
    assert [item.key for item in checklist_for(inspection)] == ["no_flying_wire", "camera_working"]
    with pytest.raises(InspectionValidationError) as error:
        record_result(inspection, user(), {"answers": all_pass(), "result": "pass"})
    assert "answers" in error.value.errors  # items the plan leaves out are unknown here
    db.session.rollback()
    answers = {"camera_working": "pass", "no_flying_wire": "na"}
    record_result(inspection, user(), {"answers": answers, "result": "pass"})
    db.session.commit()
    assert db.session.get(Inspection, inspection.id).answers == answers


def test_blocker_checklist(app, field, ctx):
    gen_asset(blocker_data(1))
    inspection = gen_inspection("EB-0001", date(2026, 3, 12))
    db.session.commit()
    keys = [item.key for item in checklist_for(inspection)]
    assert keys == ["detects_ebike", "doors_held_alarm", "camera_clean", "no_false_alarm"]
    record_result(inspection, user(), {"answers": dict.fromkeys(keys, "pass"), "result": "pass"})
    db.session.commit()
    assert db.session.get(Inspection, inspection.id).status == "completed"


# Where the inspector stood


@pytest.mark.parametrize(("metres", "flagged"), [(149.5, False), (150.5, True), (10, False)])
def test_distance_to_the_asset_and_the_flag_at_150_m(app, field, ctx, metres, flagged):
    longitude, latitude = north_of_asset(metres)
    values = {
        "answers": all_pass(),
        "result": "pass",
        "longitude": str(longitude),
        "latitude": latitude,
        "accuracy": "12.5",
    }
    record_result(the_inspection(field), user(), values)
    db.session.commit()
    db.session.expire_all()
    inspection = the_inspection(field)
    assert inspection.distance_m == pytest.approx(metres, abs=0.2)
    assert inspection.flagged is flagged
    assert inspection.stood_longitude == pytest.approx(longitude)
    assert inspection.stood_latitude == pytest.approx(latitude)
    assert inspection.stood_accuracy_m == 12.5
    flagged_ids = db.session.scalars(
        inspection_query(user(), InspectionFilters(flagged=True)).with_only_columns(Inspection.id)
    ).all()
    assert flagged_ids == ([field] if flagged else [])


def test_the_flag_distance_is_configuration(app, field, ctx):
    app.config["INSPECTION_FLAG_DISTANCE_M"] = 50
    longitude, latitude = north_of_asset(80)
    values = {"answers": all_pass(), "result": "pass", "longitude": longitude, "latitude": latitude}
    record_result(the_inspection(field), user(), values)
    assert the_inspection(field).flagged is True


# Bad input: an error, and nothing written


def assert_refused(app, field, error_type, values, photos=(), email="fixer@example.org"):
    before = snapshot(app, field)
    with pytest.raises(error_type) as error:
        record_result(the_inspection(field), user(email), values, list(photos))
    db.session.rollback()
    assert snapshot(app, field) == before
    return error.value


def test_someone_elses_inspection_is_not_found(app, field, ctx):
    values = {"answers": all_pass(camera_working="fail"), "result": "fail"}
    assert_refused(
        app, field, InspectionNotFoundError, values, [upload(png_bytes())], "rival@example.org"
    )
    assert inspection_for(field, user("rival@example.org")) is None
    assert inspection_for(field, user()) is not None
    assert inspection_for(field, user("officer@example.org")) is not None


def test_a_cancelled_inspection_takes_no_result(app, field, ctx):
    cancel_inspection(the_inspection(field), user("officer@example.org"), "Asset moved")
    db.session.commit()
    values = {"answers": all_pass(camera_working="fail"), "result": "fail"}
    error = assert_refused(app, field, InspectionConflictError, values, [upload(png_bytes())])
    assert error.status == "cancelled"


def test_an_already_completed_inspection_is_a_conflict(app, field, ctx):
    record_result(the_inspection(field), user(), {"answers": all_pass(), "result": "pass"})
    db.session.commit()
    values = {"answers": all_pass(camera_working="fail"), "result": "fail"}
    error = assert_refused(app, field, InspectionConflictError, values, [upload(png_bytes())])
    assert error.status == "completed"


def test_an_unknown_checklist_item_is_refused(app, field, ctx):
    answers = {**all_pass(camera_working="fail"), "free_coffee": "pass"}
    error = assert_refused(
        app, field, InspectionValidationError, {"answers": answers, "result": "fail"}
    )
    assert set(error.errors) == {"answers"}
    assert "free_coffee" in error.errors["answers"]


def test_a_missing_item_is_refused(app, field, ctx):
    answers = all_pass(camera_working="fail")
    del answers["no_flying_wire"]
    error = assert_refused(
        app, field, InspectionValidationError, {"answers": answers, "result": "fail"}
    )
    assert set(error.errors) == {"answers.no_flying_wire"}


@pytest.mark.parametrize(
    ("values", "fields"),
    [
        (
            {"answers": all_pass(camera_working="maybe"), "result": "pass"},
            {"answers.camera_working"},
        ),
        ({"answers": "all fine", "result": "pass"}, {"answers"}),
        ({"answers": all_pass()}, {"result"}),
        ({"answers": all_pass(), "result": "ok"}, {"result"}),
        ({"answers": all_pass(), "result": "pass", "completed_at": "yesterday"}, {"completed_at"}),
        ({"answers": all_pass(), "result": "pass", "longitude": "119.15"}, {"latitude"}),
        (
            {"answers": all_pass(), "result": "pass", "longitude": 200, "latitude": 36.7},
            {"longitude"},
        ),
        (
            {
                "answers": all_pass(),
                "result": "pass",
                "longitude": 119.1,
                "latitude": 36.7,
                "accuracy": -3,
            },
            {"accuracy"},
        ),
        ({"answers": all_pass(), "result": "pass", "notes": "x" * 4001}, {"notes"}),
    ],
)
def test_other_bad_values_are_named(app, field, ctx, values, fields):
    error = assert_refused(app, field, InspectionValidationError, values)
    assert set(error.errors) == fields


def test_a_future_completion_time_is_refused(app, field, ctx):
    future = (NOW + timedelta(minutes=10)).isoformat()
    values = {"answers": all_pass(camera_working="fail"), "result": "fail", "completed_at": future}
    error = assert_refused(app, field, InspectionValidationError, values, [upload(png_bytes())])
    assert set(error.errors) == {"completed_at"}


def test_completion_time_skew_backdating_and_local_time(app, field, ctx):
    # Local (district) time without an offset: 09:30 in Shanghai is 01:30 UTC.
    record_result(
        the_inspection(field),
        user(),
        {"answers": all_pass(), "result": "pass", "completed_at": "2026-03-10T09:30"},
    )
    assert the_inspection(field).completed_at == datetime(2026, 3, 10, 1, 30, tzinfo=UTC)
    db.session.rollback()
    # A phone clock a minute fast is taken as now.
    ahead = (NOW + timedelta(minutes=1)).isoformat()
    record_result(
        the_inspection(field),
        user(),
        {"answers": all_pass(), "result": "pass", "completed_at": ahead},
    )
    assert the_inspection(field).completed_at == NOW
    db.session.rollback()
    too_old = (NOW - timedelta(days=91)).isoformat()
    error = assert_refused(
        app,
        field,
        InspectionValidationError,
        {"answers": all_pass(), "result": "pass", "completed_at": too_old},
    )
    assert set(error.errors) == {"completed_at"}


def test_a_non_image_photo_is_refused(app, field, ctx):
    values = {"answers": all_pass(camera_working="fail"), "result": "fail"}
    fake = upload(b"just some text, honestly a photo", "photo.jpg", "image/jpeg")
    error = assert_refused(
        app, field, InspectionValidationError, values, [upload(png_bytes()), fake]
    )
    assert set(error.errors) == {"photos"}
    assert "photo.jpg" in error.errors["photos"]


def noisy_png(side: int = 64) -> bytes:
    """A real PNG that does not compress (random pixels): about 3 bytes a pixel."""
    buffer = io.BytesIO()
    Image.frombytes("RGB", (side, side), os.urandom(side * side * 3)).save(buffer, format="PNG")
    return buffer.getvalue()


def test_a_photo_over_the_size_limit_is_refused(app, field, ctx):
    app.config["PHOTO_MAX_BYTES"] = 4000
    big = noisy_png()
    assert len(big) > 4000
    values = {"answers": all_pass(camera_working="fail"), "result": "fail"}
    error = assert_refused(
        app, field, InspectionValidationError, values, [upload(png_bytes()), upload(big, "big.png")]
    )
    assert set(error.errors) == {"photos"}
    assert "big.png" in error.errors["photos"]


def test_several_problems_are_reported_together(app, field, ctx):
    answers = {"camera_working": "fail", "free_coffee": "pass"}
    values = {"answers": answers, "result": "pass", "completed_at": "2099-01-01T00:00"}
    error = assert_refused(
        app, field, InspectionValidationError, values, [upload(b"text", "a.png")]
    )
    assert {"answers", "answers.no_flying_wire", "result", "completed_at", "photos"} <= set(
        error.errors
    )


# Cancelling


def test_staff_cancel_with_a_reason(app, field, ctx):
    with pytest.raises(InspectionValidationError) as error:
        cancel_inspection(the_inspection(field), user("officer@example.org"), "  ")
    assert set(error.value.errors) == {"reason"}
    with pytest.raises(InspectionNotFoundError):
        cancel_inspection(the_inspection(field), user(), "I would rather not")
    db.session.rollback()
    assert the_inspection(field).status == "scheduled"
    inspection_audits = select(func.count(AuditEntry.id)).where(
        AuditEntry.entity_type == "inspection"
    )
    assert db.session.scalar(inspection_audits) == 0
    cancel_inspection(the_inspection(field), user("officer@example.org"), "Asset moved")
    db.session.commit()
    inspection = the_inspection(field)
    assert (inspection.status, inspection.cancelled_reason) == ("cancelled", "Asset moved")
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "cancel"))
    assert entry.entity_key == str(field)
    assert entry.after["cancelled_reason"] == "Asset moved"
    with pytest.raises(InspectionConflictError):
        cancel_inspection(inspection, user("officer@example.org"), "Again")


# Visibility and the list query


def test_visibility_and_the_next_inspection_of_an_asset(app, field, ctx):
    rival = gen_inspection("CS-001", date(2026, 3, 1), contractor="Rivals Inc")
    later = gen_inspection("CS-001", date(2026, 4, 10))
    db.session.commit()

    def ids(email: str) -> set[int]:
        query = visible(user(email), Inspection).with_only_columns(Inspection.id)
        return set(db.session.scalars(query))

    assert ids("fixer@example.org") == {field, later.id}
    assert ids("rival@example.org") == {rival.id}
    assert ids("officer@example.org") == {field, later.id, rival.id}
    nobody = gen_user("lost@example.org", "contractor", contractor="Gone Ltd")
    nobody.contractor_id = None  # a contractor user without a company sees nothing
    db.session.commit()
    assert ids(nobody.email) == set()
    asset = db.session.scalar(select(Asset))
    assert next_inspection_of(asset, user()).id == field
    assert next_inspection_of(asset, user("rival@example.org")).id == rival.id
    assert next_inspection_of(asset, user("officer@example.org")).id == rival.id


def test_inspection_query_filters_and_order(app, field, ctx):
    gen_asset(blocker_data(1))
    gen_asset(charging_station_data(2, longitude=119.25, latitude=36.745))  # G2-02
    overdue = gen_inspection("EB-0001", date(2026, 3, 2))
    soon = gen_inspection("CS-002", date(2026, 3, 15))
    far = gen_inspection("CS-002", date(2026, 5, 1))
    rival = gen_inspection("CS-001", date(2026, 3, 5), contractor="Rivals Inc")
    db.session.commit()
    officer = user("officer@example.org")

    def ids(filters: InspectionFilters, who=officer) -> list[int]:
        return list(
            db.session.scalars(inspection_query(who, filters).with_only_columns(Inspection.id))
        )

    assert ids(InspectionFilters()) == [overdue.id, rival.id, field, soon.id, far.id]
    assert ids(InspectionFilters(status="overdue")) == [overdue.id, rival.id]
    assert ids(InspectionFilters(overdue=True)) == [overdue.id, rival.id]
    assert ids(InspectionFilters(status="due_soon")) == [field, soon.id]
    assert ids(InspectionFilters(status="completed")) == []
    assert ids(InspectionFilters(kind="elevator_blocker")) == [overdue.id]
    assert ids(InspectionFilters(grid="G2")) == [overdue.id, soon.id, far.id]
    assert ids(InspectionFilters(grid="g1-01")) == [rival.id, field]
    assert ids(InspectionFilters(grid="NOPE")) == []
    assert ids(InspectionFilters(contractor="Rivals Inc")) == [rival.id]
    assert ids(InspectionFilters(contractor="Nobody")) == []
    assert ids(InspectionFilters(asset="cs-002")) == [soon.id, far.id]
    assert ids(InspectionFilters(due_from=date(2026, 3, 5), due_to=date(2026, 3, 15))) == [
        rival.id,
        field,
        soon.id,
    ]
    assert ids(InspectionFilters(status="overdue"), user()) == [overdue.id]
    assert ids(InspectionFilters(contractor="Rivals Inc"), user()) == []
