"""bench/runner.py's pure parts: how targets are judged and what RESULTS.md lists (no timing:
every figure here is made up)."""

from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path

import pytest

RUNNER = Path(__file__).resolve().parent.parent / "bench" / "runner.py"


@pytest.fixture(scope="module")
def runner():
    spec = importlib.util.spec_from_file_location("bench_runner", RUNNER)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.modules.pop(spec.name, None)


def a_target(runner, op="<", limit=100.0, at_size=None):
    return runner.Target("viewport endpoint p95", "< 100 ms", op, limit, "ms", at_size)


def test_a_figure_beyond_the_target_is_not_met(runner):
    assert runner.judge(a_target(runner), runner.Measured(150.0, 1000)) == "not met"
    assert runner.judge(a_target(runner), runner.Measured(100.0, 1000)) == "not met"  # "<"
    assert runner.judge(a_target(runner), runner.Measured(99.0, 1000)) == "met"
    assert runner.judge(a_target(runner, "<=", 3), runner.Measured(3.0)) == "met"
    assert runner.judge(a_target(runner, ">=", 0.5), runner.Measured(0.4)) == "not met"
    assert runner.judge(a_target(runner, ">=", 0.5), runner.Measured(0.5)) == "met"


@pytest.mark.parametrize("measured", [None, "none", "nan"])
def test_a_missing_figure_is_not_measured(runner, measured):
    value = {None: None, "none": runner.Measured(None, 10), "nan": runner.Measured(math.nan, 10)}
    assert runner.judge(a_target(runner), value[measured]) == "not measured"


def test_a_figure_below_the_targets_size_is_not_measured_and_shown(runner):
    target = a_target(runner, at_size=1_000_000)
    small = runner.Measured(5.0, 10_000)
    assert runner.judge(target, small) == "not measured"
    assert "largest measured 10,000" in runner.verdict_text(target, small)
    assert runner.judge(target, runner.Measured(5.0, None)) == "not measured"
    assert runner.judge(target, runner.Measured(5.0, 1_000_000)) == "met"
    assert runner.judge(target, runner.Measured(500.0, 1_000_000)) == "not met"


def test_nothing_is_met_when_nothing_ran(runner):
    backends = ("spatialite", "postgis")
    targets = runner.targets_of({}, runner.MODES["quick"], backends)
    assert len(targets) > 20
    assert {runner.judge(target, measured) for target, measured in targets} == {"not measured"}


def view(times, size=1000, mode="points"):
    return {"times_ms": times, "bytes": size, "mode": mode}


def synthetic_results():
    """A quick run's shape: the map at 454 and 10k; a province at 1M on PostGIS."""
    sizes = {
        454: {"views": {"mid z14": view([10, 12, 14])}, "map": view([20, 22, 24], 90_000)},
        10_000: {"views": {"mid z14": view([30, 40, 250])}, "map": view([25, 27, 29], 95_000)},
    }
    province = {
        name: {"median_ms": 80.0, "p95_ms": 150.0}
        for name in ("dashboard /", "overdue list, biggest contractor", "overdue list, grid X")
    }
    province["weekly alert composition"] = {"median_ms": 5000.0, "p95_ms": 5000.0, "peak_mb": 80}
    return {
        "viewport": {"postgis": sizes},
        "province": {"postgis": {1_000_000: province}},
        "headers": {"html": (True, "br"), "json": (False, "none"), "map_etag": (True, "304")},
    }


def test_targets_from_a_run(runner):
    targets = runner.targets_of(synthetic_results(), runner.MODES["quick"], ("postgis",))
    found = {(t.name, t.backend): (m, runner.judge(t, m)) for t, m in targets}
    viewport, verdict = found[("viewport endpoint p95", "postgis")]
    assert (viewport.value, viewport.size, verdict) == (250, 10_000, "not measured")
    ratio, verdict = found[("/map server time vs 454 assets", "postgis")]
    assert ratio.value == pytest.approx(27 / 22) and verdict == "not measured"
    assert found[("dashboard", "postgis")][1] == "not met"  # p95 150 ms at 10M inspections
    assert found[("weekly alert composition, time", "postgis")][1] == "met"  # 5 s at 1M
    assert found[("HTML compressed (gzip or br)", "")][1] == "met"
    assert found[("JSON compressed (gzip or br)", "")][1] == "not met"
    assert found[("static file: ETag, then 304", "")][1] == "not measured"
    assert found[("map in Chromium: pan/zoom settles", "")][1] == "not measured"


def test_the_markdown_lists_every_target_and_figure(runner):
    mode = runner.MODES["quick"]
    results = synthetic_results()
    targets = runner.targets_of(results, mode, ("spatialite", "postgis"))
    figures = runner.figures_of(results, mode)
    report = {
        "mode": "quick",
        "command": "bench/run --quick",
        "date": "2026-11-30 09:30",
        "seconds": 100.0,
        "commit": "abc123",
        "machine": {
            "cpus": 2,
            "cpu_model": "Test CPU",
            "ram_gb": 8.0,
            "system": "Linux",
            "load_start": "0.10 0.20 0.30",
            "load_end": "1.00 0.50 0.40",
        },
        "errors": {"load": "Traceback: locust failed"},
        "charts": [Path("results/map.png")],
    }
    text = runner.markdown(report, figures, targets)
    rows = [line for line in text.splitlines() if line.startswith("| ")]
    for target, _measured in targets:
        assert any(
            f"| {target.name} | {target.backend or '–'} | {target.goal} |" in row for row in rows
        ), target
    for figure in figures:
        assert any(f"| {figure.item} |" in row for row in rows), figure
    for fact in ("bench/run --quick", "abc123", "Test CPU", "0.10 0.20 0.30", "1.00 0.50 0.40"):
        assert fact in text
    assert "locust failed" in text and "![map](results/map.png)" in text
    met_rows = [row for row in rows if row.endswith("| **met** |")]
    assert met_rows and all(row.split("|")[4].strip() != "–" for row in met_rows)
