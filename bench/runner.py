"""Every benchmark in one run (issue 14): the figures, each target judged, ``bench/RESULTS.md``
and charts of cost against registry size under ``bench/results/``.

Usage: bench/run [--quick | --province] [--postgis-url URL] [--backends spatialite,postgis]
           [--only viewport,bbox,province,browser,province_browser,load,headers,other]
           [--output DIR]

Modes (sizes in assets):
- ``--quick``: 454 (the district) and 10k, few repeats, both backends; the map in Chromium
  at 10k; no load test, no older benches.
- default: 454, 10k and 100k (the province bench on SpatiaLite to 10k); the map in Chromium
  at 100k; the load test (10k assets, 50 users on 2 gunicorn workers, 60 s a run); the older
  benches that take seconds.
- ``--province``: adds 1M assets to every size-dependent bench on both backends (the map in
  Chromium at 1M), 1M assets with 10M inspections (the province bench) on PostGIS, and the
  load test at 100k assets.

What runs, each through its ``run()`` (``bench/bench_*.py``): the map's view endpoint and
/map (``bench_map_viewport``), the bbox API against raw SQL (``bench_api_bbox``), the
province items (``bench_province``: dashboard, overdue lists, alert, generation), the map in
Chromium (``bench_map_browser``: the demo district; then a province, PostGIS unless only
SpatiaLite is asked for: first markers and 20 pans and zooms, each timed until
``maps/static/map.js`` has drawn the new view's answer), the load test (``bench_load``: the
mix in a closed loop and paced at half of what that served, the bbox class alone and the
raw-SQL baseline in closed loops, the workers' peak RSS); then compression and ETag/304
checked by real requests through the app; then ``OTHER_BENCHES`` (older benches with no
issue-14 target, figures only, as their scripts print them). Every PostGIS database is named
``<prefix>_<bench>`` (``--postgis-url``'s database name is the prefix) and dropped.

The synthetic provinces (``demo.province``, ``Mode.per_asset`` inspections an asset, the
same rows as ``flask demo province --assets N``) are loaded once per backend and size
(``province_needs``: every size the province bench, the province in Chromium or the load
test asks for), each then its map roll-up built as the scheduler would, and handed to each
bench that needs it (``on_provinces``), in this order (``PROVINCE_BENCHES``): the province
in Chromium, which only reads; ``bench_province``, which measures the province as loaded,
then writes (an asset renamed between dashboard views, the dashboard's snapshot built, a
calendar feed made, and last the future scheduled inspections deleted and generated again,
which leaves the horizon whole); the load test, which issues tokens and logs results into
it. Then it is dropped (PostGIS: ``<prefix>_province_<size>``; SpatiaLite: a file in a
temporary directory) before the next is loaded. Each load's time (and its map roll-up's)
is a figure of its own (bench "province load"). The map and bbox benches keep their own
registries (assets over the demo district, grown size by size; assets alone), which load in
seconds.

Judging (``judge``): a figure is "met" only when it was measured at the target's size and
passes; a mode that stops below that size says "not measured" and still shows its largest
size's figure. Latency targets are judged on p95. The load test's throughput is the bbox
class alone over the baseline (the same requests; the mix's ratio is shown beside it), its
p95 target is judged on the paced run (in a closed loop latency is users over throughput).
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import shlex
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
DEFAULT_POSTGIS = "postgresql+psycopg://postgres@127.0.0.1:5432/bench_run"
BENCHES = (
    "viewport",
    "bbox",
    "province",
    "browser",
    "province_browser",
    "load",
    "headers",
    "other",
)
MET, NOT_MET, NOT_MEASURED = "met", "not met", "not measured"
MILLION = 1_000_000


# The older benches with no issue-14 target that finish in seconds: (what, module, arguments),
# each run as ``bench/<module>.py`` would be, its PostGIS database renamed like the others',
# its printed figures copied into RESULTS.md (import and generation at 10k, not their 100k
# defaults). Not run: bench_map beyond 454 assets (folium's naive map takes 90 s at 10k),
# bench_alerts (about 50 s a backend even at 10k; bench_province times the alert),
# bench_inspections and bench_inspections_list (1M inspections, an index made and dropped:
# minutes; bench_province times the dashboard and the overdue lists), bench_province_load (a
# province loaded per backend: minutes), bench_login on PostGIS (its database name is fixed).
OTHER_BENCHES = (
    ("/map against folium's naive map, 454 assets", "bench_map", ("--sizes", "454")),
    ("demo load into a fresh SpatiaLite database", "bench_demo_load", ()),
    ("refused sign-ins, scrypt, SpatiaLite", "bench_login", ("--attempts", "10")),
    ("assets import of a 10k-row CSV", "bench_import", ("--rows", "10000")),
    ("inspection generation, 10k assets x 90 days", "bench_generate", ("--assets", "10000")),
    ("the list downloads' xlsx writers, 10k rows", "bench_xlsx_export", ("--rows", "10000")),
)
OTHER_TIMEOUT = 300  # seconds, each


# --- Modes --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Mode:
    name: str
    sizes: tuple[int, ...]  # the map, viewport and bbox benches, every backend
    province_sizes: dict[str, tuple[int, ...]]  # the province bench, per backend
    per_asset: int = 10  # inspections per asset in the province bench
    repeat: int = 20  # requests per view (viewport bench), runs per item (bbox)
    runs: int = 5  # runs per item of the province bench
    browser_runs: int = 10
    browser_province: int = 100_000  # the province in Chromium: first markers, pan/zoom
    browser_province_runs: int = 3  # fresh page loads (after a warm-up one)
    moves: int = 20  # pans and zooms timed
    load: dict[str, Any] | None = None  # bench_load's settings; None: not run
    other: bool = False  # the older benches with no issue-14 target (OTHER_BENCHES)


MODES = {
    "quick": Mode(
        "quick",
        sizes=(454, 10_000),
        province_sizes={"spatialite": (454, 10_000), "postgis": (454, 10_000)},
        repeat=8,
        runs=5,
        browser_runs=3,
        browser_province=10_000,
        browser_province_runs=1,
    ),
    "default": Mode(
        "default",
        sizes=(454, 10_000, 100_000),
        # The province bench's targets are stated at 1M assets and no mode loads a SpatiaLite
        # province that big: its 100k one (a 142 s load, 75 s of items in a niced run on a
        # shared machine, a sixth of the run) is left to --province.
        province_sizes={"spatialite": (454, 10_000), "postgis": (454, 10_000, 100_000)},
        load={"assets": 10_000, "duration": 60, "users": 50, "workers": (2,)},
        other=True,
    ),
    "province": Mode(
        "province",
        sizes=(454, 10_000, 100_000, MILLION),
        province_sizes={
            "spatialite": (454, 10_000, 100_000),
            "postgis": (454, 10_000, 100_000, MILLION),
        },
        browser_province=MILLION,
        load={"assets": 100_000, "duration": 60, "users": 50, "workers": (2,)},
        other=True,
    ),
}


# --- Judging (pure) -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """One line of issue 14's targets, for one backend (or none)."""

    name: str
    goal: str  # as the issue says it
    op: str  # "<", "<=" or ">=": how the figure must compare with the limit
    limit: float
    unit: str
    at_size: int | None = None  # the size it is stated for; None: any size
    size_unit: str = "assets"
    backend: str = ""


