"""Every time on screen is the district's wall clock, through one filter (``local_time``)."""

from datetime import UTC, datetime

import pytest
from flask import Flask, render_template_string

from core.clock import district_time
from core.extensions import babel
from core.i18n import init_app as init_i18n


def zone_app(zone: str) -> Flask:
    app = Flask(__name__)
    app.config.update(TIMEZONE=zone, DISTRICT_NAME="", BABEL_DEFAULT_LOCALE="en")
    babel.init_app(app)
    init_i18n(app)
    return app


@pytest.mark.parametrize(
    ("zone", "moment", "shown"),
    [
        # Shanghai: UTC+8 all year, across midnight.
        ("Asia/Shanghai", datetime(2026, 11, 29, 19, 45, tzinfo=UTC), "2026-11-30 03:45"),
        ("Asia/Shanghai", datetime(2026, 7, 1, 15, 59, tzinfo=UTC), "2026-07-01 23:59"),
        # Berlin: UTC+1 in winter, UTC+2 in summer, the switch on 2026-03-29 at 01:00 UTC.
        ("Europe/Berlin", datetime(2026, 1, 15, 12, 0, tzinfo=UTC), "2026-01-15 13:00"),
        ("Europe/Berlin", datetime(2026, 7, 15, 12, 0, tzinfo=UTC), "2026-07-15 14:00"),
        ("Europe/Berlin", datetime(2026, 3, 29, 0, 59, tzinfo=UTC), "2026-03-29 01:59"),
        ("Europe/Berlin", datetime(2026, 3, 29, 1, 0, tzinfo=UTC), "2026-03-29 03:00"),
        # Back to winter time on 2026-10-25 at 01:00 UTC: 02:30 local happens twice.
        ("Europe/Berlin", datetime(2026, 10, 25, 0, 30, tzinfo=UTC), "2026-10-25 02:30"),
        ("Europe/Berlin", datetime(2026, 10, 25, 1, 30, tzinfo=UTC), "2026-10-25 02:30"),
    ],
)
def test_local_time_is_the_district_wall_clock(zone, moment, shown):
    with zone_app(zone).app_context():
        assert district_time(moment) == shown
        assert render_template_string("{{ t|local_time }}", t=moment) == shown


def test_local_time_seconds_naive_utc_and_none():
    with zone_app("Asia/Shanghai").app_context():
        stored = datetime(2026, 11, 29, 19, 45, 12)  # naive: stored UTC
        assert district_time(stored) == "2026-11-30 03:45"
        assert render_template_string("{{ t|local_time(seconds=True) }}", t=stored) == (
            "2026-11-30 03:45:12"
        )
        assert render_template_string("{{ none|local_time }}") == "—"


def test_every_page_names_the_zone_once(client, auth, officer):
    auth.login(officer)
    page = client.get("/inspections/", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert page.count("Asia/Shanghai") == 1
    assert "Beijing time (Asia/Shanghai)" in page
    assert "UTC" not in page
    page = client.get("/inspections/", headers={"Accept-Language": "zh"}).get_data(as_text=True)
    assert page.count("Asia/Shanghai") == 1
