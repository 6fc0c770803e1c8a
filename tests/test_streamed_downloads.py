"""A list's CSV download is written after the request's own end (``stream_with_context``
pushes its context again for the rows): the request's sign-in, noted as used when a minute has
passed (``accounts.sessions.write_noted_uses``), must not leave the user unreadable to the
rows. It did: the province benchmark's hazard export raised ``DetachedInstanceError`` after
the header, a download cut short for every officer whose last request was a minute ago."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta

import pytest

from core.extensions import db
from tests import factories

NOW = datetime(2026, 3, 10, 2, tzinfo=UTC)
DOWNLOADS = (
    "/assets/export.csv",
    "/inspections/export.csv?status=overdue",
    "/hazards/export.csv",
)


@pytest.fixture
def listed(app, district, officer, contractor_user):
    with app.app_context():
        for number in (1, 2):
            factories.gen_asset(factories.charging_station_data(number))
        factories.gen_inspection("CS-001", date(2026, 3, 1))
        factories.gen_inspection("CS-002", date(2026, 3, 2))
        fixers = factories.gen_contractor("Fixers Ltd")  # sees the hazard it must rectify
        factories.gen_hazard(
            "HZ-2026-0001", "major", asset_code="CS-001", responsible_contractor_id=fixers.id
        )
        db.session.commit()


def rows_of(body: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))


@pytest.mark.parametrize("path", DOWNLOADS)
@pytest.mark.parametrize("email", ["officer@example.org", "fixer@example.org"])
def test_a_download_a_minute_after_the_last_request_holds_every_row(
    app, client, auth, listed, frozen_clock, path, email
):
    frozen_clock.set(NOW)
    auth.login(email)
    first = client.get(path)
    assert first.status_code == 200
    expected = rows_of(first.data)
    assert len(expected) >= 2  # a header and rows
    frozen_clock.set(NOW + timedelta(minutes=2))  # the sign-in's use is noted again
    again = client.get(path)
    assert again.status_code == 200
    assert rows_of(again.data) == expected
