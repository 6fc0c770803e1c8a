"""No ping on checkout (issue 14): a pooled connection the server ended is refused by what
its socket says, and the request is served on a new one; a healthy one is reused."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import create_engine, event, text

from core.extensions import db
from tests import factories

pytestmark = pytest.mark.usefixtures("frozen")


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
    connects: list[int] = []
    event.listen(engine, "connect", lambda *_args: connects.append(1))
    for _ in range(5):
        assert client.get("/api/v1/assets/CS-001", headers=headers).status_code == 200
    assert connects == []  # a healthy pooled connection is used again, not replaced
    assert engine.pool.checkedin() >= 1

    admin = create_engine(database_url)
    try:
        with admin.connect() as connection:
            ended = connection.execute(
                text(
                    "SELECT count(pg_terminate_backend(pid, 5000)) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            ).scalar_one()
    finally:
        admin.dispose()
    assert ended >= 1

    answers = [client.get("/api/v1/assets/CS-001", headers=headers) for _ in range(3)]
    answers.append(client.get("/api/v1/assets", headers=headers))
    assert [answer.status_code for answer in answers] == [200] * 4
    assert len(connects) >= 1
