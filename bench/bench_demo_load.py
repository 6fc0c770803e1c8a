"""Time `flask --app app demo load` on a fresh, migrated SpatiaLite database.

Usage: .venv/bin/python bench/bench_demo_load.py
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FLASK = str(Path(sys.executable).parent / "flask")


def main() -> None:
    with tempfile.TemporaryDirectory() as directory:
        env = {**os.environ, "DATABASE_URL": f"sqlite:///{directory}/demo.sqlite"}
        subprocess.run(
            [FLASK, "--app", "app", "db", "upgrade"], cwd=ROOT, env=env, check=True,
            capture_output=True,
        )  # fmt: skip
        for label in ("fresh", "again"):
            started = time.perf_counter()
            subprocess.run(
                [FLASK, "--app", "app", "demo", "load"], cwd=ROOT, env=env, check=True,
                capture_output=True,
            )  # fmt: skip
            print(f"demo load ({label} SpatiaLite database): {time.perf_counter() - started:.2f} s")


if __name__ == "__main__":
    main()