@dataclass(frozen=True)
class Measured:
    """What was measured for a target: the figure (None: nothing), at which size, and how."""

    value: float | None
    size: int | None = None
    how: str = ""


def judge(target: Target, measured: Measured | None) -> str:
    """ "met" only for a figure at (or beyond) the target's size that passes; "not measured"
    without a figure or below the size; "not met" otherwise."""
    if measured is None or measured.value is None or math.isnan(measured.value):
        return NOT_MEASURED
    if target.at_size is not None and (measured.size is None or measured.size < target.at_size):
        return NOT_MEASURED
    passes = {
        "<": measured.value < target.limit,
        "<=": measured.value <= target.limit,
        ">=": measured.value >= target.limit,
    }[target.op]
    return MET if passes else NOT_MET


def verdict_text(target: Target, measured: Measured | None) -> str:
    verdict = judge(target, measured)
    if verdict != NOT_MEASURED:
        return f"**{verdict}**"
    if measured is None or measured.value is None:
        return f"**{NOT_MEASURED}**"
    return (
        f"**{NOT_MEASURED}** (target at {target.at_size:,} {target.size_unit}; "
        f"largest measured {measured.size or 0:,})"
    )


def percentile(values: list[float], share: float) -> float:
    """Nearest rank: p95 of fewer than 20 values is the slowest."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def median(values: list[float]) -> float:
    return statistics.median(values)


# --- Figures from the benches' results (pure) ---------------------------------------------------


@dataclass(frozen=True)
class Figure:
    """One measured item: median and p95 (or one run: both the same) and what else it says."""

    bench: str
    backend: str
    size: int
    item: str
    median: float | None  # None: no one latency (the load test's mix)
    p95: float | None
    unit: str = "ms"
    extra: str = ""


def figures_of(results: dict[str, Any], mode: Mode) -> list[Figure]:
    rows: list[Figure] = []
    for backend, sizes in results.get("viewport", {}).items():
        for size, data in sizes.items():
            for view, figures in data["views"].items():
                times = figures["times_ms"]
                rows.append(
                    Figure(
                        "viewport",
                        backend,
                        size,
                        f"/api/v1/map/assets {view} ({figures['mode']})",
                        median(times),
                        percentile(times, 0.95),
                        extra=f"{figures['bytes'] / 1000:.1f} KB",
                    )
                )
            page = data["map"]
            rows.append(
                Figure(
                    "viewport",
                    backend,
                    size,
                    "/map first view (server)",
                    median(page["times_ms"]),
                    percentile(page["times_ms"], 0.95),
                    extra=f"{page['bytes'] / 1000:.1f} KB",
                )
            )
    for backend, sizes in results.get("bbox", {}).items():
        for size, data in sizes.items():
            api, raw = data["api_ms"], data["raw_ms"]
            ratio = median(api) / median(raw)
            rows.append(
                Figure(
                    "bbox",
                    backend,
                    size,
                    "bbox API",
                    median(api),
                    percentile(api, 0.95),
                    extra=f"{data['matches']} matches; {ratio:.1f}x raw SQL",
                )
            )
            rows.append(
                Figure("bbox", backend, size, "raw SQL", median(raw), percentile(raw, 0.95))
            )
    for backend, sizes in results.get("province", {}).items():
        for size, items in sizes.items():
            for item, figure in items.items():
                extra = []
                if "peak_mb" in figure:
                    extra.append(f"peak {figure['peak_mb']:.1f} MB (tracemalloc)")
                if "rows" in figure:
                    extra.append(f"{figure['rows']} rows")
                extra.append(f"{size * mode.per_asset:,} inspections")
                rows.append(
                    Figure(
                        "province",
                        backend,
                        size,
                        item,
                        figure["median_ms"],
                        figure["p95_ms"],
                        extra="; ".join(extra),
                    )
                )
    for backend, sizes in results.get("provinces", {}).items():
        for size, loaded in sizes.items():
            rows.append(
                Figure(
                    "province load",
                    backend,
                    size,
                    "demo province into a new database (once, for all its benches)",
                    loaded["seconds"],
                    loaded["seconds"],
                    unit="s",
                    extra=f"{size * mode.per_asset:,} inspections; the dashboard's roll-ups "
                    f"included; then the map's roll-up {loaded['rollup_s']:.1f} s",
                )
            )
    browser = results.get("browser")
    if browser:
        for item, key in (("first marker", "first_marker_ms"), ("all drawn", "all_drawn_ms")):
            times = browser[key]
            rows.append(
                Figure(
                    "browser",
                    "spatialite",
                    454,
                    f"/map in Chromium: {item}",
                    median(times),
                    percentile(times, 0.95),
                )
            )
    rows += province_browser_figures(results.get("province_browser"))
    rows += load_figures(results.get("load"))
    return rows


def settles(province: dict[str, Any], kinds: tuple[str, ...] = ("in", "out", "pan")) -> list:
    """The pan/zoom settle times (ms) of the moves of these kinds."""
    return [move["settle"] for move in province["moves"] if move["kind"] in kinds]


def province_browser_figures(province: dict[str, Any] | None) -> list[Figure]:
    """First markers and the pan/zoom settles of the province in Chromium; each settle split
    into the wait before the view's request (the debounce), the request and the drawing."""
    if not province:
        return []

    def figure(item: str, times: list[float], extra: str = "") -> Figure:
        return Figure(
            "browser",
            province["backend"],
            province["assets"],
            f"/map in Chromium: {item}",
            median(times),
            percentile(times, 0.95),
            extra=extra,
        )

    rows = [
        figure("first marker", province["first_marker_ms"], "fresh context, from navigation"),
        figure("first view drawn", province["first_view_ms"], "its answer drawn"),
    ]
    for item, kinds in (
        ("pan/zoom settles", ("in", "out", "pan")),
        ("pan settles", ("pan",)),
        ("zoom settles", ("in", "out")),
    ):
        moves = [move for move in province["moves"] if move["kind"] in kinds]
        if not moves:
            continue
        parts = []
        for name, label in (
            ("wait", "before the request (the move's own work, the 80 ms debounce)"),
            ("request", "request"),
            ("draw", "draw"),
        ):
            values = [move[name] for move in moves if move.get(name) is not None]
            if values:
                parts.append(f"{label} median {median(values):.0f} ms")
        zooms = sorted({move["zoom"] for move in moves})
        parts.append(f"{len(moves)} moves, z{zooms[0]}–z{zooms[-1]}")
        rows.append(figure(item, settles(province, kinds), "; ".join(parts)))
    return rows


