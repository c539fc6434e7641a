"""The web console's static route on the local gateway (shared/devstack/gateway/static.py)."""

from __future__ import annotations

import http.client
from pathlib import Path

import pytest
import requests
from devstack.gateway import IncomingRequest
from devstack.gateway.static import CONSOLE_DIR, CONTENT_TYPES, resolve, serve
from devstack.stack import LocalStack


def _get(path: str, method: str = "GET", query: str = "") -> IncomingRequest:
    return IncomingRequest(method, path, query, [], b"")


@pytest.fixture
def site(tmp_path: Path) -> Path:
    root = tmp_path / "console"
    (root / "js").mkdir(parents=True)
    (root / "index.html").write_text("<!doctype html><title>x</title>")
    (root / "js" / "app.js").write_text("export {};")
    (root / "style.css").write_text("body{}")
    (tmp_path / "secret.txt").write_text("not for the browser")
    (root / "escape").symlink_to(tmp_path / "secret.txt")
    return root


@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        ("/console/", "text/html; charset=utf-8"),
        ("/console/index.html", "text/html; charset=utf-8"),
        ("/console/js/app.js", "text/javascript; charset=utf-8"),
        ("/console/style.css", "text/css; charset=utf-8"),
        ("/console/js/", None),  # a folder without index.html
    ],
)
def test_files_are_served_with_their_content_type(site: Path, path: str, content_type: str | None) -> None:
    answer = serve(_get(path), site)
    if content_type is None:
        assert answer.status == 404
        return
    assert answer.status == 200
    assert answer.header("Content-Type") == content_type
    assert answer.header("X-Content-Type-Options") == "nosniff"
    assert answer.body == (site / (path.removeprefix("/console/") or "index.html")).read_bytes()


@pytest.mark.parametrize(
    "path",
    [
        "/console/../secret.txt",
        "/console/js/../../secret.txt",
        "/console/%2e%2e/secret.txt",
        "/console/%2E%2E%2Fsecret.txt",
        "/console/js/%2e%2e%2f%2e%2e%2fsecret.txt",
        "/console/..%5csecret.txt",
        "/console/escape",  # a symlink out of the folder
        "/console//etc/passwd",
        "/console/%00index.html",
        "/console/missing.js",
    ],
)
def test_nothing_outside_the_folder_is_served(site: Path, path: str) -> None:
    assert resolve(path, site) is None
    answer = serve(_get(path), site)
    assert answer.status == 404 and b"not for the browser" not in answer.body


def test_only_get_and_head(site: Path) -> None:
    answer = serve(_get("/console/index.html", "POST"), site)
    assert answer.status == 405 and answer.header("Allow") == "GET, HEAD"


def test_the_bare_prefix_redirects_to_the_folder_keeping_the_query(site: Path) -> None:
    answer = serve(_get("/console", query="a=1"), site)
    assert answer.status == 308 and answer.header("Location") == "/console/?a=1"


def test_every_file_the_console_ships_has_a_pinned_content_type() -> None:
    shipped = {p.suffix for p in CONSOLE_DIR.rglob("*") if p.is_file()}
    assert shipped - {".txt", ""} <= set(CONTENT_TYPES), shipped - set(CONTENT_TYPES)
    assert (CONSOLE_DIR / "index.html").is_file() and (CONSOLE_DIR / "config.js").is_file()


def test_the_gateway_serves_the_console_next_to_the_api(stack: LocalStack) -> None:
    page = requests.get(f"{stack.url}/console/", timeout=5)
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    assert '<script type="module" src="js/app.js">' in page.text
    module = requests.get(f"{stack.url}/console/js/app.js", timeout=5)
    assert module.status_code == 200 and module.headers["Content-Type"] == "text/javascript; charset=utf-8"
    redirect = requests.get(f"{stack.url}/console", timeout=5, allow_redirects=False)
    assert redirect.status_code == 308 and redirect.headers["Location"] == "/console/"
    # a path that only starts like the prefix is still the API's: no route there
    other = requests.get(f"{stack.url}/consoles", timeout=5)
    assert other.headers["x-amzn-ErrorType"] == "MissingAuthenticationTokenException"


def test_dot_segments_sent_raw_do_not_escape(stack: LocalStack) -> None:
    # requests would normalise "..": send the bytes as a client may
    assert stack.gateway is not None
    conn = http.client.HTTPConnection("127.0.0.1", stack.gateway.port, timeout=5)
    for raw in ("/console/../template.yaml", "/console/..%2f..%2fpyproject.toml", "/console/%2e%2e/devstack/cli.py"):
        conn.request("GET", raw)
        answer = conn.getresponse()
        body = answer.read()
        assert answer.status == 404, (raw, answer.status)
        assert b"Resources" not in body and b"import" not in body
    conn.close()
