"""Time to markers visible on /map in headless Chromium, with the demo district (454 assets).

Usage: .venv/bin/python bench/bench_map_browser.py [--runs 15]

The demo district is loaded into a fresh SpatiaLite database (this measures the page in the
browser; bench_map.py times /map on each backend) and served on 127.0.0.1 by a threaded
Werkzeug server, without tiles. Debian's Chromium (driven by Playwright) opens /map as the
demo officer in a fresh browser context each run (nothing cached) and reports, from the
start of navigation: the first marker or cluster on screen, and all 454 assets drawn
(markers plus cluster counts). Median and worst of ``--runs``; ``run(...)`` returns every
run's figures for ``bench/run``.

``--assets N`` instead measures a synthetic province of N assets (``demo province``, one
inspection per asset; PostGIS by default, ``--backend spatialite``), served the same way, as
the province's officer (every grid): the first marker or cluster on screen (``--runs`` fresh
contexts), then ``--moves`` pans and zooms in one page (``run_province(...)``). A move is made
without animation (``setView``/``panBy``, ``animate: false``: the animation's length is
Leaflet's, not ours) and "settles" when ``maps/static/map.js`` has drawn the answer for the new
view (``data-view-settled`` counts them; the cluster group's chunked adding finished) and a
frame has been painted. Each settle is split into the time before the view's request (the
move's own work, markercluster's re-clustering included, and the viewport's 80 ms debounce),
the request (Resource Timing) and the drawing after it. The moves are a
fixed sequence: zoom in two levels on one of the biggest clusters in view, pan half a screen,
again, down to street level (17), then back out. Targets (issue 14, at 1M assets): first
markers < 2 s, pan/zoom settles < 300 ms p95.
"""

from __future__ import annotations

import argparse
import logging
import random
import statistics
import sys
import tempfile
import threading
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from flask_migrate import upgrade  # noqa: E402
from playwright.sync_api import sync_playwright  # noqa: E402
from werkzeug.serving import make_server  # noqa: E402

from app import create_app  # noqa: E402
from core.extensions import db  # noqa: E402
from demo.district import ACCOUNTS, OFFICER, load_demo_district  # noqa: E402
from demo.province import EMAIL_DOMAIN, PASSWORDS, Province, load_province  # noqa: E402
from tests.conftest import recreate_postgis_database, test_config  # noqa: E402

POSTGIS_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/bench_map_browser"
PROVINCE_OFFICER = f"officer@{EMAIL_DOMAIN}"
MAX_ZOOM = 17
SETTLE_TIMEOUT_MS = 60_000

CHROMIUM = "/usr/bin/chromium"
DRAWN = """() => {
  let total = 0;
  document.querySelectorAll('.leaflet-marker-icon.sar-cluster').forEach(icon => {
    total += Number(icon.querySelector('[data-count]').dataset.count);
  });
  return total + document.querySelectorAll('.leaflet-marker-icon.sar-marker').length;
}"""


def run(runs: int = 15) -> dict[str, list[float]]:
    """{"first_marker_ms": [...], "all_drawn_ms": [...]}: ``runs`` runs after a warm-up one."""
    password = next(entry[1] for entry in ACCOUNTS if entry[0] == OFFICER)
    with tempfile.TemporaryDirectory() as directory:
        app = create_app(
            {
                "SQLALCHEMY_DATABASE_URI": f"sqlite:///{Path(directory) / 'demo.sqlite'}",
                "SECRET_KEY": "bench",
                "MAP_TILES": "none",
                "SCHEDULER_ENABLED": False,
                "WTF_CSRF_ENABLED": False,
            }
        )
        with app.app_context():
            upgrade(directory=str(ROOT / "migrations"))
            load_demo_district()
            db.session.remove()
        server = make_server("127.0.0.1", 0, app, threaded=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        base = f"http://127.0.0.1:{server.server_port}"
        first_marker, all_drawn = [], []
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path=CHROMIUM, args=["--no-sandbox"]
                )
                for _run in range(runs + 1):  # the first run warms the server up
                    first, drawn = one_run(browser, base, password)
                    if _run:
                        first_marker.append(first)
                        all_drawn.append(drawn)
                browser.close()
        finally:
            server.shutdown()
            with app.app_context():
                db.engine.dispose()
    return {"first_marker_ms": first_marker, "all_drawn_ms": all_drawn}


