"""Time refused sign-ins: a known email with a wrong password, an unknown email, and a
deactivated account, with the production password hash (scrypt), through POST /login.

Usage: .venv/bin/python bench/bench_login.py [--attempts 15] [--backend spatialite|postgis]
(SAR_ROOT=/path/to/another/checkout times that checkout's code instead, e.g. main.)

Each answer should cost the same hash work, so the three medians should be close: an unknown
email that answers much faster than a known one tells an attacker which emails exist. The
sign-in limits are raised for the run (each attempt would otherwise count as a failure).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(os.environ.get("SAR_ROOT") or Path(__file__).resolve().parent.parent)
sys.path.insert(0, str(ROOT))

from flask_migrate import upgrade  # noqa: E402

from accounts.services import create_user, user_by_email  # noqa: E402
from app import create_app  # noqa: E402
from core.extensions import db  # noqa: E402

PASSWORD = "correct horse battery staple"  # noqa: S105 - a throwaway database
POSTGIS_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/sar_bench_login"


def app_on(backend: str, directory: Path):
    if backend == "spatialite":
        url = f"sqlite:///{directory / 'login.sqlite'}"
    else:
        from sqlalchemy import create_engine, text

        admin = create_engine(
            POSTGIS_URL.rsplit("/", 1)[0] + "/postgres", isolation_level="AUTOCOMMIT"
        )
        with admin.connect() as connection:
            connection.execute(text('DROP DATABASE IF EXISTS "sar_bench_login" WITH (FORCE)'))
            connection.execute(text('CREATE DATABASE "sar_bench_login"'))
        admin.dispose()
        engine = create_engine(POSTGIS_URL, isolation_level="AUTOCOMMIT")
        with engine.connect() as connection:
            connection.execute(text("CREATE EXTENSION IF NOT EXISTS postgis"))
        engine.dispose()
        url = POSTGIS_URL
    return create_app(
        {
            "SQLALCHEMY_DATABASE_URI": url,
            "SECRET_KEY": "bench",
            "WTF_CSRF_ENABLED": False,
            "PASSWORD_HASH_METHOD": "scrypt",  # the production default
            "LOGIN_LIMIT_ACCOUNT": "100000 per minute",
            "LOGIN_LIMIT_ADDRESS": "100000 per minute",
        }
    )


def timed(client, email: str, attempts: int) -> list[float]:
    times = []
    for _number in range(attempts):
        started = time.perf_counter()
        response = client.post("/login", data={"email": email, "password": "wrong guess"})
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 401, response.status_code
    return times


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--attempts", type=int, default=15)
    parser.add_argument("--backend", default="spatialite", choices=["spatialite", "postgis"])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        app = app_on(args.backend, Path(directory))
        with app.app_context():
            upgrade()
            create_user("known@example.org", PASSWORD, "officer")
            create_user("gone@example.org", PASSWORD, "officer")
            user_by_email("gone@example.org").active = False
            db.session.commit()
        client = app.test_client()
        timed(client, "known@example.org", 2)  # warm up
        print(f"{ROOT.name} on {args.backend}, {args.attempts} refused sign-ins each (ms):")
        for label, email in (
            ("known, wrong password", "known@example.org"),
            ("unknown email", "nobody@example.org"),
            ("deactivated", "gone@example.org"),
        ):
            times = timed(client, email, args.attempts)
            print(f"  {label:22} median {statistics.median(times):7.1f}  min {min(times):7.1f}")
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


if __name__ == "__main__":
    main()
