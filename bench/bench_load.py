"""The load test (issue 14): gunicorn under locust on PostGIS, against a raw-SQL baseline.

1. A new PostGIS database (``sar_load_bench`` on 127.0.0.1:5432) gets the synthetic province
   (``flask --app app db upgrade``, ``flask --app app demo province --assets N``).
2. Setup, in this process: an API token for each simulated officer (``issue_api_token``, what
   ``flask users token`` calls: one app start instead of one per token), the contractors'
   tokens and their scheduled inspections with the answers each needs, split so that no two
   users or runs log the same one; and the statements the app runs for ``GET
   /api/v1/assets?bbox=…``, captured from its cursor, for the baseline.
3. For each worker count: the app (``gunicorn -k sync -w W 'app:create_app()'``) and the
   baseline (``bench/load/baseline.py``: no Flask, the same SQL, the same bytes) start on free
   loopback ports with the same settings; the two bodies are compared byte for byte for a few
   bboxes; each request class is measured unloaded (one locust user for a few seconds: the
   median of sequential requests in the mix); then locust runs headless with U users for D
   seconds (``bench/load/locustfile.py``: 40% bbox API, 20% overdue list, 20% pages, 10% map,
   10% result logging), first in a closed loop (no pause), then paced; then the same U users
   ask the app for bboxes alone (like for like with the baseline), then the baseline's bbox
   endpoint, both in a closed loop. The app's workers' RSS is sampled (psutil) throughout.
4. Prints per class req/s, p50/p95/p99, errors and p95 over the unloaded median (of the paced
   run), the closed loops' throughputs and the workers' peak RSS. Targets (2 workers): 0
   errors; throughput at least 0.5x the baseline's, judged as the bbox class alone over the
   baseline (the same requests), the mix's ratio shown beside it; no class's p95 above 3x its
   unloaded median.

Reading it: in a closed loop the users form a queue, so a request waits for the others ahead
of it: latency is about users divided by throughput (Little's law), and at 50 users on 2
workers every class's p95 is many times its unloaded median whatever the app does. So that
target is judged on the paced run, where each user pauses between requests (``--wait``, mean
seconds; by default the pause at which the users offer half what the closed-loop mix served,
``--utilisation 0.5``, so the target asks whether one class slows the others below capacity
on any machine); the throughput ratio needs the closed loop. The mix's total includes pages,
each several bbox requests' worth of work, so it is shown beside the bbox class, not judged.

Every process it starts is stopped and the database dropped, whatever happens; everything
listens on 127.0.0.1; each locust run is bounded (``-t``, and a timeout around it).

Usage: .venv/bin/python bench/bench_load.py [--assets 10000] [--duration 60] [--users 50]
           [--workers 2,4] [--unloaded 15] [--wait SECONDS | --utilisation 0.5]
Needs the ``bench`` extra (locust, gunicorn). ``run(...)`` returns the figures as a dict.
"""

from __future__ import annotations

import argparse
import heapq
import http.cookiejar
import json
import math
import os
import random
import re
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, event, func, select, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from tests.conftest import recreate_postgis_database  # noqa: E402

POSTGIS_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/sar_load_bench"
BIN = Path(sys.executable).parent
LOAD_DIR = ROOT / "bench" / "load"
CLASSES = ("bbox", "overdue", "page", "map", "result")
# Each company's nearest-due scheduled inspections the result class logs, far more than the
# runs log (a few thousand in all): a province's 1M assets schedule millions, which read
# whole through the ORM took 5.6 GB and minutes before the first request.
INSPECTIONS_PER_COMPANY = 20_000
CODES_PER_GRID = 50
RUNS = ("warm", "unloaded", "paced", "loaded")  # the runs that log results, in turn
SLICE_WEIGHTS = (1, 1, 3, 6)  # of each user's inspections, per run of RUNS
TARGET_RATIO, TARGET_P95 = 0.5, 3.0
CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


