"""Time to markers visible on /map in headless Chromium, with the demo district (454 assets).

Usage: .venv/bin/python bench/bench_map_browser.py [--runs 15]

The demo district is loaded into a fresh SpatiaLite database (this measures the page in the
browser; bench_map.py times /map on each backend) and served on 127.0.0.1 by a threaded
Werkzeug server, without tiles. Debian's Chromium (driven by Playwright) opens /map as the
demo officer in a fresh browser context each run (nothing cached) and reports, from the
start of navigation: the first marker or cluster on screen, and all 454 assets drawn
(markers plus cluster counts). Median and worst of ``--runs``; ``run(...)`` returns every
run's figures for ``bench/run``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from flask_migrate import upgrade  # noqa: E402
from playwright.sync_api import sync_playwright  # noqa: E402
from werkzeug.serving import make_server  # noqa: E402

from app import create_app  # noqa: E402
from core.extensions import db  # noqa: E402
from demo.district import ACCOUNTS, OFFICER, load_demo_district  # noqa: E402

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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
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
