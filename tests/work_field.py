"""A contractor's open work around the test district, for the home page's tests (server and
phone): what is due now, in the coming days and later, at known points, and a rival's."""

from __future__ import annotations

from datetime import UTC, date, datetime

from core.extensions import db
from inspections.models import Inspection
from tests.factories import blocker_data, charging_station_data, gen_asset, gen_inspection, gen_user

NOW = datetime(2026, 3, 10, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai: today is 2026-03-10
TODAY = date(2026, 3, 10)
# Where the phone is: at CS-003, so the overdue CS-003 is the nearest work and CS-001 the
# farthest (about 9 km west).
PHONE = (119.25, 36.745)
POINTS = {
    "CS-001": (119.15, 36.715),  # G1-01
    "CS-002": (119.19, 36.745),  # G1-02, about 5 km from the phone
    "CS-003": PHONE,  # G2-02
    "EB-0001": (119.22, 36.71),  # G2-01, about 4.6 km from the phone
}
# name: (asset, due on); Fixers Ltd's unless named below.
INSPECTIONS = {
    "overdue_far": ("CS-001", date(2026, 3, 1)),
    "overdue_near": ("CS-003", date(2026, 3, 8)),
    "today": ("EB-0001", TODAY),
    "soon_far": ("CS-001", date(2026, 3, 12)),
    "soon_near": ("CS-002", date(2026, 3, 12)),
    "last_day": ("CS-003", date(2026, 3, 17)),  # today + 7: the last of the coming days
    "later": ("CS-002", date(2026, 3, 18)),  # today + 8: not on the home page
    "done": ("CS-001", date(2026, 3, 5)),  # completed
    "rival": ("CS-003", date(2026, 3, 9)),  # Rivals Inc's
}
# What the home shows, in the server's order (by due date, then asset code) and nearest first.
NOW_BY_DUE = ["overdue_far", "overdue_near", "today"]
NOW_NEAREST = ["overdue_near", "today", "overdue_far"]
COMING_BY_DUE = ["soon_far", "soon_near", "last_day"]
COMING_NEAREST = ["soon_near", "soon_far", "last_day"]


def gen_work_field() -> dict[str, int]:
    """The assets, the rival's user and the inspections (ids by name); the caller commits."""
    for code, (longitude, latitude) in POINTS.items():
        if code.startswith("CS-"):
            data = charging_station_data(int(code[3:]), longitude=longitude, latitude=latitude)
        else:
            data = blocker_data(int(code[3:]), longitude=longitude, latitude=latitude)
        gen_asset(data, address=f"{code} Harbour Road")
    gen_user("rival@example.org", "contractor", contractor="Rivals Inc")
    ids = {}
    for name, (code, due_on) in INSPECTIONS.items():
        contractor = "Rivals Inc" if name == "rival" else "Fixers Ltd"
        ids[name] = gen_inspection(code, due_on, contractor=contractor).id
    done = db.session.get(Inspection, ids["done"])
    done.status, done.result, done.completed_at = "completed", "pass", NOW
    return ids
