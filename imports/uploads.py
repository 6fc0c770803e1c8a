"""Uploaded import files kept between their check and the admin's confirmation.

Each upload is a folder ``<IMPORT_DIR>/<token>/`` (``instance/imports`` by default) holding
the file (under a generated name, with the original's extension) and ``upload.json``: who
uploaded it, for which importer, with which options, and what its check found. Only its
uploader may see or apply it; an upload left unconfirmed is removed after a day.
"""

from __future__ import annotations

import json
import re
import secrets
import shutil
import time
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from flask import current_app
from werkzeug.datastructures import FileStorage

from core.clock import now_utc
from core.importing import ImportCheck, Problem

TOKEN_PATTERN = re.compile(r"^[A-Za-z0-9_-]{20,64}$")
KEEP_FOR = timedelta(days=1)
META_FILE = "upload.json"


@dataclass
class Upload:
    token: str
    user_id: int
    importer: str
    filename: str  # as the admin's computer named it (shown, never used as a path)
    stored_name: str
    options: dict[str, str]
    created_at: str
    check: dict[str, Any] = field(default_factory=dict)

    @property
    def folder(self) -> Path:
        return uploads_folder() / self.token

    @property
    def path(self) -> Path:
        return self.folder / self.stored_name

    def save_meta(self) -> None:
        (self.folder / META_FILE).write_text(json.dumps(asdict(self), ensure_ascii=False))

    def remember_check(self, check: ImportCheck) -> None:
        self.check = {
            "count": check.count,
            "summary": check.summary,
            "warnings": check.warnings,
            "problems": [asdict(problem) for problem in check.problems],
        }
        self.save_meta()

    def remembered_check(self) -> ImportCheck:
        return ImportCheck(
            kind=self.importer,
            count=self.check.get("count", 0),
            summary=self.check.get("summary", {}),
            warnings=self.check.get("warnings", []),
            problems=[Problem(**problem) for problem in self.check.get("problems", [])],
        )


def uploads_folder() -> Path:
    folder = Path(current_app.config["IMPORT_DIR"] or Path(current_app.instance_path) / "imports")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def extension_of(filename: str) -> str:
    return Path(filename).suffix.lower()


def save_upload(file: FileStorage, importer: str, options: dict[str, str], user_id: int) -> Upload:
    discard_stale()
    token = secrets.token_urlsafe(24)
    filename = Path(file.filename or "upload").name
    upload = Upload(
        token=token,
        user_id=user_id,
        importer=importer,
        filename=filename,
        stored_name="upload" + extension_of(filename),
        options=options,
        created_at=now_utc().isoformat(),
    )
    upload.folder.mkdir()
    file.save(upload.path)
    upload.save_meta()
    return upload


def upload_for(token: str, user_id: int) -> Upload | None:
    """The upload ``token`` if it exists and ``user_id`` made it."""
    if not TOKEN_PATTERN.match(token):
        return None
    meta = uploads_folder() / token / META_FILE
    if not meta.is_file():
        return None
    upload = Upload(**json.loads(meta.read_text()))
    return upload if upload.user_id == user_id else None


def discard(upload: Upload) -> None:
    shutil.rmtree(upload.folder, ignore_errors=True)


def discard_stale() -> None:
    """Remove uploads older than KEEP_FOR by the file system's own (real) time: an upload
    still being written has no meta file yet, and the district clock may be frozen."""
    limit = time.time() - KEEP_FOR.total_seconds()
    for folder in uploads_folder().iterdir():
        try:
            stale = folder.stat().st_mtime < limit
        except OSError:
            continue
        if stale:
            shutil.rmtree(folder, ignore_errors=True)