def load_figures(load: dict[str, Any] | None) -> list[Figure]:
    """Per worker count: each class of the judged run (paced, else the closed loop) beside its
    unloaded median; the closed loop's mix, bbox class alone and raw-SQL baseline."""
    if not load:
        return []
    rows = []
    for phase in load["phases"]:
        workers = phase["workers"]
        judged_on = phase.get("p95_judged_on", "loaded")
        how = f"paced (mean pause {phase['wait']} s)" if judged_on == "paced" else "closed loop"
        for name, row in phase[judged_on]["classes"].items():
            unloaded = phase["unloaded"]["classes"].get(name, {}).get("median")
            rows.append(
                Figure(
                    "load",
                    "postgis",
                    load["assets"],
                    f"{workers} workers, {how}, {name}",
                    row["p50"],
                    row["p95"],
                    extra=f"{row['rps']:.1f} req/s; unloaded median {unloaded} ms",
                )
            )
        raw = phase["baseline"]["total"]["rps"]
        for item, run in (
            ("mix", phase["loaded"]),
            ("bbox class alone", phase["bbox_alone"]),
            ("raw-SQL baseline", phase["baseline"]),
        ):
            total = run["total"]
            rows.append(
                Figure(
                    "load",
                    "postgis",
                    load["assets"],
                    f"{workers} workers, closed loop, {item}",
                    run["classes"]["bbox"]["p50"] if item != "mix" else None,
                    run["classes"]["bbox"]["p95"] if item != "mix" else None,
                    extra=f"{total['rps']:.1f} req/s ({total['rps'] / raw:.2f}x the baseline); "
                    f"{total['failures']} errors",
                )
            )
        if phase.get("worker_peak_mb"):
            rows.append(
                Figure(
                    "load",
                    "postgis",
                    load["assets"],
                    f"{workers} workers, a worker's peak RSS",
                    phase["worker_peak_mb"],
                    phase["worker_peak_mb"],
                    unit="MB",
                    extra="psutil, every 0.1 s through the app's runs",
                )
            )
    return rows


def largest(sizes: dict[int, Any]) -> int | None:
    return max(sizes) if sizes else None


def map_targets(results: dict[str, Any], backends: tuple[str, ...]) -> list[tuple]:
    rows = []
    for backend in backends:
        sizes = results.get("viewport", {}).get(backend, {})
        size = largest(sizes)
        ratio = kilobytes = viewport = None
        if size is not None:
            page = sizes[size]["map"]
            kilobytes = page["bytes"] / 1000
            if 454 in sizes:
                ratio = median(page["times_ms"]) / median(sizes[454]["map"]["times_ms"])
            viewport = max(percentile(v["times_ms"], 0.95) for v in sizes[size]["views"].values())
        rows += [
            (
                Target(
                    "/map server time vs 454 assets",
                    "within 1.5x at 1M",
                    "<=",
                    1.5,
                    "x",
                    MILLION,
                    backend=backend,
                ),
                Measured(ratio, size, "median at the size over median at 454"),
            ),
            (
                Target("/map bytes", "< 300 KB at 1M", "<", 300, "KB", MILLION, backend=backend),
                Measured(kilobytes, size, "uncompressed HTML"),
            ),
            (
                Target(
                    "viewport endpoint p95",
                    f"< {100 if backend == 'postgis' else 200} ms at 1M",
                    "<",
                    100 if backend == "postgis" else 200,
                    "ms",
                    MILLION,
                    backend=backend,
                ),
                Measured(viewport, size, "worst p95 of the three views"),
            ),
        ]
    return rows


def browser_targets(results: dict[str, Any]) -> list[tuple]:
    """First markers and pan/zoom from the province in Chromium; first markers from the demo
    district when the province did not run."""
    province = results.get("province_browser")
    district = results.get("browser")
    if province:
        first = Measured(
            percentile(province["first_marker_ms"], 0.95) / 1000,
            province["assets"],
            f"p95 of {len(province['first_marker_ms'])} fresh page loads ({province['backend']})",
        )
        moved = settles(province)
        settle = Measured(
            percentile(moved, 0.95) if moved else None,
            province["assets"],
            f"p95 of {len(moved)} pans and zooms, move to answer drawn (debounce included)",
        )
    else:
        first = Measured(
            percentile(district["first_marker_ms"], 0.95) / 1000 if district else None,
            454 if district else None,
            "p95, demo district",
        )
        settle = Measured(None, None, "the province in Chromium did not run")
    return [
        (Target("map in Chromium: first markers", "< 2 s at 1M", "<", 2, "s", MILLION), first),
        (
            Target(
                "map in Chromium: pan/zoom settles", "< 300 ms p95 at 1M", "<", 300, "ms", MILLION
            ),
            settle,
        ),
    ]


