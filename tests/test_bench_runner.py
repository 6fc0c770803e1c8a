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
        "provinces": {"postgis": {1_000_000: {"seconds": 700.0, "rollup_s": 25.0}}},
    }


def test_targets_from_a_run(runner):
    targets = runner.targets_of(synthetic_results(), runner.MODES["quick"], ("postgis",))
    found = {(t.name, t.backend): (m, runner.judge(t, m)) for t, m in targets}
    viewport, verdict = found[("viewport endpoint p95", "postgis")]
    assert (viewport.value, viewport.size, verdict) == (250, 10_000, "not measured")
    ratio, verdict = found[("/map server time vs 454 assets", "postgis")]
    assert ratio.value == pytest.approx(27 / 22) and verdict == "not measured"
    assert found[("dashboard", "postgis")][1] == "not met"  # p95 150 ms at 10M inspections


def test_the_dashboard_is_judged_on_the_views_a_user_is_served(runner):
    """Not on the snapshot's build (a job) nor on the live count after a write (what the
    snapshot spares a province's page)."""
    results = synthetic_results()
    items = results["province"]["postgis"][1_000_000]
    items["dashboard /"] = {"median_ms": 20.0, "p95_ms": 52.0}
    items["dashboard / after a write, live"] = {"median_ms": 5000.0, "p95_ms": 6000.0}
    items["dashboard snapshot build"] = {"median_ms": 37000.0, "p95_ms": 37000.0}
    items["dashboard / after a write, snapshot"] = {"median_ms": 25.0, "p95_ms": 30.0}
    results["province"]["postgis"] = {10_000_000 // 10: items}
    mode = runner.MODES["province"]
    targets = runner.targets_of(results, mode, ("postgis",))
    found = {(t.name, t.backend): (m, runner.judge(t, m)) for t, m in targets}
    measured, verdict = found[("dashboard", "postgis")]
    assert (measured.value, verdict) == (52.0, "met")
    items["dashboard / after a write, snapshot"] = {"median_ms": 90.0, "p95_ms": 140.0}
    measured, verdict = {
        (t.name, t.backend): (m, runner.judge(t, m))
        for t, m in runner.targets_of(results, mode, ("postgis",))
    }[("dashboard", "postgis")]
    assert (measured.value, verdict) == (140.0, "not met")
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


def province_in_chromium(settle_ms: float, first_ms: float = 1500.0, assets=1_000_000):
    moves = [
        {"kind": kind, "settle": settle_ms, "wait": 250.0, "request": 40.0, "draw": 10.0, "zoom": z}
        for kind, z in [("in", 9), ("pan", 9), ("in", 11), ("pan", 11)] * 5
    ]
    for move in moves[-2:]:  # two slow moves of 20: the p95 (nearest rank)
        move["settle"] = settle_ms * 3
    return {
        "assets": assets,
        "backend": "postgis",
        "first_marker_ms": [first_ms - 100, first_ms],
        "first_view_ms": [first_ms + 200, first_ms + 300],
        "moves": moves,
    }


def test_the_province_in_chromium_judges_first_markers_and_pan_zoom(runner):
    def verdicts(results):
        targets = runner.targets_of(results, runner.MODES["province"], ("postgis",))
        return {t.name: (m, runner.judge(t, m)) for t, m in targets if "Chromium" in t.name}

    found = verdicts({"province_browser": province_in_chromium(280.0)})
    first, verdict = found["map in Chromium: first markers"]
    assert (first.value, first.size, verdict) == (1.5, 1_000_000, "met")
    settle, verdict = found["map in Chromium: pan/zoom settles"]
    assert (settle.value, verdict) == (840.0, "not met")
    slow_first = verdicts({"province_browser": province_in_chromium(90.0, first_ms=2500.0)})
    assert slow_first["map in Chromium: first markers"][1] == "not met"
    assert slow_first["map in Chromium: pan/zoom settles"][1] == "met"  # 270 ms p95
    small = verdicts({"province_browser": province_in_chromium(100.0, assets=10_000)})
    assert {verdict for _m, verdict in small.values()} == {"not measured"}
    rows = runner.figures_of({"province_browser": province_in_chromium(280.0)}, None)
    settles = next(row for row in rows if row.item == "/map in Chromium: pan/zoom settles")
    assert (settles.median, settles.p95, settles.size) == (280.0, 840.0, 1_000_000)
    assert (
        "before the request (the move's own work, the 80 ms debounce) median 250 ms"
        in (settles.extra)
        and "20 moves, z9–z11" in settles.extra
    )
    items = {row.item for row in rows}
    assert {"/map in Chromium: pan settles", "/map in Chromium: zoom settles"} <= items


def locust_report(rps: float, classes: dict[str, float], failures: int = 0) -> dict:
    """A locustfile report: each class's p95 (ms), its median half of it."""
    return {
        "classes": {
            name: {
                "rps": rps / len(classes),
                "p50": p95 / 2,
                "p95": p95,
                "p99": p95,
                "median": p95 / 2,
            }
            for name, p95 in classes.items()
        },
        "names": {},
        "total": {"requests": int(rps * 60), "failures": failures, "rps": rps},
        "errors": [],
        "exceptions": [],
        "results_exhausted": 0,
    }


@pytest.fixture(scope="module")
def bench_load():
    sys.path.insert(0, str(RUNNER.parent))
    import bench_load

    return bench_load


def load_results(bench_load, paced_p95: float, bbox_rps: float, paced: bool = True) -> dict:
    mix = {"bbox": 40.0, "page": 100.0}
    unloaded = locust_report(10, mix)
    judged = locust_report(60, {name: paced_p95 for name in mix}) if paced else None
    loaded = locust_report(100, {name: 2000.0 for name in mix}, failures=1)
    bbox_alone = locust_report(bbox_rps, {"bbox": 300.0})
    baseline = locust_report(400, {"bbox": 100.0})
    phase = {
        "workers": 2,
        "unloaded": unloaded,
        "paced": judged,
        "loaded": loaded,
        "bbox_alone": bbox_alone,
        "baseline": baseline,
        "worker_peak_mb": 180.0,
        "wait": 2.0 if paced else 0.0,
        **bench_load.verdict(unloaded, judged, loaded, bbox_alone, baseline),
    }
    return {"load": {"assets": 100_000, "phases": [phase]}}


def test_the_load_test_judges_throughput_by_the_bbox_class_and_p95_by_the_paced_run(
    runner, bench_load
):
    results = load_results(bench_load, paced_p95=60.0, bbox_rps=220.0)
    targets = runner.targets_of(results, runner.MODES["default"], ("postgis",))
    found = {t.name: (m, runner.judge(t, m)) for t, m in targets}
    ratio, verdict = found["load test: throughput vs raw baseline"]
    assert ratio.value == pytest.approx(220 / 400) and verdict == "met"
    assert "the mix 0.25x" in ratio.how  # 100 req/s of the closed-loop mix beside 400
    worst, verdict = found["load test: worst p95 over unloaded median"]
    assert worst.value == pytest.approx(60 / 20) and verdict == "met"  # paced, not the loop's
    assert "paced run (mean pause 2.0 s a user)" in worst.how
    errors, verdict = found["load test (50 users, 2 workers): errors"]
    assert (errors.value, verdict) == (1, "not met")  # the closed loop's failure counts
    memory, _verdict = found["worker memory serving any view"]
    assert (memory.value, memory.size) == (180.0, 100_000)
    slow = load_results(bench_load, paced_p95=100.0, bbox_rps=150.0)
    found = {
        t.name: runner.judge(t, m)
        for t, m in runner.targets_of(slow, runner.MODES["default"], ("postgis",))
    }
    assert found["load test: throughput vs raw baseline"] == "not met"
    assert found["load test: worst p95 over unloaded median"] == "not met"
    closed = load_results(bench_load, paced_p95=60.0, bbox_rps=220.0, paced=False)
    phase = closed["load"]["phases"][0]
    assert phase["p95_judged_on"] == "loaded"
    assert phase["p95_over_unloaded"]["bbox"] == pytest.approx(2000 / 20)
    items = {row.item: row for row in runner.figures_of(results, None)}
    assert "2 workers, paced (mean pause 2.0 s), bbox" in items
    assert "0.55x the baseline" in items["2 workers, closed loop, bbox class alone"].extra
    assert items["2 workers, closed loop, mix"].median is None


def test_the_paced_run_offers_a_share_of_the_closed_loops_throughput(bench_load):
    # 50 users offering half of 20 req/s: each pauses 5 s on average
    assert bench_load.pause(bench_load.Options(users=50), 20.0) == 5.0
    assert bench_load.pause(bench_load.Options(users=50, utilisation=0.25), 20.0) == 10.0
    assert bench_load.pause(bench_load.Options(users=50, wait=1.5), 20.0) == 1.5
    assert bench_load.pause(bench_load.Options(wait=0.0), 20.0) == 0.0  # no paced run


def test_other_benches_run_as_their_scripts_with_their_database_renamed(runner, tmp_path):
    (tmp_path / "bench").mkdir()
    (tmp_path / "bench" / "bench_echo.py").write_text(
        "import sys\nPOSTGIS_URL = 'postgresql://nowhere/fixed'\n"
        "def main():\n    print('INFO  a log line')\n    print(sys.argv, POSTGIS_URL)\n"
    )
    url = "postgresql+psycopg://postgres@127.0.0.1:5432/bench_run_echo"
    command = runner.other_command("bench_echo", ("--sizes", "454"), url)
    command[3] = str(tmp_path)  # the root the module is looked for under
    import subprocess

    done = subprocess.run(command, capture_output=True, text=True, check=True)
    printed = runner.printed_figures(done.stdout)
    assert printed == f"['bench_echo.py', '--sizes', '454'] {url}"


def test_the_markdown_shows_the_other_benches(runner):
    report = {
        "mode": "default",
        "command": "bench/run",
        "date": "2026-11-30 12:00",
        "seconds": 800.0,
        "commit": "abc123",
        "machine": {
            "cpus": 2,
            "cpu_model": "Test CPU",
            "ram_gb": 8.0,
            "system": "Linux",
            "load_start": "0",
            "load_end": "0",
        },
        "errors": {},
        "charts": [],
        "other": [
            {
                "what": "demo load",
                "command": "bench/bench_demo_load.py",
                "seconds": 9.0,
                "output": "demo load (fresh SpatiaLite database): 7.26 s",
                "error": "",
            },
            {
                "what": "sign-ins",
                "command": "bench/bench_login.py --attempts 10",
                "seconds": 300.0,
                "output": "",
                "error": "stopped after 300 s",
            },
        ],
    }
    text = runner.markdown(report, [], [])
    assert "`.venv/bin/python bench/bench_demo_load.py`: 9 s" in text
    assert "7.26 s" in text
    assert "**failed**: stopped after 300 s" in text


def test_the_moves_go_down_to_street_level_and_back(runner):
    sys.path.insert(0, str(RUNNER.parent))
    import bench_map_browser

    plan = bench_map_browser.move_plan(9, 20)
    assert len(plan) == 20
    assert [kind for kind, _r, _z in plan[1::2]] == ["pan"] * 10
    zooms = [zoom for _kind, _r, zoom in plan]
    assert min(zooms) == 9 and max(zooms) == bench_map_browser.MAX_ZOOM == 17
    assert zooms[:10] == [11, 11, 13, 13, 15, 15, 17, 17, 15, 15]
    assert plan == bench_map_browser.move_plan(9, 20)  # the same moves every run


def queue_reports(paced_rps: float) -> tuple[dict, dict]:
    """An unloaded run of a short request (10 ms) and a long one (40 ms), each a flat time,
    and a paced run of them half and half at ``paced_rps``."""
    alone = {"GET bbox": 10.0, "GET page /": 40.0}
    unloaded = {
        "names": {label: {"median": ms, "p95": ms} for label, ms in alone.items()},
        "classes": {"bbox": {"median": 10.0}, "page": {"median": 40.0}},
    }
    paced = {
        "names": {label: {"requests": 100} for label in alone},
        "total": {"rps": paced_rps},
    }
    return unloaded, paced


def test_queueing_alone_predicts_the_floor_the_queue_sets(bench_load):
    # 2 workers, a mean of 25 ms: 8 req/s keep them 10% busy, 40 req/s half busy
    unloaded, paced = queue_reports(8.0)
    light = bench_load.queueing_alone(unloaded, paced, workers=2, arrivals=20_000)
    assert light["utilisation"] == pytest.approx(0.1)
    assert light["p95_over_unloaded"]["bbox"] < 1.5  # hardly ever behind another request
    unloaded, paced = queue_reports(40.0)
    busy = bench_load.queueing_alone(unloaded, paced, workers=2, arrivals=20_000)
    assert busy["utilisation"] == pytest.approx(0.5)
    # The short request waits behind long ones: its p95 grows most, over its own median.
    assert busy["p95_over_unloaded"]["bbox"] > 3 * busy["p95_over_unloaded"]["page"] / 2
    assert busy["p95_over_unloaded"]["bbox"] > light["p95_over_unloaded"]["bbox"] + 1


def test_each_province_is_loaded_once_and_every_bench_that_needs_it_runs_on_it(runner):
    mode = runner.Mode(
        "tiny",
        sizes=(3, 5),
        province_sizes={"spatialite": (3, 5), "postgis": (5, 7)},
        browser_province=7,
        load={"assets": 5},
    )
    backends = ("spatialite", "postgis")
    needs = runner.province_needs(mode, backends, runner.BENCHES)
    assert needs == {
        ("spatialite", 3): ["province"],
        ("spatialite", 5): ["province"],
        ("postgis", 5): ["province", "load"],
        ("postgis", 7): ["province_browser", "province"],
    }
    events = []

    def load(backend, size):
        events.append(("load", backend, size))
        if size == 3:
            raise RuntimeError("the disk is full")
        return runner.LoadedProvince(f"{backend}://{size}", 1.0, 0.1)

    def bench(name):
        def run(backend, size, url):
            events.append((name, url))
            if name == "province" and size == 7:
                raise RuntimeError("the dashboard answered 500")
            return {backend: name}

        return run

    kept, failed = {}, []

    def attempt(name, backend, size, step):
        try:
            kept[name, backend, size] = found = step()
        except RuntimeError:
            failed.append((name, backend, size))
            return None
        return found

    runner.on_provinces(
        needs,
        load,
        lambda url: events.append(("drop", url)),
        {name: bench(name) for name in runner.PROVINCE_BENCHES},
        attempt,
    )
    assert events == [
        ("load", "spatialite", 3),  # failed: nothing runs on it, nothing to drop
        ("load", "spatialite", 5),
        ("province", "spatialite://5"),
        ("drop", "spatialite://5"),
        ("load", "postgis", 5),
        ("province", "postgis://5"),
        ("load", "postgis://5"),  # the load test writes: after the province bench
        ("drop", "postgis://5"),
        ("load", "postgis", 7),
        ("province_browser", "postgis://7"),  # reads the province as loaded: first
        ("province", "postgis://7"),
        ("drop", "postgis://7"),  # dropped though the province bench failed
    ]
    assert failed == [("loading", "spatialite", 3), ("province", "postgis", 7)]
    assert kept["loading", "postgis", 7].url == "postgis://7"


def test_the_province_benches_asked_for_decide_what_is_loaded(runner):
    mode = runner.MODES["default"]
    only_browser = runner.province_needs(mode, ("spatialite",), ("province_browser", "load"))
    assert only_browser == {("spatialite", mode.browser_province): ["province_browser"]}
    assert runner.province_needs(mode, ("spatialite", "postgis"), ("viewport", "bbox")) == {}
    needs = runner.province_needs(runner.MODES["province"], ("postgis",), runner.BENCHES)
    assert needs[("postgis", 1_000_000)] == ["province_browser", "province"]
    assert needs[("postgis", 100_000)] == ["province", "load"]
