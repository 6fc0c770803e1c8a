"""How responses travel (core/serving.py): brotli or gzip when the client accepts it, plain
otherwise; never for what is compressed already; streams still streamed; static files with an
ETag per encoding, 304 on a match, revalidated on every use; PostgreSQL sessions without JIT."""

from __future__ import annotations

import gc
import gzip
import re
import secrets
import warnings
import zlib
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import brotli
import pytest
from sqlalchemy import insert, text

from assets.services import asset_by_code
from core import serving, spatial
from core.extensions import db
from inspections.models import Inspection
from tests import factories

NOW = datetime(2026, 3, 10, 2, tzinfo=UTC)
GZIP = {"Accept-Encoding": "gzip"}
BROTLI = {"Accept-Encoding": "gzip, deflate, br"}
NONCE = re.compile(r"'nonce-([A-Za-z0-9_-]{20,})'")
CSRF_TOKEN = re.compile(rb'value="[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+"')
ROOT = Path(__file__).resolve().parent.parent
STATIC_FILES = {
    "/static/js/app.js": ROOT / "static/js/app.js",
    "/static/vendor/leaflet-1.9.4/leaflet.js": ROOT / "static/vendor/leaflet-1.9.4/leaflet.js",
    "/map/static/map.js": ROOT / "maps/static/map.js",
}
EXPORTED_INSPECTIONS = 3000


@pytest.fixture(autouse=True)
def frozen(frozen_clock):
    frozen_clock.set(NOW)


@pytest.fixture
def listed(app, district, officer):
    with app.app_context():
        for number in range(1, 4):
            factories.gen_asset(factories.charging_station_data(number))
        factories.gen_inspection("CS-001", date(2026, 3, 1))
        db.session.commit()


@pytest.fixture
def signed_in(client, auth, listed):
    auth.login("officer@example.org")
    return client


def fetched(client, path: str, headers: dict | None = None):
    """The response, read whole and closed (a static file's handle with it)."""
    response = client.get(path, headers=headers or {})
    response.get_data()
    response.close()
    return response


def decoded(response) -> bytes:
    encoding = response.headers.get("Content-Encoding")
    if encoding == "gzip":
        return gzip.decompress(response.data)
    if encoding == "br":
        return brotli.decompress(response.data)
    assert encoding is None, encoding
    return response.data


def without_nonce(response, body: bytes) -> bytes:
    """The page with what is new in every response replaced: its nonce (the one in the body is
    the one its policy allows) and its CSRF tokens (signed with the second they were made)."""
    nonce = NONCE.search(response.headers["Content-Security-Policy"]).group(1)
    assert f'nonce="{nonce}"'.encode() in body
    return CSRF_TOKEN.sub(b'value="TOKEN"', body.replace(nonce.encode(), b"NONCE"))


def varies_on_encoding(response) -> bool:
    vary = [part.strip().lower() for part in response.headers.get("Vary", "").split(",")]
    return "accept-encoding" in vary


def test_a_page_is_compressed_when_asked_and_plain_when_not(signed_in):
    plain = fetched(signed_in, "/assets/")
    assert plain.status_code == 200 and plain.mimetype == "text/html"
    assert "Content-Encoding" not in plain.headers and varies_on_encoding(plain)
    for headers, encoding in ((GZIP, "gzip"), (BROTLI, "br")):
        packed = fetched(signed_in, "/assets/", headers)
        assert packed.headers["Content-Encoding"] == encoding
        assert varies_on_encoding(packed)
        assert int(packed.headers["Content-Length"]) == len(packed.data) < len(plain.data)
        assert without_nonce(packed, decoded(packed)) == without_nonce(plain, plain.data)


def test_an_api_list_is_compressed_when_asked(app, listed, officer_token, client):
    api = factories.BearerClient(client, officer_token)
    plain = fetched(api, "/api/v1/assets")
    assert plain.status_code == 200 and plain.mimetype == "application/geo+json"
    assert "Content-Encoding" not in plain.headers
    for headers, encoding in ((GZIP, "gzip"), (BROTLI, "br")):
        packed = fetched(api, "/api/v1/assets", headers)
        assert packed.headers["Content-Encoding"] == encoding and varies_on_encoding(packed)
        assert decoded(packed) == plain.data


def test_a_small_answer_is_not_compressed(client):
    response = fetched(client, "/healthz", GZIP)
    assert response.status_code == 200 and len(response.data) < 500
    assert "Content-Encoding" not in response.headers


@pytest.mark.parametrize("path", sorted(STATIC_FILES))
def test_static_scripts_are_compressed_and_revalidated_by_etag(client, app, path):
    source = STATIC_FILES[path].read_bytes()
    plain = fetched(client, path)
    assert plain.status_code == 200 and plain.data == source
    assert "Content-Encoding" not in plain.headers and varies_on_encoding(plain)
    assert plain.headers["Cache-Control"] == "no-cache"  # kept, and asked about each time
    etag = plain.headers["ETag"]
    assert not etag.startswith("W/")

    packed = fetched(client, path, GZIP)
    assert packed.headers["Content-Encoding"] == "gzip"
    assert decoded(packed) == source
    assert packed.headers["Cache-Control"] == "no-cache"
    packed_etag = packed.headers["ETag"]
    assert packed_etag not in (etag, "") and packed_etag.endswith(':gzip"')

    for headers, tag in ((GZIP, packed_etag), ({}, etag)):
        again = fetched(client, path, {**headers, "If-None-Match": tag})
        assert again.status_code == 304 and again.data == b""
        assert again.headers["ETag"] == tag
    # Each encoding's copy is its own: the gzip copy's tag does not validate the plain file.
    other = fetched(client, path, {"If-None-Match": packed_etag})
    assert other.status_code == 200 and other.data == source