DASHBOARD_VIEWS = ("dashboard /", "dashboard / after a write, snapshot")


def province_targets(results: dict[str, Any], mode: Mode, backends: tuple[str, ...]) -> list:
    rows = []
    for backend in backends:
        sizes = results.get("province", {}).get(backend, {})
        size = largest(sizes)
        items = sizes.get(size, {}) if size is not None else {}
        inspections = size * mode.per_asset if size is not None else None

        def p95(*names: str, items=items) -> float | None:
            found = [f["p95_ms"] for name, f in items.items() if name.startswith(names)]
            return max(found) if found else None

        def worst(*names: str, items=items) -> float | None:
            found = [items[name]["p95_ms"] for name in names if name in items]
            return max(found) if found else None

        def one(name: str, key: str, scale: float = 1.0, items=items) -> float | None:
            return items[name][key] * scale if name in items else None

        if backend == "postgis":
            rows += [
                (
                    Target(
                        "dashboard",
                        "< 100 ms at 10M inspections",
                        "<",
                        100,
                        "ms",
                        10 * MILLION,
                        "inspections",
                        backend,
                    ),
                    # What a user is served: the page warm, and its first view after a write
                    # (at this size from the snapshot). The snapshot's build is a job, and the
                    # live count after a write is what the snapshot spares the page.
                    Measured(
                        worst(*DASHBOARD_VIEWS),
                        inspections,
                        "worst p95: warm, first view after a write (snapshot)",
                    ),
                ),
                (
                    Target(
                        "overdue list",
                        "< 100 ms at 10M inspections",
                        "<",
                        100,
                        "ms",
                        10 * MILLION,
                        "inspections",
                        backend,
                    ),
                    Measured(p95("overdue list"), inspections, "worst p95: by contractor, grid"),
                ),
            ]
        rows += [
            (
                Target(
                    "generation, first run",
                    "< 5 min at 1M assets x 90 days",
                    "<",
                    300,
                    "s",
                    MILLION,
                    backend=backend,
                ),
                Measured(one("generation, first run", "median_ms", 1e-3), size, "one run"),
            ),
            (
                Target(
                    "generation, idle rerun",
                    "< 30 s at 1M assets",
                    "<",
                    30,
                    "s",
                    MILLION,
                    backend=backend,
                ),
                Measured(one("generation, idle rerun", "median_ms", 1e-3), size, "one run"),
            ),
            (
                Target(
                    "weekly alert composition, time",
                    "< 60 s at 1M assets",
                    "<",
                    60,
                    "s",
                    MILLION,
                    backend=backend,
                ),
                Measured(one("weekly alert composition", "median_ms", 1e-3), size, "one run"),
            ),
            (
                Target(
                    "weekly alert composition, memory",
                    "< 1 GB at 1M assets",
                    "<",
                    1024,
                    "MB",
                    MILLION,
                    backend=backend,
                ),
                Measured(one("weekly alert composition", "peak_mb"), size, "tracemalloc peak"),
            ),
            (
                Target(
                    "asset export (csv)",
                    "< 30 s at 1M assets (gunicorn's default worker timeout)",
                    "<",
                    30,
                    "s",
                    MILLION,
                    backend=backend,
                ),
                Measured(one("export assets (csv)", "median_ms", 1e-3), size, "one run"),
            ),
        ]
    return rows


def load_targets(results: dict[str, Any]) -> list[tuple]:
    load = results.get("load")
    phase = next((p for p in load["phases"] if p["workers"] == 2), None) if load else None
    size = load["assets"] if load else None
    errors = ratio = worst = None
    mix = how_p95 = ""
    if phase:
        errors = phase["errors"]
        ratio = phase["throughput_ratio"]
        mix = f"; the mix {phase['mix_ratio']:.2f}x" if "mix_ratio" in phase else ""
        ratios = phase["p95_over_unloaded"].values()
        worst = None if None in ratios else max(ratios, default=None)
        if phase.get("p95_judged_on") == "paced":
            how_p95 = f", paced run (mean pause {phase['wait']} s a user)"
        else:
            how_p95 = ", closed loop (no pause: latency is users over throughput)"
    return [
        (
            Target(
                "load test (50 users, 2 workers): errors", "0", "<=", 0, "", None, backend="postgis"
            ),
            Measured(errors, size, "failures and locustfile exceptions, every run of the app"),
        ),
        (
            Target(
                "load test: throughput vs raw baseline",
                ">= 0.5x",
                ">=",
                0.5,
                "x",
                None,
                backend="postgis",
            ),
            Measured(
                ratio, size, "the bbox class alone over the raw-SQL baseline, closed loop" + mix
            ),
        ),
        (
            Target(
                "load test: worst p95 over unloaded median",
                "<= 3x",
                "<=",
                3,
                "x",
                None,
                backend="postgis",
            ),
            Measured(worst, size, "worst request class" + how_p95),
        ),
    ]


def memory_target(results: dict[str, Any], mode: Mode) -> list[tuple]:
    memory = results.get("memory", {})
    target = Target(
        "worker memory serving any view", "< 300 MB peak RSS at 1M", "<", 300, "MB", MILLION
    )
    load = results.get("load")
    phases = load["phases"] if load else []
    peaks = [phase["worker_peak_mb"] for phase in phases if "worker_peak_mb" in phase]
    if load and peaks:
        measured = Measured(
            max(peaks), load["assets"], "peak RSS of a gunicorn worker during the load test"
        )
    elif "process_mb" in memory:
        measured = Measured(
            memory["process_mb"],
            memory.get("process_size"),
            "peak RSS of the bench process serving through the test client (it also loaded "
            "the registry: an upper bound)",
        )
    else:
        measured = Measured(None)
    return [(target, measured)]