def one_run(browser, base: str, password: str) -> tuple[float, float]:
    """A fresh context (nothing cached): ms to the first marker, ms to all 454 drawn."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    response = context.request.post(base + "/login", form={"email": OFFICER, "password": password})
    assert response.ok
    page = context.new_page()
    page.goto(base + "/map", wait_until="commit")
    page.wait_for_selector(".leaflet-marker-icon.sar-marker, .sar-cluster")
    first = page.evaluate("performance.now()")
    page.wait_for_function(f"() => ({DRAWN})() === 454")
    drawn = page.evaluate("performance.now()")
    context.close()
    return first, drawn


# One move, then until its view's answer is drawn: {"settle", "wait", "request", "draw" (ms),
# "zoom", "view"}. window.sarMap is the page's map (maps/build.py).
MOVE = """async ([kind, r, zoom]) => {
  const map = window.sarMap;
  const box = map.getContainer();
  const group = map.sarCluster;
  if (group && !group.sarBenchHooked) {
    group.sarBenchHooked = true;
    group.options.chunkProgress = (done, total) => { window.sarBenchChunking = done < total; };
  }
  const before = Number(box.getAttribute("data-view-settled") || 0);
  let target = map.getCenter();
  if (kind === "in") {
    const bounds = map.getBounds();
    const found = [];
    map.eachLayer((layer) => {
      if (!layer.getLatLng || !bounds.contains(layer.getLatLng())) return;
      const count = layer.options.sarCount || (layer.getChildCount && layer.getChildCount()) ||
        (layer.options.sarStatus ? 1 : 0);
      if (count) found.push([count, layer.getLatLng()]);
    });
    found.sort((a, b) => b[0] - a[0]);
    if (found.length) target = found[Math.floor(r * Math.min(5, found.length))][1];
  }
  performance.clearResourceTimings();
  const started = performance.now();
  if (kind === "in") {
    map.setView(target, zoom, { animate: false });
  } else if (kind === "out") {
    map.setZoom(zoom, { animate: false });
  } else {
    const size = map.getSize();
    const angle = r * 2 * Math.PI;
    map.panBy([Math.cos(angle) * size.x / 2, Math.sin(angle) * size.y / 2], { animate: false });
  }
  await new Promise((resolve, reject) => {
    function check() {
      if (Number(box.getAttribute("data-view-settled")) > before && !window.sarBenchChunking) {
        requestAnimationFrame(() => resolve());
      } else if (performance.now() - started > __TIMEOUT__) {
        reject(new Error("the view did not settle"));
      } else {
        setTimeout(check, 1);
      }
    }
    check();
  });
  const settle = performance.now() - started;
  const asked = performance.getEntriesByType("resource").filter(
    (entry) => entry.name.indexOf("/api/v1/map/assets") >= 0);
  const last = asked[asked.length - 1];
  return {
    settle: settle,
    wait: last ? last.startTime - started : null,
    request: last ? last.responseEnd - last.startTime : null,
    draw: last ? settle - (last.responseEnd - started) : null,
    zoom: map.getZoom(),
    view: box.getAttribute("data-view"),
  };
}""".replace("__TIMEOUT__", str(SETTLE_TIMEOUT_MS))
ZOOM = "() => window.sarMap.getZoom()"


def move_plan(start_zoom: int, moves: int, seed: int = 14) -> list[tuple[str, float, int]]:
    """``moves`` (kind, random number, zoom after it): zoom in two levels and pan, down to
    street level (MAX_ZOOM), then zoom out and pan back up to ``start_zoom``, and again."""
    rng = random.Random(seed)
    plan: list[tuple[str, float, int]] = []
    zoom, going_in = start_zoom, True
    while len(plan) < moves:
        if going_in and zoom >= MAX_ZOOM:
            going_in = False
        elif not going_in and zoom <= start_zoom:
            going_in = True
        zoom = min(zoom + 2, MAX_ZOOM) if going_in else max(zoom - 2, start_zoom)
        plan += [("in" if going_in else "out", rng.random(), zoom), ("pan", rng.random(), zoom)]
    return plan[:moves]


@contextmanager
def province_server(assets: int, backend: str, postgis_url: str, loaded_url: str | None = None):
    """A province of ``assets`` assets in a new database, served on 127.0.0.1: its base URL.
    With ``loaded_url``, that database's province instead (loaded already, kept after)."""
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    with tempfile.TemporaryDirectory() as directory:
        if loaded_url:
            url = loaded_url
        elif backend == "postgis":
            url = recreate_postgis_database(postgis_url)
        else:
            url = f"sqlite:///{Path(directory) / 'province.sqlite'}"
        app = create_app(
            test_config(url, TESTING=False, MAP_TILES="none", PHOTO_DIR=str(Path(directory)))
        )
        server = None
        try:
            if not loaded_url:
                with app.app_context():
                    upgrade(directory=str(ROOT / "migrations"))
                    load_province(Province(assets, assets))
                    db.session.remove()
            server = make_server("127.0.0.1", 0, app, threaded=True)
            threading.Thread(target=server.serve_forever, daemon=True).start()
            yield f"http://127.0.0.1:{server.server_port}"
        finally:
            if server is not None:
                server.shutdown()
            with app.app_context():
                db.session.remove()
                db.engine.dispose()
            if backend == "postgis" and not loaded_url:
                drop_database(url)