# --- Processes ----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def server_environment(url: str, directory: Path) -> dict[str, str]:
    """The app's settings: no scheduler, sign-in limits that never lock the bench."""
    return {
        **os.environ,
        "DATABASE_URL": url,
        "SECRET_KEY": secrets.token_hex(32),
        "SCHEDULER_ENABLED": "0",
        "RATELIMIT_STORAGE_URI": "memory://",
        "LOGIN_LIMIT_ACCOUNT": "100000 per minute",
        "LOGIN_LIMIT_ADDRESS": "100000 per minute",
        "MAP_TILES": "none",
        "PHOTO_DIR": str(directory / "photos"),
        "IMPORT_DIR": str(directory / "imports"),
        "PYTHONUNBUFFERED": "1",
    }


def flask(environment: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [str(BIN / "flask"), "--app", "app", *args],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=3600,
        check=False,
    )
    if done.returncode:
        raise SystemExit(f"flask {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


def start_gunicorn(
    target: str,
    workers: int,
    environment: dict[str, str],
    log: Path,
    *extra: str,
    threads: int = 1,
) -> tuple[subprocess.Popen, int]:
    """gunicorn with ``workers`` workers on a free loopback port, in its own group: sync
    workers, or with ``threads`` > 1 gthread workers of that many threads each."""
    port = free_port()
    process = subprocess.Popen(
        [
            str(BIN / "gunicorn"),
            "--workers",
            str(workers),
            "--worker-class",
            "sync" if threads == 1 else "gthread",
            "--threads",
            str(threads),
            "--bind",
            f"127.0.0.1:{port}",
            "--timeout",
            "120",
            *extra,
            target,
        ],
        cwd=ROOT,
        env=environment,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    return process, port


def wait_until_serving(process: subprocess.Popen, port: int, path: str, log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"gunicorn stopped:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as reply:
                reply.read()
                return
        except OSError:
            time.sleep(0.3)
    raise SystemExit(f"gunicorn did not answer on port {port}:\n{log.read_text()[-3000:]}")


def stop(process: subprocess.Popen | None) -> None:
    """Stop a gunicorn we started (its own process group: the arbiter and its workers)."""
    if process is None or process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


def locust(
    port: int,
    setup: Path,
    report: Path,
    users: int,
    seconds: int,
    classes: tuple[str, ...],
    wait: float = 0.0,
) -> dict[str, Any]:
    """One headless locust run, bounded; its figures (the locustfile's JSON report)."""
    report.unlink(missing_ok=True)
    environment = {
        **os.environ,
        "LOAD_SETUP": str(setup),
        "LOAD_REPORT": str(report),
        "LOAD_CLASSES": ",".join(classes),
        "LOAD_WAIT": str(wait),
    }
    command = [
        str(BIN / "locust"),
        "-f",
        str(LOAD_DIR / "locustfile.py"),
        "--headless",
        "--users",
        str(users),
        "--spawn-rate",
        str(users),
        "--run-time",
        f"{seconds}s",
        "--host",
        f"http://127.0.0.1:{port}",
        "--stop-timeout",
        "10",
        "--csv",
        str(report.with_suffix("")),
        "--only-summary",
        "--loglevel",
        "WARNING",
        "--exit-code-on-error",
        "0",
    ]
    done = subprocess.run(
        command, env=environment, capture_output=True, text=True, timeout=seconds + 120
    )
    if done.returncode or not report.exists():
        raise SystemExit(f"locust failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return json.loads(report.read_text())


# --- Setup: tokens, inspections, the captured SQL ------------------------------------------------


def prepare(url: str, users: int, phases: int) -> tuple[list[dict], list[list[dict]], dict]:
    """The officers (one a user), the contractor workers of each phase, the baseline's SQL."""
    from accounts.models import User
    from accounts.services import issue_api_token
    from app import create_app
    from assets.models import Asset, Grid
    from core.extensions import db
    from inspections.models import Inspection
    from inspections.results import checklist_for

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench", "TESTING": False})
    with app.app_context():
        grids = db.session.execute(
            select(
                Grid.id,
                Grid.code,
                func.ST_XMin(Grid.boundary),
                func.ST_YMin(Grid.boundary),
                func.ST_XMax(Grid.boundary),
                func.ST_YMax(Grid.boundary),
            )
            .where(Grid.level == 2)
            .order_by(Grid.code)
        ).all()
        people = []
        for number in range(users):
            grid_id, code, *bounds = grids[number % len(grids)]
            email = f"{code.lower()}@province.example.cn"
            officer = db.session.scalar(select(User).where(User.email == email))
            codes = db.session.scalars(
                select(Asset.code)
                .where(Asset.grid_id == grid_id)
                .order_by(Asset.code)
                .limit(CODES_PER_GRID)
            ).all()
            people.append(
                {
                    "email": email,
                    "password": "province-officer-2026",
                    "token": issue_api_token(officer, "load test"),
                    "grid": code,
                    "bounds": bounds,
                    "codes": list(codes),
                }
            )
        # Each contractor user gets a token; each locust user of a phase one of them and a
        # share of its company's scheduled inspections, the nearest due first.
        inspectors = db.session.scalars(
            select(User).where(User.role == "contractor").order_by(User.id)
        ).all()
        tokens = {user.id: issue_api_token(user, "load test") for user in inspectors}
        db.session.commit()
        by_company: dict[int, list[dict]] = {}
        answers_of: dict[tuple, dict] = {}
        for company in sorted({user.contractor_id for user in inspectors}):
            rows = db.session.execute(
                select(
                    Inspection.id,
                    Inspection.plan_id,
                    Asset.kind,
                    func.ST_X(Asset.location),
                    func.ST_Y(Asset.location),
                )
                .join(Asset, Inspection.asset_id == Asset.id)
                .where(Inspection.status == "scheduled", Inspection.contractor_id == company)
                .order_by(Inspection.due_on, Inspection.id)
                .limit(INSPECTIONS_PER_COMPANY)
            ).all()
            for inspection_id, plan_id, kind, longitude, latitude in rows:
                key = (kind, plan_id)
                if key not in answers_of:
                    inspection = db.session.get(Inspection, inspection_id)
                    answers_of[key] = {item.key: "pass" for item in checklist_for(inspection)}
                by_company.setdefault(company, []).append(
                    {
                        "id": inspection_id,
                        "answers": answers_of[key],
                        "longitude": longitude,
                        "latitude": latitude,
                    }
                )
        # Each user's part of its company's inspections, cut into one share per run (RUNS,
        # per worker count) in the proportions of SLICE_WEIGHTS.
        weights = [SLICE_WEIGHTS[index % len(SLICE_WEIGHTS)] for index in range(phases)]
        workers: list[list[dict]] = [[] for _ in range(phases)]
        companies = sorted(by_company)
        company_users = {
            company: [user for user in inspectors if user.contractor_id == company]
            for company in companies
        }
        for slot in range(users):
            company = companies[slot % len(companies)]
            sharing = len(range(slot % len(companies), users, len(companies)))
            part = len(by_company[company]) // sharing
            unit = part // sum(weights)
            mine = slot // len(companies)
            user = company_users[company][mine % len(company_users[company])]
            start = mine * part
            for phase, weight in enumerate(weights):
                workers[phase].append(
                    {
                        "token": tokens[user.id],
                        "inspections": by_company[company][start : start + unit * weight],
                    }
                )
                start += unit * weight
        spec = captured_bbox_sql(app, people[0], url)
        db.session.remove()
        db.engine.dispose()
    return people, workers, spec


def captured_bbox_sql(app, person: dict, url: str) -> dict:
    """The statements the app sends for a full page of the bbox API, from its cursor."""
    from core.extensions import db

    west, south, east, north = person["bounds"]
    bbox = (west, south, east, north)
    seen: list[tuple[str, dict]] = []

    def capture(_conn, _cursor, statement, parameters, _context, _many) -> None:
        if "ST_MakeEnvelope" in statement:
            seen.append((statement, dict(parameters)))

    event.listen(db.engine, "before_cursor_execute", capture)
    try:
        reply = app.test_client().get(
            "/api/v1/assets?bbox={},{},{},{}".format(*bbox),
            headers={"Authorization": f"Bearer {person['token']}"},
        )
    finally:
        event.remove(db.engine, "before_cursor_execute", capture)
    if reply.status_code != 200 or reply.json["numberReturned"] != reply.json["per_page"]:
        raise SystemExit(f"the bbox of {person['grid']} does not fill a page: {reply.json}")
    per_page = reply.json["per_page"]
    roles_by_value = {
        bbox[0]: "min_lon",
        bbox[1]: "min_lat",
        bbox[2]: "max_lon",
        bbox[3]: "max_lat",
        per_page + 1: "limit",  # a page and one more (core.paging.page_by_one_more)
        0: "offset",
        app.config["LIST_COUNT_CAP"] + 1: "count",
    }
    statements = {}
    for statement, parameters in seen:
        kind = "count" if "count(" in statement.lower() else "page"
        roles = {
            name: roles_by_value[value]
            for name, value in parameters.items()
            if not isinstance(value, bool) and value in roles_by_value
        }
        statements[kind] = {"sql": statement, "params": parameters, "roles": roles}
    if set(statements) != {"page", "count"}:
        raise SystemExit(f"expected a page and a count statement, saw {seen}")
    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    return {"dsn": dsn, **statements, "count_cap": app.config["LIST_COUNT_CAP"]}


def sign_in(port: int, email: str, password: str) -> dict[str, str]:
    """A session as a browser gets it: the login form, its CSRF token, the post, the home
    page (which keeps the form tokens in the session); the cookies it ends with."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    base = f"http://127.0.0.1:{port}"
    with opener.open(f"{base}/login", timeout=60) as reply:
        token = CSRF.search(reply.read().decode())
    if token is None:
        raise SystemExit("no csrf_token on /login")
    form = urllib.parse.urlencode(
        {"csrf_token": token.group(1), "email": email, "password": password}
    ).encode()
    with opener.open(f"{base}/login", data=form, timeout=60) as reply:
        if urllib.parse.urlparse(reply.url).path == "/login":
            raise SystemExit(f"sign-in refused for {email}")
    return {cookie.name: cookie.value for cookie in jar}


# --- One phase ----------------------------------------------------------------------------------


def same_bytes(app_port: int, raw_port: int, people: list[dict], token: str) -> int:
    """Both servers answer the same bboxes with the same body (sent the same Host)."""
    import random

    rng = random.Random(14)
    checked = 0
    for person in people[:4]:
        west, south, east, north = person["bounds"]
        lon, lat = rng.uniform(west, east), rng.uniform(south, north)
        for size in (0.003, 0.02):
            box = f"{lon - size:.6f},{lat - size:.6f},{lon + size:.6f},{lat + size:.6f}"
            path = f"/api/v1/assets?bbox={box}"
            bodies = []
            for port in (app_port, raw_port):
                request = urllib.request.Request(
                    f"http://127.0.0.1:{port}{path}",
                    headers={"Authorization": f"Bearer {token}", "Host": f"127.0.0.1:{app_port}"},
                )
                with urllib.request.urlopen(request, timeout=30) as reply:  # noqa: S310 - http://
                    bodies.append(reply.read())
            if bodies[0] != bodies[1]:
                raise SystemExit(
                    f"the baseline's body differs for {path}:\n{bodies[0][:300]!r}\n"
                    f"{bodies[1][:300]!r}"
                )
            checked += 1
    return checked


class WorkerPeak:
    """The peak RSS (MB) of the workers of a gunicorn we started (its arbiter's children),
    sampled every 0.1 s while the block runs."""

    def __init__(self, arbiter: subprocess.Popen) -> None:
        import psutil

        self.arbiter = psutil.Process(arbiter.pid)
        self.peak_mb = 0.0
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.sample, daemon=True)

    def sample(self) -> None:
        import psutil

        while not self.stopping.wait(0.1):
            try:
                workers = self.arbiter.children()
            except psutil.Error:
                return
            for worker in workers:
                try:
                    self.peak_mb = max(self.peak_mb, worker.memory_info().rss / 2**20)
                except psutil.Error:
                    continue

    def __enter__(self) -> WorkerPeak:
        self.thread.start()
        return self

    def __exit__(self, *_exc) -> None:
        self.stopping.set()
        self.thread.join()


def phase(
    workers: int,
    environment: dict[str, str],
    directory: Path,
    people: list[dict],
    phase_workers: list[list[dict]],
    options: Options,
) -> dict[str, Any]:
    """One worker count: warm-up (discarded), unloaded, the mix paced (``options.wait``; none
    when 0), the mix and the bbox class alone in a closed loop, then the baseline's bbox
    endpoint in a closed loop; the app's workers' peak RSS throughout."""
    log = directory / f"gunicorn-{workers}.log"
    raw_environment = {**environment, "BASELINE_SPEC": str(directory / "baseline.json")}
    app_server = raw_server = None
    paced = None
    try:
        app_server, app_port = start_gunicorn(
            "app:create_app()", workers, environment, log, threads=options.threads
        )
        raw_server, raw_port = start_gunicorn(
            "baseline:application",
            workers,
            raw_environment,
            log,
            "--pythonpath",
            str(LOAD_DIR),
            threads=options.threads,
        )
        wait_until_serving(app_server, app_port, "/healthz", log)
        wait_until_serving(raw_server, raw_port, "/api/v1/assets?bbox=0,0,0,0", log)
        for person in people:
            if "cookies" not in person:
                person["cookies"] = sign_in(app_port, person["email"], person["password"])
        setups = {}
        for name, chosen in zip(RUNS, phase_workers, strict=True):
            setups[name] = directory / f"setup-{workers}-{name}.json"
            setups[name].write_text(json.dumps({"people": people, "workers": chosen}))
        checked = same_bytes(app_port, raw_port, people, people[0]["token"])
        warm_users = min(options.users, 2 * workers)
        with WorkerPeak(app_server) as memory:
            locust(
                app_port,
                setups["warm"],
                directory / "warm.json",
                warm_users,
                options.warmup,
                CLASSES,
            )
            unloaded = locust(
                app_port,
                setups["unloaded"],
                directory / "unloaded.json",
                1,
                options.unloaded,
                CLASSES,
            )
            loaded = locust(
                app_port,
                setups["loaded"],
                directory / "loaded.json",
                options.users,
                options.duration,
                CLASSES,
            )
            wait = pause(options, loaded["total"]["rps"])
            if wait > 0:
                paced = locust(
                    app_port,
                    setups["paced"],
                    directory / "paced.json",
                    options.users,
                    options.duration,
                    CLASSES,
                    wait,
                )
            bbox_alone = locust(
                app_port,
                setups["loaded"],
                directory / "bbox.json",
                options.users,
                options.duration,
                ("bbox",),
            )
        stop(app_server)
        locust(raw_port, setups["loaded"], directory / "raw-warm.json", warm_users, 5, ("bbox",))
        baseline = locust(
            raw_port,
            setups["loaded"],
            directory / "raw.json",
            options.users,
            options.duration,
            ("bbox",),
        )
    finally:
        stop(app_server)
        stop(raw_server)
    return {
        "workers": workers,
        "bodies_compared": checked,
        "unloaded": unloaded,
        "paced": paced,
        "loaded": loaded,
        "baseline": baseline,
        "bbox_alone": bbox_alone,
        "worker_peak_mb": memory.peak_mb,
        "wait": wait,
        "queueing_alone": queueing_alone(unloaded, paced, workers) if paced else None,
        **verdict(unloaded, paced, loaded, bbox_alone, baseline),
    }


def pause(options: Options, closed_loop_rps: float) -> float:
    """The paced run's mean pause per user (s): ``options.wait``, or the one at which the users
    offer ``options.utilisation`` of the closed loop's throughput."""
    if options.wait is not None:
        return options.wait
    return round(options.users / (options.utilisation * max(closed_loop_rps, 1e-3)), 2)


def errors_of(*runs: dict | None) -> int:
    """Failed requests and locustfile exceptions of these runs."""
    return sum(
        run["total"]["failures"] + sum(row["count"] for row in run["exceptions"])
        for run in runs
        if run is not None
    )


def verdict(
    unloaded: dict, paced: dict | None, loaded: dict, bbox_alone: dict, baseline: dict
) -> dict[str, Any]:
    """The targets' figures: each class's p95 (paced run, else the closed loop) over its
    unloaded median; the throughput, the bbox class alone over the baseline (like for like),
    the mix's beside it; errors of every run of the app."""
    judged = paced or loaded
    ratios = {}
    for name, figures in judged["classes"].items():
        median = unloaded["classes"].get(name, {}).get("median") or 0
        ratios[name] = figures["p95"] / median if median else None
    raw = baseline["total"]["rps"]
    throughput = bbox_alone["total"]["rps"] / raw
    errors = errors_of(unloaded, paced, loaded, bbox_alone)
    return {
        "p95_over_unloaded": ratios,
        "p95_judged_on": "paced" if paced else "loaded",
        "throughput_ratio": throughput,
        "mix_ratio": loaded["total"]["rps"] / raw,
        "errors": errors,
        "targets_met": errors == 0
        and throughput >= TARGET_RATIO
        and all(ratio is not None and ratio <= TARGET_P95 for ratio in ratios.values()),
    }


def queueing_alone(
    unloaded: dict, paced: dict, workers: int, arrivals: int = 100_000, seed: int = 1
) -> dict[str, Any]:
    """What first-come-first-served queueing alone makes of the unloaded times at the paced
    run's rate: each class's p95 over its unloaded median, as ``verdict`` judges it, with no
    slowing from sharing the CPUs. Requests arrive at random (Poisson) at the paced run's
    req/s, each name in its share of that run, for one of ``workers`` servers (gunicorn's
    sync workers take the next request from one queue); a name's time is its unloaded median
    spread as its unloaded p95 says (lognormal). The gap between this and the measured ratio
    is what load adds to each request's own time; this itself is the floor the queue sets."""
    rng = random.Random(seed)
    mix = [
        (label, figures["requests"], unloaded["names"].get(label))
        for label, figures in paced["names"].items()
    ]
    mix = [(label, count, alone) for label, count, alone in mix if alone and alone["median"]]
    labels = [label for label, _count, _alone in mix]
    weights = [count for _label, count, _alone in mix]
    spread = {
        label: math.log(max(alone["p95"], alone["median"]) / alone["median"]) / 1.645
        for label, _count, alone in mix
    }
    median = {label: alone["median"] for label, _count, alone in mix}
    rate = paced["total"]["rps"] / 1000  # per ms
    mean = sum(median[label] * math.exp(spread[label] ** 2 / 2) * count for label, count, _a in mix)
    utilisation = rate * mean / sum(weights) / workers
    free = [0.0] * workers
    clock = 0.0
    times: dict[str, list[float]] = {}
    for label in rng.choices(labels, weights, k=arrivals):
        clock += rng.expovariate(rate)
        service = median[label] * rng.lognormvariate(0, spread[label])
        start = max(clock, free[0])
        heapq.heapreplace(free, start + service)
        times.setdefault(class_of(label), []).append(start + service - clock)
    ratios = {}
    for name, values in times.items():
        values.sort()
        alone = unloaded["classes"].get(name, {}).get("median") or 0
        ratios[name] = values[int(0.95 * (len(values) - 1))] / alone if alone else None
    return {"utilisation": utilisation, "p95_over_unloaded": ratios}


def class_of(label: str) -> str:
    """The class of a request as the locustfile names it ("GET page /assets/": "page")."""
    parts = label.split(" ")
    return parts[1] if len(parts) > 1 and parts[1] in CLASSES else "other"


# --- The whole run ------------------------------------------------------------------------------


def drop_database(url: str) -> None:
    target = make_url(url)
    admin = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)'))
    admin.dispose()


@dataclass(frozen=True)
class Options:
    assets: int = 10_000
    duration: int = 60  # seconds of each loaded run (the app's, the baseline's)
    users: int = 50
    workers: tuple[int, ...] = (2, 4)
    threads: int = 1  # threads per worker: 1 sync workers, more gthread workers
    unloaded: int = 15  # seconds of one user's sequential requests: the unloaded medians
    warmup: int = 10  # seconds of a few users first, discarded (imports, templates, caches)
    # The paced run: a user's mean pause between requests (s); None: chosen so that the users
    # offer ``utilisation`` of what the closed-loop mix served (users / (share x its req/s));
    # 0: no paced run (each class's p95 is then judged on the closed loop).
    wait: float | None = None
    utilisation: float = 0.5
    # A province loaded already (``demo province``): used as it is, not dropped. The load
    # test writes results into it.
    database_url: str | None = None


def run(**settings: Any) -> dict[str, Any]:
    """The whole load test (settings: the fields of ``Options``); its figures per worker
    count, as ``print_report`` shows them."""
    options = Options(**settings)
    url = options.database_url or recreate_postgis_database(POSTGIS_URL)
    loaded_in = 0.0
    try:
        with tempfile.TemporaryDirectory(prefix="bench-load-") as temp:
            directory = Path(temp)
            environment = server_environment(url, directory)
            if not options.database_url:
                started = time.perf_counter()
                flask(environment, "db", "upgrade")
                flask(environment, "demo", "province", "--assets", str(options.assets))
                loaded_in = time.perf_counter() - started
            slices = len(RUNS) * len(options.workers)
            people, workers, spec = prepare(url, options.users, slices)
            (directory / "baseline.json").write_text(json.dumps(spec))
            phases = [
                phase(
                    count,
                    environment,
                    directory,
                    people,
                    workers[len(RUNS) * i : len(RUNS) * (i + 1)],
                    options,
                )
                for i, count in enumerate(options.workers)
            ]
    finally:
        if not options.database_url:
            drop_database(url)
    return {**asdict(options), "province_load_seconds": loaded_in, "phases": phases}


def print_report(result: dict[str, Any]) -> None:
    print(
        f"{result['assets']} assets (loaded in {result['province_load_seconds']:.0f} s"
        f"{'; loaded before' if result.get('database_url') else ''}), "
        f"{result['users']} users, {result['duration']} s per run; times in ms"
    )
    for figures in result["phases"]:
        unloaded = figures["unloaded"]
        judged_on = figures["p95_judged_on"]
        judged = figures[judged_on]
        print(
            f"\ngunicorn, {figures['workers']} "
            + (
                f"gthread workers of {result['threads']} threads "
                if result.get("threads", 1) > 1
                else "sync workers "
            )
            + f"({figures['bodies_compared']} baseline bodies equal to the app's); "
            + (
                f"the mix paced (mean pause {figures['wait']} s a user):"
                if judged_on == "paced"
                else "the mix in a closed loop (no pause):"
            )
        )
        print(
            f"{'class':<9}{'req/s':>8}{'p50':>7}{'p95':>7}{'p99':>7}{'errors':>8}"
            f"{'unloaded p50':>14}{'p95/unloaded':>14}"
        )
        for name in (*CLASSES, "other"):
            row = judged["classes"].get(name)
            if row is None:
                continue
            ratio = figures["p95_over_unloaded"].get(name)
            median = unloaded["classes"].get(name, {}).get("median") or 0
            print(
                f"{name:<9}{row['rps']:>8.1f}{row['p50']:>7.0f}{row['p95']:>7.0f}"
                f"{row['p99']:>7.0f}{row['failures']:>8}{median:>14.0f}"
                + (f"{ratio:>13.1f}x" if ratio is not None else f"{'-':>14}")
            )
            for label, detail in sorted(judged["names"].items()):
                if class_of(label) == name:
                    alone = unloaded["names"].get(label, {}).get("median") or 0
                    print(
                        f"  {label:<36}{detail['rps']:>6.1f} req/s, p50 {detail['p50']:.0f}, "
                        f"p95 {detail['p95']:.0f}, unloaded p50 {alone:.0f}, "
                        f"{detail['bytes'] / 1000:.0f} kB"
                    )
        alone = figures.get("queueing_alone")
        if alone:
            ratios = ", ".join(
                f"{name} {ratio:.1f}x"
                for name, ratio in alone["p95_over_unloaded"].items()
                if ratio is not None
            )
            print(
                f"queueing alone (first come first served on {figures['workers']} workers, "
                f"the unloaded times at {alone['utilisation']:.0%} utilisation) predicts "
                f"p95/unloaded: {ratios}"
            )
        print("closed loop (no pause):")
        for label, run, key in (
            ("mix", figures["loaded"], None),
            ("bbox only", figures["bbox_alone"], "bbox"),
            ("baseline", figures["baseline"], "bbox"),
        ):
            row = run["classes"][key] if key else run["total"]
            print(
                f"  {label:<10}{run['total']['rps']:>8.1f} req/s"
                + (f", p50 {row['p50']:.0f}, p95 {row['p95']:.0f}" if key else "")
                + f", {run['total']['failures']} errors"
            )
        print(
            f"throughput: bbox only {figures['throughput_ratio']:.2f}x the baseline (target >= "
            f"{TARGET_RATIO}); the mix {figures['mix_ratio']:.2f}x; {figures['errors']} errors; "
            f"workers' peak RSS {figures['worker_peak_mb']:.0f} MB; "
            f"targets {'met' if figures['targets_met'] else 'NOT met'}"
        )
        for run_name in ("paced", "loaded", "bbox_alone"):
            run = figures.get(run_name)
            if not run:
                continue
            for error in run["errors"]:
                print(
                    f"  {run_name} error x{error['count']}: {error['method']} {error['name']}: "
                    f"{error['error']}"
                )
            if run["results_exhausted"]:
                print(f"  {run_name}: {run['results_exhausted']} result tasks found no share left")
            for row in run["exceptions"]:
                print(f"  {run_name}: locustfile exception x{row['count']}: {row['message']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assets", type=int, default=10_000)
    parser.add_argument("--duration", type=int, default=60, help="seconds per locust run")
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--workers", default="2,4", help="gunicorn worker counts, in turn")
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="threads per worker: 1 sync workers (default), more gthread workers",
    )
    parser.add_argument("--unloaded", type=int, default=15, help="seconds of the unloaded run")
    parser.add_argument("--warmup", type=int, default=10, help="seconds of the warm-up run")
    parser.add_argument(
        "--wait",
        type=float,
        help="the paced run's mean pause between a user's requests, seconds (default: the "
        "users offer --utilisation of the closed loop's req/s; 0: no paced run)",
    )
    parser.add_argument(
        "--utilisation",
        type=float,
        default=0.5,
        help="the share of the closed loop's throughput the paced run offers (without --wait)",
    )
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument(
        "--database-url",
        help="a province loaded already (PostGIS): used as it is and kept (results are written "
        "into it); --assets then only labels the report",
    )
    args = parser.parse_args()
    workers = tuple(int(part) for part in args.workers.split(",") if part.strip())
    result = run(
        assets=args.assets,
        duration=args.duration,
        users=args.users,
        workers=workers,
        threads=args.threads,
        unloaded=args.unloaded,
        warmup=args.warmup,
        wait=args.wait,
        utilisation=args.utilisation,
        database_url=args.database_url,
    )
    print_report(result)
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