def header_targets(results: dict[str, Any]) -> list[tuple]:
    headers = results.get("headers", {})
    rows = []
    for key, name in (
        ("html", "HTML compressed (gzip or br)"),
        ("json", "JSON compressed (gzip or br)"),
        ("map_etag", "map data: ETag, then 304"),
        ("static_etag", "static file: ETag, then 304"),
    ):
        found = headers.get(key)
        rows.append(
            (
                Target(name, "yes", ">=", 1, ""),
                Measured(
                    None if found is None else float(found[0]), None, found[1] if found else ""
                ),
            )
        )
    return rows


def bbox_targets(results: dict[str, Any], backends: tuple[str, ...]) -> list[tuple]:
    rows = []
    for backend in backends:
        sizes = results.get("bbox", {}).get(backend, {})
        size = largest(sizes)
        ratio = None
        if size is not None:
            ratio = median(sizes[size]["api_ms"]) / median(sizes[size]["raw_ms"])
        rows.append(
            (
                Target(
                    "bbox API vs raw SQL (bench_api_bbox)",
                    "within 3x at 100k",
                    "<=",
                    3,
                    "x",
                    100_000,
                    backend=backend,
                ),
                Measured(ratio, size, "median over median"),
            )
        )
    return rows


def targets_of(
    results: dict[str, Any], mode: Mode, backends: tuple[str, ...]
) -> list[tuple[Target, Measured]]:
    """Every target of issue 14 (and the bbox bench's), with what was measured for it."""
    return [
        *map_targets(results, backends),
        *browser_targets(results),
        *province_targets(results, mode, backends),
        *load_targets(results),
        *memory_target(results, mode),
        *header_targets(results),
        *bbox_targets(results, backends),
    ]


# --- RESULTS.md (pure) --------------------------------------------------------------------------


def number(value: float | None, unit: str = "") -> str:
    if value is None:
        return "–"
    text = f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}" if value else "0"
    return f"{text} {unit}".strip()


