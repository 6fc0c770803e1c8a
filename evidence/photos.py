"""Photos of inspections and hazards: checked by content, stored under generated names.

Every upload of a request is checked before any file is written. Files are written when the
rows are added; if the unit of work rolls back, the files written for it are removed, so a
failed request leaves neither a row nor a file behind. A stored file may back rows of several
owners (``share_photos``: a failed inspection's photos are the "before" photos of the hazard it
opens), so a file is never copied to be shown elsewhere.
"""

from __future__ import annotations

import io
import secrets
import warnings
from dataclasses import dataclass
from pathlib import Path

from flask import Flask, current_app
from flask_babel import lazy_gettext as _l
from PIL import Image, UnidentifiedImageError
from sqlalchemy import event
from sqlalchemy.orm import Session
from werkzeug.datastructures import FileStorage

from core.errors import ValidationError
from core.extensions import db
from evidence.models import Photo

# Pillow format name -> (content type, file extension).
IMAGE_FORMATS = {
    "JPEG": ("image/jpeg", "jpg"),
    "PNG": ("image/png", "png"),
    "WEBP": ("image/webp", "webp"),
}
MAX_PIXELS = 50_000_000
PENDING_FILES_KEY = "photo_files_written"


class PhotoError(ValidationError):
    """An upload that is not an acceptable image; the message says why (about "photos")."""

    def __init__(self, message):
        super().__init__({"photos": message}, message)


@dataclass(frozen=True)
class CheckedPhoto:
    data: bytes
    content_type: str
    extension: str
    width: int
    height: int


def init_app(app: Flask) -> None:
    """Clean up the files of a rolled-back unit of work. The listeners are on the Session
    class, shared by every app in the process, so they are added once, not per app."""
    listeners = (
        ("after_commit", _forget_written_files),
        ("after_soft_rollback", _remove_written_files),
    )
    for name, listener in listeners:
        if not event.contains(Session, name, listener):
            event.listen(Session, name, listener)


def photo_dir() -> Path:
    configured = current_app.config.get("PHOTO_DIR")
    directory = Path(configured) if configured else Path(current_app.instance_path) / "photos"
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def photo_path(photo: Photo) -> Path:
    return photo_dir() / photo.stored_name


def uploaded_files(files: list[FileStorage]) -> list[FileStorage]:
    """The file fields a browser or client actually filled (empty file inputs are skipped)."""
    return [upload for upload in files if upload is not None and upload.filename]


def check_photo(upload: FileStorage) -> CheckedPhoto:
    """Read one upload and accept it only if its bytes are a JPEG, PNG or WebP image within
    the size limit; the file name and the declared content type are ignored."""
    limit = current_app.config["PHOTO_MAX_BYTES"]
    data = upload.stream.read(limit + 1)
    if len(data) > limit:
        raise PhotoError(
            _l("%(name)s is larger than %(mb)s MB.", name=upload.filename, mb=limit // 2**20)
        )
    if not data:
        raise PhotoError(_l("%(name)s is empty.", name=upload.filename))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                image_format = image.format
                width, height = image.size
                if width * height > MAX_PIXELS:
                    raise PhotoError(_l("%(name)s has too many pixels.", name=upload.filename))
                image.verify()
    except (
        UnidentifiedImageError,
        Image.DecompressionBombError,
        Image.DecompressionBombWarning,
        OSError,
        SyntaxError,
        ValueError,
    ) as error:
        if isinstance(error, PhotoError):
            raise
        raise PhotoError(_l("%(name)s is not a readable image.", name=upload.filename)) from None
    if image_format not in IMAGE_FORMATS:
        raise PhotoError(_l("%(name)s is not a JPEG, PNG or WebP image.", name=upload.filename))
    content_type, extension = IMAGE_FORMATS[image_format]
    return CheckedPhoto(data, content_type, extension, width, height)


def check_photos(uploads: list[FileStorage]) -> list[CheckedPhoto]:
    """Check every upload; raise PhotoError for the first bad one, before anything is written."""
    return [check_photo(upload) for upload in uploaded_files(uploads)]


def add_photos(
    checked: list[CheckedPhoto],
    *,
    inspection_id: int | None = None,
    hazard_id: int | None = None,
    stage: str | None = None,
    uploaded_by_id: int | None = None,
) -> list[Photo]:
    """Write the files under generated names and add their rows; the caller commits."""
    directory = photo_dir()
    written = db.session.info.setdefault(PENDING_FILES_KEY, [])
    photos = []
    for photo in checked:
        stored_name = f"{secrets.token_hex(16)}.{photo.extension}"
        path = directory / stored_name
        path.write_bytes(photo.data)
        written.append(path)
        row = Photo(
            stored_name=stored_name,
            content_type=photo.content_type,
            size_bytes=len(photo.data),
            width=photo.width,
            height=photo.height,
            inspection_id=inspection_id,
            hazard_id=hazard_id,
            stage=stage,
            uploaded_by_id=uploaded_by_id,
        )
        db.session.add(row)
        photos.append(row)
    return photos


def share_photos(
    photos: list[Photo],
    *,
    inspection_id: int | None = None,
    hazard_id: int | None = None,
    stage: str | None = None,
) -> list[Photo]:
    """New rows for another owner, backed by the same stored files (nothing is written to
    disk); each row is seen by whoever may see its own owner. The caller commits."""
    shared = []
    for photo in photos:
        row = Photo(
            stored_name=photo.stored_name,
            content_type=photo.content_type,
            size_bytes=photo.size_bytes,
            width=photo.width,
            height=photo.height,
            inspection_id=inspection_id,
            hazard_id=hazard_id,
            stage=stage,
            uploaded_by_id=photo.uploaded_by_id,
            uploaded_at=photo.uploaded_at,
        )
        db.session.add(row)
        shared.append(row)
    return shared


def _forget_written_files(session: Session) -> None:
    session.info.pop(PENDING_FILES_KEY, None)


def _remove_written_files(session: Session, previous_transaction) -> None:
    for path in session.info.pop(PENDING_FILES_KEY, []):
        path.unlink(missing_ok=True)
