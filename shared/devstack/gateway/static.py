"""The web console's static files under ``/console`` (shared/console), next to the API.

Deployed, the console is an S3 bucket behind CloudFront (template.yaml ``ConsoleBucket``); locally the
gateway serves the same files so `make run` gives one origin for the console and the API. Only GET and
HEAD; a path is percent-decoded once and refused (404) when any segment is empty-dotted (``.``,
``..``), holds a backslash or a NUL, or resolves outside the folder (symlinks included). ``/console``
redirects to ``/console/`` so the page's relative asset URLs resolve as they do at a bucket's root.
"""

from __future__ import annotations

import mimetypes
from pathlib import Path
from urllib.parse import unquote

from .messages import IncomingRequest, OutgoingResponse

PREFIX = "/console"
CONSOLE_DIR = Path(__file__).resolve().parents[2] / "console"

# mimetypes reads the host's /etc/mime.types, which may lack or differ on these: pin what the
# console ships (ES modules must be served as JavaScript or the browser refuses to run them).
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".txt": "text/plain; charset=utf-8",
    ".map": "application/json",
}
# Same-origin only locally: the console calls the API of the page's own origin (config.js default).
SECURITY_HEADERS = [
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
    ("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; object-src 'none'; frame-ancestors 'none'"),
    ("Cache-Control", "no-cache"),
]


def is_console_path(path: str) -> bool:
    return path == PREFIX or path.startswith(PREFIX + "/")


def content_type(path: Path) -> str:
    return CONTENT_TYPES.get(path.suffix.lower()) or mimetypes.guess_type(path.name)[0] or "application/octet-stream"


def resolve(path: str, root: Path = CONSOLE_DIR) -> Path | None:
    """The file ``path`` (``/console/...``, percent-encoded) names under ``root``, or None."""
    relative = unquote(path[len(PREFIX) :]).lstrip("/")
    segments = relative.split("/") if relative else []
    if any(s in (".", "..") or "\\" in s or "\x00" in s for s in segments):
        return None
    base = root.resolve()
    candidate = (base / relative).resolve()
    if not candidate.is_relative_to(base):
        return None
    if candidate.is_dir():
        candidate = candidate / "index.html"
    return candidate if candidate.is_file() else None


def serve(request: IncomingRequest, root: Path = CONSOLE_DIR) -> OutgoingResponse:
    """Answer a request for a ``/console`` path from ``root``."""
    if request.method not in ("GET", "HEAD"):
        return _plain(405, "Method not allowed", [("Allow", "GET, HEAD")])
    if request.path == PREFIX:
        location = PREFIX + "/" + (f"?{request.query}" if request.query else "")
        return _plain(308, "See /console/", [("Location", location)])
    found = resolve(request.path, root)
    if found is None:
        return _plain(404, "Not found")
    headers = [("Content-Type", content_type(found)), *SECURITY_HEADERS]
    return OutgoingResponse(200, headers, found.read_bytes(), note="console")


def _plain(status: int, text: str, headers: list[tuple[str, str]] | None = None) -> OutgoingResponse:
    return OutgoingResponse(
        status, [("Content-Type", "text/plain; charset=utf-8"), *(headers or [])], text.encode(), note="console"
    )
