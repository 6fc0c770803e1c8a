"""A pytest plugin: with SAR_REQUIRE_ALL_BACKENDS=1 the run fails unless every backend
ran and passed tests, so CI can never pass with a backend silently missing.

Under pytest-xdist the controller counts: it receives every worker's reports through
``pytest_runtest_logreport``; a worker, which sees only its share, checks nothing."""

import os

import pytest

PASSED: dict[str, int] = {}


def backend_of(nodeid: str) -> str | None:
    for backend in ("spatialite", "postgis"):
        if f"[{backend}" in nodeid or f"-{backend}]" in nodeid or f"-{backend}-" in nodeid:
            return backend
    return None


def is_xdist_worker(config) -> bool:
    return hasattr(config, "workerinput")


def pytest_runtest_logreport(report):
    if report.when == "call" and report.passed:
        backend = backend_of(report.nodeid)
        if backend:
            PASSED[backend] = PASSED.get(backend, 0) + 1


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session, exitstatus):
    if os.environ.get("SAR_REQUIRE_ALL_BACKENDS") != "1" or is_xdist_worker(session.config):
        return
    if session.config.option.collectonly:
        return
    required = os.environ.get("SAR_TEST_BACKENDS", "spatialite,postgis").split(",")
    missing = [name for name in required if PASSED.get(name, 0) == 0]
    if missing:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
        print(f"\nFAILED: no passing test ran on backend(s): {', '.join(missing)}")
    else:
        counts = ", ".join(f"{name}: {PASSED[name]}" for name in required)
        print(f"\npassed tests per backend: {counts}")
