"""The OpenAPI document is the API's truthful contract (issue 13, finding 10): schemathesis,
with every check, sends each operation 50 generated requests (valid and invalid) with an
admin's and a contractor's token, on both databases, straight into the WSGI app (no
network), and finds nothing: no 500, no status or header the document does not declare, no
response off its schema, invalid input never accepted, valid input refused only by a
rule the document says it cannot state (see ``SEMANTIC_REFUSAL``).

Each operation is its own test on a fresh database; each generated request is sent with
the admin's token and then the contractor's (generation is the costly part: one example
serves both roles). Hypothesis is derandomized (the same examples every run) and does not
shrink.
"""

from __future__ import annotations

from datetime import date

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis.checks import CHECKS, load_all_checks
from schemathesis.config import SchemathesisConfig
from schemathesis.generation import GenerationMode

from core.extensions import db
from tests import factories

# 100 took 220 s of the suite's 2,770 (both workers' time) on a slow 2-core machine, 50 took
# 138 s of 2,400; 30 cover fewer inputs, the same ones every run (derandomized), edge cases
# first (Hypothesis tries them early), each sent with both roles' tokens on both databases.
EXAMPLES = 30
OPERATIONS = [
    ("GET", "/api/v1/assets"),
    ("POST", "/api/v1/assets"),
    ("GET", "/api/v1/assets/{code}"),
    ("PATCH", "/api/v1/assets/{code}"),
    ("GET", "/api/v1/grids"),
    ("GET", "/api/v1/hazards"),
    ("POST", "/api/v1/hazards"),
    ("GET", "/api/v1/hazards/{code}"),
    ("POST", "/api/v1/hazards/{code}/transitions"),
    ("GET", "/api/v1/inspections"),
    ("GET", "/api/v1/map/assets"),
    ("GET", "/api/v1/map/grids"),
    ("GET", "/api/v1/map/hazards"),
    ("GET", "/api/v1/inspections/{id}"),
    ("POST", "/api/v1/inspections/{id}/result"),
    ("GET", "/api/v1/plans"),
    ("POST", "/api/v1/plans"),
    ("GET", "/api/v1/plans/{id}"),
    ("PATCH", "/api/v1/plans/{id}"),
]
ROLES = {"admin": "admin@example.org", "contractor": "fixer@example.org"}
# Valid-looking data a rule beyond JSON Schema refuses: an unknown grid, site or contractor,
# a point outside the district, a bounding box whose minimum is not below its maximum, a
# status step the hazard's state does not allow. The document describes each such rule in
# words and answers 422 (bad input by field) or 409 (the state): both are what a client
# must handle for schema-valid input; every other status would still be a failure.
SEMANTIC_REFUSAL = ["2xx", "3xx", "401", "403", "404", "409", "422", "429"]


def every_check():
    load_all_checks()
    return [
        check
        for check in CHECKS.get_all()
        # max_response_time needs a limit to compare with; none is set.
        if callable(check) and getattr(check, "__name__", "") != "max_response_time"
    ]


@pytest.fixture
def contract_client(app, district):
    """A district with one asset of each kind, an inspection plan, a scheduled inspection and
    an open hazard, the two users; the app's test client and the users' tokens."""
    with app.app_context():
        factories.gen_user(ROLES["admin"], "admin")
        factories.gen_user(ROLES["contractor"], "contractor", contractor="Fixers Ltd")
        factories.gen_asset()
        factories.gen_asset(factories.blocker_data())
        plan = factories.gen_plan()
        factories.gen_inspection("CS-001", date(2026, 3, 20), plan=plan)
        factories.gen_hazard("HZ-2026-0001", "general", "CS-001")
        db.session.commit()
        tokens = {role: factories.gen_token(email) for role, email in ROLES.items()}
        db.session.commit()
    return app.test_client(), tokens


def test_the_document_is_public_and_lists_every_operation(contract_client):
    client, _tokens = contract_client
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    spec = response.json
    listed = [
        (method.upper(), path)
        for path, operations in spec["paths"].items()
        for method in operations
        if method != "parameters"
    ]
    assert sorted(listed) == sorted(OPERATIONS)
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            if method == "parameters":
                continue
            assert "default" not in operation["responses"], (method, path)
            assert {"400", "401", "403", "503"} <= set(operation["responses"]), (method, path)
            assert "WWW-Authenticate" in operation["responses"]["401"]["headers"]
            # core.errors answers a database outage 503 with Retry-After on every operation,
            # and a write the database refused 409 (tests/test_faults.py)
            assert "Retry-After" in operation["responses"]["503"]["headers"]
            if method != "get":
                assert "409" in operation["responses"], (method, path)


def test_401_challenges_and_405_allows(contract_client):
    client, tokens = contract_client
    response = client.get("/api/v1/assets")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    response = client.get("/api/v1/assets", headers={"Authorization": "Bearer x"})
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    # A bad token is refused before routing (accounts.auth); a valid one reaches the 405.
    response = client.delete(
        "/api/v1/assets", headers={"Authorization": f"Bearer {tokens['admin']}"}
    )
    assert response.status_code == 405
    assert set(response.headers["Allow"].split(", ")) >= {"GET", "POST"}


def test_empty_filters_count_as_absent(contract_client):
    client, tokens = contract_client
    headers = {"Authorization": f"Bearer {tokens['admin']}"}
    for url in (
        "/api/v1/assets?grid=&kind=",
        "/api/v1/inspections?grid=&status=",
        "/api/v1/hazards?grid=",
    ):
        response = client.get(url, headers=headers)
        assert response.status_code == 200, url


@pytest.mark.slow  # the longest file: first, so it overlaps with the rest
@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_operation_keeps_the_contract(app, contract_client, method, path):
    """Each generated request is sent once with each role's token (the generation is the
    costly part, so each example serves both roles)."""
    client, tokens = contract_client
    # Plain bodies: the WSGI transport sends requests' Accept-Encoding (gzip) but reads the
    # answer without decoding it. Compression has its own tests (tests/test_serving.py).
    role_headers = [
        {"Authorization": f"Bearer {tokens[role]}", "Accept-Encoding": "identity"}
        for role in sorted(ROLES)
    ]
    config = SchemathesisConfig.from_dict(
        {
            # The token is given, not generated (each call below sends one role's).
            "headers": role_headers[0],
            # NUL and unpaired surrogates are refused with a declared 400 (core.inputs):
            # valid strings are what a client can send.
            "generation": {"allow-x00": False, "codec": "utf-8"},
            "checks": {"positive_data_acceptance": {"expected-statuses": SEMANTIC_REFUSAL}},
        }
    )
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app, config=config)
    operation = schema[path][method]
    strategy = st.one_of(
        operation.as_strategy(GenerationMode.POSITIVE),
        operation.as_strategy(GenerationMode.NEGATIVE),
    )
    checks = every_check()

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def keeps_the_contract(case):
        for headers in role_headers:
            case.call_and_validate(headers=headers, checks=checks, app=app)

    keeps_the_contract()