def markdown(report: dict[str, Any], figures: list[Figure], targets: list[tuple]) -> str:
    machine = report["machine"]
    lines = [
        "# Benchmark results",
        "",
        f"Written by `bench/run` ({report['mode']} mode); `bench/runner.py` says what each "
        "figure is. Latency targets are judged on p95; a target stated for a size this mode "
        'does not reach is "not measured" (its largest size\'s figure is shown).',
        "",
        f"- command: `{report['command']}`",
        f"- date: {report['date']} (UTC); whole run {report['seconds']:.0f} s (charts included)",
        f"- commit: {report['commit']}",
        f"- machine: {machine['cpus']} CPUs ({machine['cpu_model']}), "
        f"{machine['ram_gb']:.1f} GB RAM, {machine['system']}",
        f"- load average at start {machine['load_start']}, at end {machine['load_end']}",
    ]
    if report.get("note"):
        lines.append(f"- note: {report['note']}")
    lines += [
        "",
        "## Targets",
        "",
        "| target | backend | goal | figure | size | how | verdict |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for target, measured in targets:
        size = f"{measured.size:,}" if measured and measured.size else "–"
        value = measured.value if measured else None
        figure = number(value, target.unit)
        if target.goal == "yes" and value is not None:
            figure = "yes" if value >= 1 else "no"
        lines.append(
            f"| {target.name} | {target.backend or '–'} | {target.goal} | {figure} | {size} | "
            f"{measured.how if measured else ''} | {verdict_text(target, measured)} |"
        )
    lines += [
        "",
        "## Figures",
        "",
        "| bench | backend | assets | item | median | p95 | also |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for row in figures:
        lines.append(
            f"| {row.bench} | {row.backend} | {row.size:,} | {row.item} | "
            f"{number(row.median, row.unit)} | {number(row.p95, row.unit)} | {row.extra} |"
        )
    if report.get("other"):
        lines += [
            "",
            "## Other benches (no issue-14 target: figures only)",
            "",
            "Each as its script prints it (`runner.OTHER_BENCHES` says which run and which not).",
        ]
        for bench in report["other"]:
            lines += [
                "",
                f"### {bench['what']}",
                "",
                f"`.venv/bin/python {bench['command']}`: {bench['seconds']:.0f} s"
                + (f"; **failed**: {bench['error'].splitlines()[0]}" if bench["error"] else ""),
                "",
                "```",
                bench["output"].strip()[-3000:] or "(nothing printed)",
                "```",
            ]
    if report.get("errors"):
        lines += ["", "## Benches that failed", ""]
        for name, error in report["errors"].items():
            lines += [f"- `{name}`:", "", "```", error.strip()[-2000:], "```"]
    if report.get("charts"):
        lines += ["", "## Charts", ""]
        lines += [f"![{path.stem}](results/{path.name})" for path in report["charts"]]
    return "\n".join(lines) + "\n"


# --- Charts -------------------------------------------------------------------------------------


def charts(results: dict[str, Any], directory: Path) -> list[Path]:
    """Cost against registry size, one line per backend (sizes on a log scale, costs from
    zero): the map (server time, bytes), the bbox API and its raw baseline, the dashboard, the
    alert run."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    directory.mkdir(parents=True, exist_ok=True)
    written = []

    def save(figure, name: str) -> None:
        figure.tight_layout()
        path = directory / name
        figure.savefig(path, dpi=100)
        plt.close(figure)
        written.append(path)

    def axes_for(axis, title: str, ylabel: str) -> None:
        axis.set_title(title)
        axis.set_xlabel("registry size (assets)")
        axis.set_ylabel(ylabel)
        axis.set_xscale("log")
        axis.set_ylim(bottom=0, top=max(1.0, axis.get_ylim()[1] * 1.1))
        axis.grid(True, which="both", alpha=0.3)

    viewport = results.get("viewport", {})
    if viewport:
        figure, (time_axis, size_axis) = plt.subplots(1, 2, figsize=(10, 4))
        for backend, sizes in viewport.items():
            xs = sorted(sizes)
            time_axis.plot(
                xs, [median(sizes[x]["map"]["times_ms"]) for x in xs], "o-", label=backend
            )
            size_axis.plot(xs, [sizes[x]["map"]["bytes"] / 1000 for x in xs], "o-", label=backend)
        axes_for(time_axis, "/map first view: server time (median)", "ms")
        axes_for(size_axis, "/map first view: bytes (uncompressed)", "KB")
        time_axis.legend()
        size_axis.legend()
        save(figure, "map.png")
    bbox = results.get("bbox", {})
    if bbox:
        figure, axis = plt.subplots(figsize=(6, 4))
        for backend, sizes in bbox.items():
            xs = sorted(sizes)
            axis.plot(xs, [median(sizes[x]["api_ms"]) for x in xs], "o-", label=f"{backend} API")
            axis.plot(
                xs, [median(sizes[x]["raw_ms"]) for x in xs], "s--", label=f"{backend} raw SQL"
            )
        axes_for(axis, "bbox API vs raw SQL (median)", "ms")
        axis.legend()
        save(figure, "bbox.png")
    province = results.get("province", {})
    for name, item, title in (
        ("dashboard.png", "dashboard /", "dashboard / (median)"),
        ("alert.png", "weekly alert composition", "weekly alert composition (one run)"),
    ):
        if not province:
            continue
        figure, axis = plt.subplots(figsize=(6, 4))
        for backend, sizes in province.items():
            xs = sorted(size for size in sizes if item in sizes[size])
            axis.plot(xs, [sizes[x][item]["median_ms"] for x in xs], "o-", label=backend)
        axes_for(axis, title, "ms")
        axis.legend()
        save(figure, name)
    return written


# --- Measuring ----------------------------------------------------------------------------------


class RssSampler:
    """Samples, every 0.1 s, this process's RSS per named window (its peak)."""

    def __init__(self) -> None:
        import psutil

        self.process = psutil.Process()
        self.window: str | None = None
        self.peaks: dict[str, float] = {}
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.sample, daemon=True)

    def sample(self) -> None:
        while not self.stopping.wait(0.1):
            if self.window:
                rss = self.process.memory_info().rss / 2**20
                self.peaks[self.window] = max(self.peaks.get(self.window, 0.0), rss)

    @contextmanager
    def during(self, window: str) -> Iterator[None]:
        self.window = window
        try:
            yield
        finally:
            self.window = None

    def __enter__(self) -> RssSampler:
        self.thread.start()
        return self

    def __exit__(self, *_exc) -> None:
        self.stopping.set()
        self.thread.join()


def check_headers() -> dict[str, tuple[bool, str]]:
    """Compression and ETag/304, by requests through the app (test client) on a district of
    454 assets in SpatiaLite."""
    sys.path.insert(0, str(BENCH))
    import bench_map
    from flask_migrate import upgrade

    from accounts.models import Contractor
    from app import create_app
    from core.extensions import db
    from tests import factories
    from tests.conftest import test_config

    found: dict[str, tuple[bool, str]] = {}
    accept = {"Accept-Encoding": "br, gzip"}
    with tempfile.TemporaryDirectory() as directory:
        url = f"sqlite:///{Path(directory) / 'headers.sqlite'}"
        app = create_app(test_config(url, TESTING=False, MAP_TILES="none"))
        with app.app_context():
            upgrade()
            factories.gen_district()
            factories.gen_user("bench@example.org", "officer")
            contractor = Contractor(name="Bench Fire Services")
            db.session.add(contractor)
            db.session.commit()
            bench_map.add_assets(1, 454, contractor.id)
            db.session.remove()
        client = app.test_client()
        client.post("/login", data={"email": "bench@example.org", "password": factories.PASSWORD})
        page = client.get("/map", headers=accept)
        encoding = page.headers.get("Content-Encoding", "none")
        found["html"] = (encoding in ("br", "gzip"), f"/map: Content-Encoding {encoding}")
        path = "/api/v1/map/assets?zoom=12&bbox=119.05,36.66,119.35,36.80"
        data = client.get(path, headers=accept)
        encoding = data.headers.get("Content-Encoding", "none")
        found["json"] = (encoding in ("br", "gzip"), f"map data: Content-Encoding {encoding}")
        found["map_etag"] = revalidated(client, path, accept)
        found["static_etag"] = revalidated(client, "/static/css/app.css", accept)
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
    return found


def revalidated(client, path: str, headers: dict[str, str]) -> tuple[bool, str]:
    first = client.get(path, headers=headers)
    etag = first.headers.get("ETag")
    first.close()
    if first.status_code != 200 or not etag:
        return False, f"{path}: {first.status_code}, ETag {etag}"
    again = client.get(path, headers={**headers, "If-None-Match": etag})
    again.close()
    return again.status_code == 304, f"{path}: ETag {etag}, again {again.status_code}"


def database(base: str, bench: str) -> str:
    from sqlalchemy.engine import make_url

    target = make_url(base)
    return target.set(database=f"{target.database}_{bench}").render_as_string(hide_password=False)


# Runs one bench's main() as its script would, its POSTGIS_URL (if any) set first.
CALL = """import sys
root = sys.argv[1]
sys.path[:0] = [root, root + "/bench"]
module = __import__(sys.argv[2])
if hasattr(module, "POSTGIS_URL"):
    module.POSTGIS_URL = sys.argv[3]
sys.argv = [sys.argv[2] + ".py", *sys.argv[4:]]
module.main()
"""


def other_command(module: str, arguments: tuple[str, ...], url: str) -> list[str]:
    """``bench/<module>.py arguments`` with its PostGIS database at ``url``."""
    return [sys.executable, "-c", CALL, str(ROOT), module, url, *arguments]


def printed_figures(output: str) -> str:
    """A bench's printed lines without log lines."""
    return "\n".join(
        line
        for line in output.splitlines()
        if line.strip() and not line.startswith(("INFO ", "WARNING ", "DEBUG "))
    )


def drop_database(url: str) -> None:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    target = make_url(url)
    admin = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)'))
    admin.dispose()