def test_a_compressed_static_file_is_closed_with_its_response(client):
    """Compression replaces the file's stream by a generator: the file is still closed."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        for headers in (GZIP, BROTLI):
            response = client.get("/map/static/map.js", headers=headers)
            assert response.headers["Content-Encoding"] in ("gzip", "br")
            response.get_data()
            response.close()
            tag = response.headers["ETag"]
            client.get("/map/static/map.js", headers={**headers, "If-None-Match": tag}).close()
        gc.collect()
    assert [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)] == []


def test_images_and_workbooks_are_never_compressed(signed_in):
    icon = fetched(signed_in, "/static/icons/icon-192.png", GZIP)
    assert icon.status_code == 200 and icon.mimetype == "image/png"
    assert "Content-Encoding" not in icon.headers
    label = fetched(signed_in, "/assets/CS-001/label.png", GZIP)
    assert label.status_code == 200 and "Content-Encoding" not in label.headers
    workbook = fetched(signed_in, "/inspections/export.xlsx", GZIP)
    assert workbook.status_code == 200 and workbook.mimetype.endswith("spreadsheetml.sheet")
    assert "Content-Encoding" not in workbook.headers
    assert workbook.data.startswith(b"PK")  # the zip the file is, sent as it is


@pytest.fixture
def many_inspections(app, listed):
    """EXPORTED_INSPECTIONS more inspections of CS-002, one a day, each with notes that do not
    compress well (random hex): a CSV of ~550 kB that gzip sends in many parts."""
    with app.app_context():
        asset_id = asset_by_code("CS-002").id
        contractor_id = factories.gen_contractor("Fixers Ltd").id
        rows = [
            {
                "asset_id": asset_id,
                "contractor_id": contractor_id,
                "due_on": date(2026, 1, 1) + timedelta(days=day),
                "status": "scheduled",
                "created_at": NOW,
                "notes": secrets.token_hex(50),
            }
            for day in range(EXPORTED_INSPECTIONS)
        ]
        db.session.execute(insert(Inspection), rows)
        db.session.commit()


def test_a_csv_export_is_still_streamed_when_compressed(signed_in, many_inspections):
    path = "/inspections/export.csv"
    plain = fetched(signed_in, path)
    assert plain.status_code == 200 and plain.mimetype == "text/csv"
    assert plain.data.count(b"\n") == EXPORTED_INSPECTIONS + 2  # header, CS-001 and these

    response = signed_in.get(path, headers=GZIP, buffered=False)
    try:
        assert response.status_code == 200 and response.is_streamed
        assert response.headers["Content-Encoding"] == "gzip"
        assert "Content-Length" not in response.headers
        chunks = iter(response.response)
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        first = b""
        while not first:
            first = inflater.decompress(next(chunks))
        # The first compressed part left the server before the export had written its rows:
        # compressed as it streams, never gathered whole.
        assert 0 < first.count(b"\n") < EXPORTED_INSPECTIONS // 2
        rest = b"".join(inflater.decompress(chunk) for chunk in chunks) + inflater.flush()
    finally:
        response.close()
    assert first + rest == plain.data


def test_a_csv_export_is_compressed_at_the_download_levels(
    signed_in, many_inspections, monkeypatch
):
    """A whole list's download is compressed by core.serving at its own (cheapest) levels,
    either way the client asks, and decodes to the plain file."""
    path = "/inspections/export.csv"
    plain = fetched(signed_in, path)
    assert varies_on_encoding(plain) and "Content-Encoding" not in plain.headers
    for headers, encoding in [(GZIP, "gzip"), (BROTLI, "br")]:
        response = fetched(signed_in, path, headers)
        assert response.headers["Content-Encoding"] == encoding
        assert varies_on_encoding(response)
        assert len(response.data) < len(plain.data) / 1.5
        assert decoded(response) == plain.data
    monkeypatch.setattr(serving, "DOWNLOAD_GZIP_LEVEL", 0)  # stored: no smaller than plain
    stored = fetched(signed_in, path, GZIP)
    assert decoded(stored) == plain.data and len(stored.data) > len(plain.data)


def test_postgresql_sessions_run_without_jit(app, backend):
    if backend != "postgis":
        assert "options" not in spatial.engine_options(app.config["SQLALCHEMY_DATABASE_URI"])
        return
    with app.app_context():
        assert db.session.execute(text("SHOW jit")).scalar() == "off"
        with db.engine.connect() as connection:  # a new connection of the pool as well
            assert connection.execute(text("SHOW jit")).scalar() == "off"


def test_engine_options_turn_jit_off_for_postgresql():
    options = spatial.engine_options("postgresql+psycopg://registry@db.example.org/registry")
    assert "-c jit=off" in options["connect_args"]["options"]
    assert options["connect_args"]["connect_timeout"] == spatial.POSTGRES_CONNECT_TIMEOUT_SECONDS


def test_the_compressed_types_cover_calendars_and_csv(app):
    """The calendar feed, the exports and GeoJSON are text; images and zips are not."""
    compressed = set(app.config["COMPRESS_MIMETYPES"])
    assert {"text/calendar", "text/csv", "application/geo+json", "text/javascript"} <= compressed
    assert not {"image/png", "image/jpeg", "application/zip"} & compressed
