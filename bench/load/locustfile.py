"""The registry under load: one kind of user doing the issue's mix of requests.

Every simulated user is a grid officer of the synthetic province (``demo province``): it
holds a session (its cookies from a sign-in through ``/login`` with the form's CSRF token,
made by the bench before the load: a sign-in is made once, not on every visit) for pages
and the map, and an API token of its own for the bbox and overdue API; it logs results with
the token of one of the province's contractors, taking inspection ids no other user takes
(no 409s; each result carries an ``Idempotency-Key``). Its tasks are weighted so that the
requests are the mix:

    bbox     40%  GET /api/v1/assets?bbox=…   a random view around a random grid
    overdue  20%  GET /api/v1/inspections?status=overdue&grid=…, or /inspections/?status=overdue
    page     20%  GET /, /assets/, /hazards/  (each opens on the officer's grid)
    map      10%  GET /map, or /map/popup/<code> of an asset of its grid
    result   10%  POST /api/v1/inspections/<id>/result  (every item passed, where the asset is)

Request names start with their class ("bbox", "page /assets/"), so ``bench/bench_load.py``
groups them.

Driven by ``bench/bench_load.py``, through the environment: LOAD_SETUP (the JSON file of
people, tokens, views and inspections it wrote), LOAD_CLASSES (the classes to run, comma
separated; default all), LOAD_WAIT (a user's mean pause between requests, default 0) and
LOAD_REPORT (where the per-name and per-class figures go as
JSON when locust quits).
"""

from __future__ import annotations

import itertools
import json
import os
import random
import uuid

import gevent
from locust import FastHttpUser, between, events
from locust.stats import StatsEntry
from requests.cookies import create_cookie

MIX = {"bbox": 40, "overdue": 20, "page": 20, "map": 10, "result": 10}
HOST = "127.0.0.1"
PAGES = ("/", "/assets/", "/hazards/")
PERCENTILES = (0.5, 0.95, 0.99)


def load_setup() -> dict:
    with open(os.environ["LOAD_SETUP"], encoding="utf-8") as file:
        return json.load(file)


SETUP = load_setup() if os.environ.get("LOAD_SETUP") else {"people": [], "workers": []}
CLASSES = [
    name.strip() for name in os.environ.get("LOAD_CLASSES", ",".join(MIX)).split(",") if name
]
PEOPLE = itertools.cycle(SETUP["people"]) if SETUP["people"] else None
EXHAUSTED = [0]  # result tasks that found their user's share of inspections used up
WORKERS = iter(SETUP["workers"])  # one contractor worker (token + its inspections) per user
PAUSE = float(os.environ.get("LOAD_WAIT", "0"))


def random_view(bounds: list[float], rng: random.Random) -> str:
    """A view of 0.005–0.03° around a point of the grid ``bounds``: a map's viewport."""
    west, south, east, north = bounds
    lon, lat = rng.uniform(west, east), rng.uniform(south, north)
    half_width, half_height = rng.uniform(0.0025, 0.015), rng.uniform(0.002, 0.011)
    return (
        f"{lon - half_width:.6f},{lat - half_height:.6f},"
        f"{lon + half_width:.6f},{lat + half_height:.6f}"
    )