def other_benches(postgis: str, log) -> list[dict[str, Any]]:
    """OTHER_BENCHES in turn: what, the command as typed, seconds, printed figures, error."""
    found = []
    for what, module, arguments in OTHER_BENCHES:
        url = database(postgis, module.removeprefix("bench_"))
        command = other_command(module, arguments, url)
        started = time.perf_counter()
        error = ""
        try:
            done = subprocess.run(
                command,
                cwd=ROOT,
                capture_output=True,
                text=True,
                timeout=OTHER_TIMEOUT,
                check=False,
            )
            output = done.stdout
            if done.returncode:
                error = f"exit {done.returncode}: {done.stderr.strip()[-1500:]}"
        except subprocess.TimeoutExpired as expired:
            output = expired.stdout or ""
            output = output.decode() if isinstance(output, bytes) else output
            error = f"stopped after {OTHER_TIMEOUT} s"
        seconds = time.perf_counter() - started
        drop_database(url)  # some leave theirs
        log(f"  {module}: {seconds:.0f} s{' (' + error.splitlines()[0] + ')' if error else ''}")
        found.append(
            {
                "what": what,
                "command": shlex.join([f"bench/{module}.py", *arguments]),
                "seconds": seconds,
                "output": printed_figures(output),
                "error": error,
            }
        )
    return found


# --- Provinces, each loaded once ----------------------------------------------------------------

# The benches that read a synthetic province, in the order they run on each one: what
# measures the province as loaded first, what writes to it last. The province in Chromium
# only reads (sign-ins aside); bench_province renames an asset between dashboard views,
# builds the dashboard's snapshot, makes a calendar feed and, last, deletes the future
# scheduled inspections and generates them again (the horizon whole again after); the load
# test issues tokens and logs results into it.
PROVINCE_BENCHES = ("province_browser", "province", "load")


def province_needs(
    mode: Mode, backends: tuple[str, ...], only: tuple[str, ...]
) -> dict[tuple[str, int], list[str]]:
    """{(backend, size): the province benches that run on that province, in order}; the
    backends in the order asked, each's sizes smallest first."""
    wanted: dict[tuple[str, int], set[str]] = {}
    if "province" in only:
        for backend in backends:
            for size in mode.province_sizes[backend]:
                wanted.setdefault((backend, size), set()).add("province")
    if "province_browser" in only and backends:
        browser_backend = "postgis" if "postgis" in backends else "spatialite"
        wanted.setdefault((browser_backend, mode.browser_province), set()).add("province_browser")
    if "load" in only and mode.load and "postgis" in backends:
        wanted.setdefault(("postgis", mode.load["assets"]), set()).add("load")
    return {
        key: [name for name in PROVINCE_BENCHES if name in wanted[key]]
        for key in sorted(wanted, key=lambda key: (backends.index(key[0]), key[1]))
    }


@dataclass(frozen=True)
class LoadedProvince:
    url: str
    seconds: float  # the load, the dashboard's roll-ups included
    rollup_seconds: float  # the map's roll-up, built after it


def province_url(backend: str, size: int, directory: Path, postgis: str) -> str:
    """A file in ``directory`` (SpatiaLite) or the database ``<prefix>_province_<size>``."""
    if backend == "spatialite":
        return f"sqlite:///{directory / f'province-{size}.sqlite'}"
    return database(postgis, f"province_{size}")


def load_shared_province(
    backend: str, size: int, per_asset: int, directory: Path, postgis: str
) -> LoadedProvince:
    """A new database holding the province of ``size`` assets and ``per_asset`` inspections
    each (``flask demo province --assets size`` at its default of 10), then the map's roll-up
    built as the scheduler would."""
    from flask_migrate import upgrade

    from app import create_app
    from core.extensions import db
    from demo.province import Province, load_province
    from maps.rollup import refresh_map_rollup
    from tests.conftest import recreate_postgis_database, test_config

    url = province_url(backend, size, directory, postgis)
    if backend == "postgis":
        recreate_postgis_database(url)
    app = create_app(
        test_config(url, TESTING=False, MAP_TILES="none", PHOTO_DIR=str(directory / "photos"))
    )
    try:
        with app.app_context():
            upgrade(directory=str(ROOT / "migrations"))
            loaded = load_province(Province(size, size * per_asset))
            started = time.perf_counter()
            refresh_map_rollup()
            rollup_seconds = time.perf_counter() - started
            db.session.remove()
            db.engine.dispose()
    except BaseException:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
        drop_shared_province(url)  # on_provinces drops only what loaded
        raise
    return LoadedProvince(url, loaded.seconds, rollup_seconds)


def drop_shared_province(url: str) -> None:
    from sqlalchemy.engine import make_url

    target = make_url(url)
    if target.get_backend_name() == "sqlite":
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(f"{target.database}{suffix}").unlink(missing_ok=True)
    else:
        drop_database(url)


def on_provinces(
    needs: dict[tuple[str, int], list[str]],
    load: Callable[[str, int], LoadedProvince],
    drop: Callable[[str], None],
    benches: dict[str, Callable[[str, int, str], Any]],
    attempt: Callable[[str, str, int, Callable[[], Any]], Any],
) -> None:
    """Each needed province loaded once (``load(backend, size)``), the benches that need it
    run on it in turn (``benches[name](backend, size, url)``), then dropped before the next
    is loaded. Every step goes through ``attempt(name, backend, size, step)``, which keeps
    its figures and returns them, or keeps its error and returns None: a province that did
    not load runs nothing; a bench that failed does not stop the next."""
    for (backend, size), names in needs.items():
        loaded = attempt("loading", backend, size, partial(load, backend, size))
        if loaded is None:
            continue
        try:
            for name in names:
                attempt(name, backend, size, partial(benches[name], backend, size, loaded.url))
        finally:
            drop(loaded.url)