def drop_database(url: str) -> None:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    target = make_url(url)
    admin = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)'))
    admin.dispose()


def run_province(
    assets: int,
    backend: str = "postgis",
    runs: int = 3,
    moves: int = 20,
    postgis_url: str | None = None,
    loaded_url: str | None = None,
) -> dict:
    """{"assets", "backend", "first_marker_ms": [per run], "first_view_ms": [per run],
    "moves": [MOVE's figures per move, with its "kind"]}; the first run warms the server."""
    first_marker, first_view, timed = [], [], []
    server = province_server(assets, backend, postgis_url or POSTGIS_URL, loaded_url)
    with server as base, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            for attempt in range(runs + 1):
                context, page, first, view = open_map(
                    browser, base, PROVINCE_OFFICER, PASSWORDS["officer"]
                )
                if attempt:
                    first_marker.append(first)
                    first_view.append(view)
                if attempt == runs:
                    start = page.evaluate(ZOOM)
                    page.evaluate(MOVE, ["pan", 0.0, start])  # warms the code paths up
                    for kind, number, zoom in move_plan(int(start), moves):
                        figures = page.evaluate(MOVE, [kind, number, zoom])
                        timed.append({"kind": kind, **figures})
                context.close()
        finally:
            browser.close()
    return {
        "assets": assets,
        "backend": backend,
        "first_marker_ms": first_marker,
        "first_view_ms": first_view,
        "moves": timed,
    }


def open_map(browser, base: str, email: str, password: str):
    """A fresh context signed in, /map opened: (context, page, ms to the first marker or
    cluster, ms to the first view's answer drawn)."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    response = context.request.post(base + "/login", form={"email": email, "password": password})
    assert response.ok
    page = context.new_page()
    page.goto(base + "/map", wait_until="commit")
    page.wait_for_selector(".leaflet-marker-icon.sar-marker, .sar-cluster", timeout=120_000)
    first = page.evaluate("performance.now()")
    page.wait_for_selector("[data-view-settled]", state="attached", timeout=120_000)
    view = page.evaluate("performance.now()")
    return context, page, first, view


def print_province(result: dict) -> None:
    moves = result["moves"]
    settles = [move["settle"] for move in moves]
    print(
        f"/map in Chromium, province of {result['assets']:,} assets ({result['backend']}), "
        f"{len(result['first_marker_ms'])} fresh runs, {len(moves)} moves:"
    )
    first = result["first_marker_ms"]
    print(f"  first marker:  median {statistics.median(first):.0f} ms, worst {max(first):.0f} ms")
    view = result["first_view_ms"]
    print(f"  first view:    median {statistics.median(view):.0f} ms, worst {max(view):.0f} ms")
    ordered = sorted(settles)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    print(f"  settles:       median {statistics.median(settles):.0f} ms, p95 {p95:.0f} ms")
    for move in moves:
        parts = " ".join(
            f"{name} {move[name]:.0f}" for name in ("wait", "request", "draw") if move[name]
        )
        print(
            f"    {move['kind']:<4} to z{move['zoom']:<3} {move['view']:<9} "
            f"settle {move['settle']:5.0f} ms ({parts})"
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--assets", type=int, help="a province of this size instead")
    parser.add_argument("--backend", default="postgis", choices=["postgis", "spatialite"])
    parser.add_argument("--moves", type=int, default=20)
    parser.add_argument(
        "--database-url",
        help="a province loaded already (`demo province`, its map roll-up built): served as "
        "it is, not dropped; --assets then only labels the report",
    )
    args = parser.parse_args()
    if args.assets:
        print_province(
            run_province(
                args.assets, args.backend, args.runs, args.moves, loaded_url=args.database_url
            )
        )
        return
    result = run(args.runs)
    first_marker, all_drawn = result["first_marker_ms"], result["all_drawn_ms"]
    print(f"/map in Chromium, demo district (454 assets), {args.runs} runs:")
    print(
        f"  first marker visible: median {statistics.median(first_marker):.0f} ms, "
        f"worst {max(first_marker):.0f} ms"
    )
    print(
        f"  all 454 drawn:        median {statistics.median(all_drawn):.0f} ms, "
        f"worst {max(all_drawn):.0f} ms"
    )


if __name__ == "__main__":
    main()