class Officer(FastHttpUser):
    # LOAD_WAIT: a user's mean pause between requests, in seconds (0: none, the most load).
    wait_time = between(0, 2 * PAUSE)

    def on_start(self) -> None:
        self.rng = random.Random()
        self.person = next(PEOPLE)
        self.bearer = {"Authorization": f"Bearer {self.person['token']}"}
        for name, value in self.person["cookies"].items():
            self.client.cookiejar.set_cookie(create_cookie(name, value, domain=HOST, path="/"))
        self.worker = next(WORKERS, None)
        self.inspections = iter(self.worker["inspections"]) if self.worker else iter(())
        if PAUSE:
            # Paced users start spread over one mean pause, not all in the first second: a
            # burst of every user at once would be most of a short run's slowest requests.
            gevent.sleep(self.rng.uniform(0, PAUSE))

    def fetch(self, method: str, path: str, name: str, expected: int = 200, **options) -> None:
        """One request that counts as an error unless it answers ``expected`` itself: a
        redirect (say to /login, a session refused) is an error, never followed."""
        with self.client.request(
            method, path, name=name, allow_redirects=False, catch_response=True, **options
        ) as response:
            if response.status_code != expected:
                response.failure(f"{response.status_code} (expected {expected})")

    def bbox(self) -> None:
        view = random_view(self.person["bounds"], self.rng)
        self.fetch("GET", f"/api/v1/assets?bbox={view}", "bbox", headers=self.bearer)

    def overdue(self) -> None:
        if self.rng.random() < 0.5:
            path = f"/api/v1/inspections?status=overdue&grid={self.person['grid']}"
            self.fetch("GET", path, "overdue api", headers=self.bearer)
        else:
            self.fetch("GET", "/inspections/?status=overdue", "overdue page")

    def page(self) -> None:
        path = self.rng.choice(PAGES)
        self.fetch("GET", path, f"page {path}")

    def map(self) -> None:
        if self.rng.random() < 0.5:
            self.fetch("GET", "/map", "map /map")
        else:
            code = self.rng.choice(self.person["codes"])
            self.fetch("GET", f"/map/popup/{code}", "map /map/popup/<code>")

    def result(self) -> None:
        inspection = next(self.inspections, None)
        if inspection is None:
            EXHAUSTED[0] += 1  # this user's share of inspections is used up
            return
        body = {
            "answers": inspection["answers"],
            "result": "pass",
            "notes": "load test",
            "longitude": inspection["longitude"],
            "latitude": inspection["latitude"],
            "accuracy": 8.0,
        }
        headers = {
            "Authorization": f"Bearer {self.worker['token']}",
            "Idempotency-Key": uuid.uuid4().hex,
        }
        path = f"/api/v1/inspections/{inspection['id']}/result"
        self.fetch("POST", path, "result", 201, json=body, headers=headers)


# Each task as often as its weight (locust reads a dict of weights only as the class is made).
Officer.tasks = [getattr(Officer, name) for name in CLASSES for _ in range(MIX[name])]


def class_of(name: str) -> str | None:
    first = name.split(" ", 1)[0]
    return first if first in MIX else None


def figures(entry: StatsEntry, seconds: float) -> dict:
    return {
        "requests": entry.num_requests,
        "failures": entry.num_failures,
        "rps": entry.num_requests / seconds if seconds > 0 else 0.0,
        **{
            f"p{round(p * 100)}": entry.get_response_time_percentile(p) if entry.num_requests else 0
            for p in PERCENTILES
        },
        "median": entry.median_response_time,
        "bytes": entry.avg_content_length,
    }


@events.quitting.add_listener
def write_report(environment, **_kwargs) -> None:
    """Per request name and per class: requests, failures, req/s and percentiles (ms)."""
    path = os.environ.get("LOAD_REPORT")
    if not path:
        return
    stats = environment.stats
    total = stats.total
    seconds = max(1e-9, (total.last_request_timestamp or 0) - total.start_time)
    classes: dict[str, StatsEntry] = {}
    names = {}
    for (name, method), entry in stats.entries.items():
        names[f"{method} {name}"] = figures(entry, seconds)
        group = class_of(name) or "other"
        if group not in classes:
            classes[group] = StatsEntry(stats, group, "", use_response_times_cache=False)
        classes[group].extend(entry)
    errors = [
        {"name": e.name, "method": e.method, "error": str(e.error), "count": e.occurrences}
        for e in stats.errors.values()
    ]
    served = classes.values()
    runner = environment.runner
    exceptions = [
        {"count": row["count"], "message": row["msg"]}
        for row in (runner.exceptions.values() if runner is not None else ())
    ]
    report = {
        "seconds": seconds,
        "names": names,
        "classes": {group: figures(entry, seconds) for group, entry in classes.items()},
        "total": {
            "requests": sum(entry.num_requests for entry in served),
            "failures": sum(entry.num_failures for entry in served),
            "rps": sum(entry.num_requests for entry in served) / seconds,
        },
        "errors": errors,
        "exceptions": exceptions,  # raised in a task (a bug of the locustfile): none expected
        "results_exhausted": EXHAUSTED[0],
    }
    with open(path, "w", encoding="utf-8") as file:
        json.dump(report, file, indent=1)