def run_benches(
    mode: Mode, backends: tuple[str, ...], only: tuple[str, ...], postgis: str, log
) -> tuple[dict[str, Any], dict[str, str]]:
    """Each bench in turn (a failing one is reported, the others still run); the province
    benches on each province in turn (``on_provinces``), each province loaded once."""
    sys.path.insert(0, str(ROOT))
    sys.path.insert(0, str(BENCH))
    import bench_api_bbox
    import bench_load
    import bench_map
    import bench_map_browser
    import bench_map_viewport
    import bench_province

    bench_map.POSTGIS_URL = database(postgis, "map")
    bench_api_bbox.POSTGIS_URL = database(postgis, "bbox")
    bench_province.POSTGIS_URL = database(postgis, "province")
    bench_load.POSTGIS_URL = database(postgis, "load")

    results: dict[str, Any] = {"memory": {}}
    errors: dict[str, str] = {}

    def keep(name: str, backend: str, size: int, found: Any) -> None:
        if name == "loading":
            results.setdefault("provinces", {}).setdefault(backend, {})[size] = {
                "seconds": found.seconds,
                "rollup_s": found.rollup_seconds,
            }
        elif name == "province":
            results.setdefault("province", {}).setdefault(backend, {})[size] = found[backend]
        else:
            results[name] = found

    with RssSampler() as sampler, tempfile.TemporaryDirectory(prefix="bench-run-") as temp:

        def attempt(name: str, step: Callable[[], Any], label: str = "") -> Any:
            label = label or name
            started = time.perf_counter()
            log(f"{label} …")
            try:
                with sampler.during(name):
                    found = step()
            except (Exception, SystemExit):
                errors[label] = traceback.format_exc()
                log(f"{label} failed:\n{errors[label]}")
                return None
            finally:
                log(f"{label}: {time.perf_counter() - started:.0f} s")
            return found

        def attempt_on(name: str, backend: str, size: int, step: Callable[[], Any]) -> Any:
            found = attempt(name, step, f"{name} ({backend}, {size:,} assets)")
            if found is not None:
                keep(name, backend, size, found)
            return found

        steps: dict[str, Callable[[], Any]] = {
            "headers": check_headers,
            "viewport": lambda: bench_map_viewport.run(mode.sizes, backends, mode.repeat),
            "bbox": lambda: bench_api_bbox.run(mode.sizes, mode.repeat * 2, backends),
            "browser": lambda: bench_map_browser.run(mode.browser_runs),
        }
        for name, step in steps.items():
            if name in only:
                found = attempt(name, step)
                if found is not None:
                    results[name] = found
        province_benches: dict[str, Callable[[str, int, str], Any]] = {
            "province_browser": lambda backend, size, url: bench_map_browser.run_province(
                size, backend, mode.browser_province_runs, mode.moves, loaded_url=url
            ),
            "province": lambda backend, size, url: bench_province.run(
                size, mode.per_asset, (backend,), mode.runs, url
            ),
            "load": lambda backend, size, url: bench_load.run(**mode.load, database_url=url),
        }
        on_provinces(
            province_needs(mode, backends, only),
            lambda backend, size: load_shared_province(
                backend, size, mode.per_asset, Path(temp), postgis
            ),
            drop_shared_province,
            province_benches,
            attempt_on,
        )
        if mode.other and "other" in only:
            found = attempt("other", lambda: other_benches(postgis, log))
            if found is not None:
                results["other"] = found
    served = [sampler.peaks[name] for name in ("viewport", "province") if name in sampler.peaks]
    if served:
        results["memory"]["process_mb"] = max(served)
        results["memory"]["process_size"] = max(mode.sizes)
    return results, errors


# --- The machine and the run --------------------------------------------------------------------


def machine(load_start: tuple[float, ...]) -> dict[str, Any]:
    model = "unknown"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    ram = 0.0
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        for line in meminfo.read_text().splitlines():
            if line.startswith("MemTotal:"):
                ram = int(line.split()[1]) / 2**20
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "ram_gb": ram,
        "system": f"{platform.system()} {platform.release()}, Python {platform.python_version()}",
        "load_start": " ".join(f"{value:.2f}" for value in load_start),
        "load_end": " ".join(f"{value:.2f}" for value in os.getloadavg()),
    }


def commit() -> str:
    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True)
        return done.stdout.strip()

    head = git("rev-parse", "--short=12", "HEAD") or "unknown"
    dirty = git("status", "--porcelain", "--untracked-files=no")
    return f"{head}{' (with uncommitted changes)' if dirty else ''}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    chosen = parser.add_mutually_exclusive_group()
    chosen.add_argument("--quick", action="store_true", help="454 and 10k assets, no load test")
    chosen.add_argument("--province", action="store_true", help="adds 1M assets, 10M inspections")
    parser.add_argument(
        "--postgis-url",
        default=DEFAULT_POSTGIS,
        help="server and database-name prefix of the PostGIS databases",
    )
    parser.add_argument("--backends", default="spatialite,postgis")
    parser.add_argument("--only", default=",".join(BENCHES), help="some of " + ",".join(BENCHES))
    parser.add_argument(
        "--output",
        type=Path,
        default=BENCH,
        help="where RESULTS.md and results/ go (default bench/)",
    )
    parser.add_argument("--note", default="", help="a line for RESULTS.md")
    args = parser.parse_args(argv)
    mode = MODES["quick" if args.quick else "province" if args.province else "default"]
    backends = tuple(name.strip() for name in args.backends.split(",") if name.strip())
    only = tuple(name.strip() for name in args.only.split(",") if name.strip())
    unknown = set(only) - set(BENCHES)
    if unknown:
        parser.error(f"unknown benches: {', '.join(sorted(unknown))}")

    def log(message: str) -> None:
        print(f"[{time.perf_counter() - started:6.0f} s] {message}", file=sys.stderr, flush=True)

    load_start = os.getloadavg()
    date = datetime.now(UTC).strftime("%Y-%m-%d %H:%M")
    started = time.perf_counter()
    results, errors = run_benches(mode, backends, only, args.postgis_url, log)
    written = charts(results, args.output / "results")
    seconds = time.perf_counter() - started
    report = {
        "mode": mode.name,
        "command": shlex.join(["bench/run", *(sys.argv[1:] if argv is None else argv)]),
        "date": date,
        "seconds": seconds,
        "commit": commit(),
        "machine": machine(load_start),
        "errors": errors,
        "charts": written,
        "note": args.note,
        "other": results.get("other", []),
    }
    figures = figures_of(results, mode)
    targets = targets_of(results, mode, backends)
    (args.output / "RESULTS.md").write_text(markdown(report, figures, targets))
    for target, measured in targets:
        print(f"{judge(target, measured):13} {target.name} ({target.backend or '-'})")
    print(f"whole run {seconds:.0f} s; {args.output / 'RESULTS.md'}")
    if errors:
        raise SystemExit(f"failed: {', '.join(errors)}")


if __name__ == "__main__":
    main()
