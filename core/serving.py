"""How responses travel: compressed when the client accepts it, static files revalidated.

- Compression (Flask-Compress): brotli or gzip, as the request's ``Accept-Encoding`` prefers,
  for the text the app sends (pages, JSON and GeoJSON, scripts, styles, SVG, CSV, calendars)
  of at least ``COMPRESS_MIN_SIZE`` bytes; never for what is compressed already (photos,
  PNG labels, xlsx workbooks, which are zip files). Every response says
  ``Vary: Accept-Encoding``, so a cache keeps the two forms apart, and a strong ETag gets the
  encoding appended (``"abc:br"``), so the two forms never share a validator.
- Streamed responses (the CSV exports, static files) are compressed chunk by chunk as they
  are sent (one compressor per response, constant memory): the export still begins before
  its last row is read. A file's conditional request (``If-None-Match``) is still answered
  304 after its ETag got the encoding (``COMPRESS_STREAMING_ENDPOINT_CONDITIONAL``: the app's
  and the map's static endpoints).
- Downloads of a whole list (a streamed ``Content-Disposition: attachment``: the CSV exports,
  some hundreds of MB at province size) are compressed here, at the cheapest levels, not by
  Flask-Compress, whose levels suit pages and scripts. On 60 MB of the 1M-asset province's
  asset CSV brotli 1 took 0.66 s against brotli 4's 2.35 s (7.6 MB against 5.9 MB), gzip 1
  1.09 s against gzip 6's 2.74 s (7.9 MB against 5.6 MB): a few seconds of a worker's time
  saved per 100 MB, where gunicorn's timeout counts them. Scripts keep the higher levels
  (level 1 costs 12-19% more bytes there, which a phone on mobile data pays).
- Nothing compressed is cached between requests: every page carries its own CSP nonce.
- Static files (``/static/…``, ``/map/static/…``): Flask's ``send_file`` gives an ETag and a
  Last-Modified, and ``Cache-Control: no-cache`` (``SEND_FILE_MAX_AGE_DEFAULT`` left None): a
  browser keeps the file and asks each time whether it changed (304, no body), so a deploy
  takes effect on the next page without versioned URLs. The phone's service worker keeps its
  own copies by content hash (``core.pwa``).
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Iterator

import brotli
from flask import Flask, Response, request

from core.extensions import compress

COMPRESSED_MIMETYPES = (
    "text/html",
    "text/css",
    "text/javascript",
    "application/javascript",
    "application/json",
    "application/geo+json",
    "application/manifest+json",
    "image/svg+xml",
    "text/csv",
    "text/calendar",
    "text/plain",
)
# Brotli first (browsers send it over https only), gzip for every other client. Both are
# wheels (brotli, zlib): no system package. Streams too: flask-compress leaves gzip out of
# its streaming default, but compresses a gzip stream chunk by chunk like the others.
ALGORITHMS = ("br", "gzip")
COMPRESSION_SETTINGS = {
    "COMPRESS_MIMETYPES": list(COMPRESSED_MIMETYPES),
    "COMPRESS_ALGORITHM": list(ALGORITHMS),
    "COMPRESS_ALGORITHM_STREAMING": list(ALGORITHMS),
    "COMPRESS_STREAMS": True,
    # Below this a compressed body saves less than its header costs.
    "COMPRESS_MIN_SIZE": 500,
    "COMPRESS_LEVEL": 6,
    "COMPRESS_BR_LEVEL": 4,
    # Registered by ``init_app`` below, to close what a compressed stream replaced.
    "COMPRESS_REGISTER": False,
    # Static files: streamed, and answered 304 again when the client has this encoding's copy.
    "COMPRESS_STREAMING_ENDPOINT_CONDITIONAL": ["static", "maps.static"],
}
DOWNLOAD_BR_QUALITY = 1
DOWNLOAD_GZIP_LEVEL = 1


def init_app(app: Flask) -> None:
    """Before the parts: compression is then the last of the app's after-request steps, on the
    finished body and headers. A test's or the instance's configuration may change a setting."""
    for name, value in COMPRESSION_SETTINGS.items():
        app.config.setdefault(name, value)
    compress.init_app(app)
    app.after_request(compressed)


def compressed(response: Response) -> Response:
    """``response`` compressed if the client and its type allow (flask-compress).

    A streamed body is replaced by a compressing generator over it, and closing the response
    then closes only that generator: the stream under it (a static file's handle, the export's
    rows and their database cursor) stayed open until garbage collection. It is closed with
    the response, as it was before compression."""
    body = response.response
    if is_streamed_download(response):
        response = cheaply_compressed(response)
    else:
        response = compress.after_request(response)
    if response.response is not body and hasattr(body, "close"):
        response.call_on_close(body.close)
    return response


def is_streamed_download(response: Response) -> bool:
    return (
        response.is_streamed
        and 200 <= response.status_code < 300
        and response.mimetype in COMPRESSED_MIMETYPES
        and response.headers.get("Content-Disposition", "").startswith("attachment")
        and "Content-Encoding" not in response.headers
    )


def cheaply_compressed(response: Response) -> Response:
    """A streamed download compressed chunk by chunk, as Flask-Compress would (the same
    choice of brotli or gzip, the same ``Vary``), at the cheapest levels."""
    response.vary.add("Accept-Encoding")
    algorithm = request.accept_encodings.best_match(ALGORITHMS)
    if algorithm is None:
        return response
    response.response = compressed_chunks(response.iter_encoded(), algorithm)
    response.direct_passthrough = False
    response.headers["Content-Encoding"] = algorithm
    response.headers.pop("Content-Length", None)
    return response


def compressed_chunks(chunks: Iterable[bytes], algorithm: str) -> Iterator[bytes]:
    if algorithm == "br":
        compressor = brotli.Compressor(quality=DOWNLOAD_BR_QUALITY)
        compress_chunk, finish = compressor.process, compressor.finish
    else:
        compressor = zlib.compressobj(DOWNLOAD_GZIP_LEVEL, zlib.DEFLATED, zlib.MAX_WBITS | 16)
        compress_chunk, finish = compressor.compress, compressor.flush
    for chunk in chunks:
        if compressed_chunk := compress_chunk(chunk):
            yield compressed_chunk
    if last := finish():
        yield last
