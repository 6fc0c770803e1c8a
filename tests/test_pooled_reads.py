"""What a request costs the database in round trips (issue 14), and what must still hold.

- A view marked ``reads_only`` reads in autocommit on PostgreSQL: no BEGIN, no ROLLBACK;
  every statement of its session is a SELECT. The token's noted use is written after it, in
  a transaction of its own. A writing request on the same pooled connection afterwards runs in
  a transaction again.
- No ping on checkout: a pooled connection the server ended is refused by what its socket
  says, and the request is served on a new one; a healthy one is reused.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import create_engine, event, select, text

from core import spatial
from core.extensions import db
from hazards.models import Hazard
from inspections.models import Inspection, InspectionPlan
from tests import factories

pytestmark = pytest.mark.usefixtures("frozen")

READ_ENDPOINTS = {
    "assets_api.list_assets": "/api/v1/assets?bbox=0,0,180,90",
    "assets_api.get_asset": "/api/v1/assets/CS-001",
    "assets_api.list_grids": "/api/v1/grids",
    "hazards_api.list_hazards": "/api/v1/hazards",
    "hazards_api.get_hazard": "/api/v1/hazards/{hazard}",
    "inspections_api.list_inspections": "/api/v1/inspections",
    "inspections_api.get_inspection": "/api/v1/inspections/{inspection}",
    "plans_api.list_plans": "/api/v1/plans",
    "plans_api.get_plan": "/api/v1/plans/{plan}",
    "maps_api.map_assets": "/api/v1/map/assets?zoom=12",
    "maps_api.map_hazards": "/api/v1/map/hazards",
    "maps_api.map_grids": "/api/v1/map/grids",
}


@pytest.fixture
def frozen(frozen_clock):
    frozen_clock.set(datetime(2026, 3, 16, 4, 0, tzinfo=UTC))


@pytest.fixture
def registry(app, district, officer) -> dict[str, str]:
    """One asset, hazard, plan and inspection; the ids the read endpoints' paths need."""
    with app.app_context():
        factories.gen_asset(factories.charging_station_data(1))
        factories.gen_hazard("HZ-2026-0001", "major", "CS-001")
        plan = factories.gen_plan()
        inspection = factories.gen_inspection("CS-001", date(2026, 3, 1), plan=plan)
        db.session.commit()
        return {"hazard": "HZ-2026-0001", "plan": str(plan.id), "inspection": str(inspection.id)}


class Statements:
    """Every statement the engine runs, with whether its connection was in autocommit."""

    def __init__(self, engine):
        self.engine = engine
        self.seen: list[tuple[str, bool]] = []

    def __enter__(self) -> Statements:
        event.listen(self.engine, "before_cursor_execute", self.note)
        return self

    def __exit__(self, *_exc) -> None:
        event.remove(self.engine, "before_cursor_execute", self.note)

    def note(self, conn, _cursor, statement, _parameters, _context, _many) -> None:
        dbapi = conn.connection.dbapi_connection
        autocommit = getattr(dbapi, "autocommit", False) is True  # pysqlite: none, or -1
        self.seen.append((statement.lstrip().split(None, 1)[0].upper(), autocommit))


def test_the_read_endpoints_are_marked_and_nothing_else(app):
    marked = {
        endpoint
        for endpoint, view in app.view_functions.items()
        if getattr(view, spatial.READS_ONLY, False)
    }
    assert marked == set(READ_ENDPOINTS)


def test_a_read_runs_in_autocommit_and_only_reads(app, backend, registry, officer_token):
    client = app.test_client()
    headers = {"Authorization": f"Bearer {officer_token}"}
    with app.app_context():
        engine = db.engine
    for endpoint, path in READ_ENDPOINTS.items():
        with Statements(engine) as statements:
            answer = client.get(path.format(**registry), headers=headers)
        assert answer.status_code == 200, (endpoint, answer.get_data(as_text=True)[:300])
        assert statements.seen, endpoint
        in_request = [kind for kind, autocommit in statements.seen if autocommit]
        outside = [kind for kind, autocommit in statements.seen if not autocommit]
        if backend == "postgis":
            assert in_request and set(in_request) == {"SELECT"}, (endpoint, statements.seen)
            # Only the token's noted use (its first request), in a transaction of its own.
            assert set(outside) <= {"UPDATE"}, (endpoint, statements.seen)
        else:
            assert in_request == [], endpoint  # SQLite keeps its transactions
            assert set(outside) <= {"SELECT", "UPDATE"}, (endpoint, statements.seen)


def test_a_write_after_a_read_on_the_same_connection_is_one_transaction(
    app, backend, registry, officer_token
):
    """The pool hands the read's connection back in transaction mode: a refused write after
    it writes nothing, and a write that succeeds commits once."""
    client = app.test_client()
    headers = {"Authorization": f"Bearer {officer_token}"}
    with app.app_context():
        engine = db.engine
    assert client.get("/api/v1/assets/CS-001", headers=headers).status_code == 200
    with app.app_context():  # held around the request, as a test or a command may
        assert client.get("/api/v1/assets/CS-001", headers=headers).status_code == 200
        if backend == "postgis":
            assert db.session.connection().connection.dbapi_connection.autocommit is False
    with Statements(engine) as statements:
        refused = client.patch("/api/v1/assets/CS-001", json={"longitude": 500}, headers=headers)
        created = client.post(
            "/api/v1/hazards",
            json={
                "category": "other",
                "severity": "general",
                "description": "Seen after a read",
                "asset": "CS-001",
            },
            headers=headers,
        )
    assert refused.status_code == 422, refused.json
    assert created.status_code == 201, created.json
    if backend == "postgis":
        assert [kind for kind, autocommit in statements.seen if autocommit] == []
    with app.app_context():
        assert db.session.scalar(select(Hazard.id).where(Hazard.code == "HZ-2026-0001"))
        assert len(db.session.scalars(select(Hazard.code)).all()) == 2
        assert db.session.scalar(select(InspectionPlan.id)) is not None
        assert db.session.scalar(select(Inspection.id)) is not None


@pytest.mark.postgis_only
def test_a_pooled_connection_the_server_ended_is_replaced_before_use(
    app, database_url, registry, officer_token
):
    """A restart or an administrator ends the pool's idle connections: the next requests are
    served on new ones (no 503), without a ping on every checkout."""
    client = app.test_client()
    headers = {"Authorization": f"Bearer {officer_token}"}
    with app.app_context():
        engine = db.engine
    assert not engine.pool._pre_ping
    engine.dispose()
    # Only the app's own backends are ended: the suite's other connections to this database
    # (the fixtures' engine that empties the tables between tests) are not this test's.
    app_backends: list[int] = []
    event.listen(
        engine, "connect", lambda dbapi, _record: app_backends.append(dbapi.info.backend_pid)
    )
    for _ in range(5):
        assert client.get("/api/v1/assets/CS-001", headers=headers).status_code == 200
    assert len(app_backends) == 1  # a healthy pooled connection is used again, not replaced
    assert engine.pool.checkedin() >= 1

    admin = create_engine(database_url)
    try:
        with admin.connect() as connection:
            ended = connection.execute(
                text("SELECT count(pg_terminate_backend(pid, 5000)) FROM unnest(:pids) pid"),
                {"pids": app_backends},
            ).scalar_one()
    finally:
        admin.dispose()
    assert ended == 1

    answers = [client.get("/api/v1/assets/CS-001", headers=headers) for _ in range(3)]
    answers.append(client.get("/api/v1/assets", headers=headers))
    assert [answer.status_code for answer in answers] == [200] * 4
    assert len(app_backends) >= 2
