"""Fixtures of the real-browser tests: Debian's headless Chromium driven by Selenium against the
local stack (tests/support.running_stack), with screenshots in tests/browser/artifacts/."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.browser.chromium import ensure_chromium

ARTIFACTS = Path(__file__).parent / "artifacts"
AXE = Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js"
T_STEP = 60_000  # one reading a minute
READINGS = 60


@pytest.fixture(scope="session")
def chromium() -> tuple[str, str]:
    found = ensure_chromium()
    if isinstance(found, str):
        pytest.skip(f"no headless Chromium for the browser tests: {found}")
    return found


@pytest.fixture(scope="module")
def browser(chromium: tuple[str, str]) -> Iterator[Any]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    binary, driver_path = chromium
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--window-size=1280,900",
    ):
        options.add_argument(flag)
    options.add_argument("--disable-extensions")
    driver = webdriver.Chrome(options=options, service=Service(executable_path=driver_path))
    driver.implicitly_wait(0)
    ARTIFACTS.mkdir(exist_ok=True)
    try:
        yield driver
    finally:
        driver.quit()


class Api:
    """The test's own way to the platform (requests), to set up what the console then shows."""

    def __init__(self, base: str, key: str) -> None:
        self.base, self.session = base, requests.Session()
        self.session.headers.update({"X-Api-Key": key})

    def ok(self, method: str, path: str, body: Any = None, status: int = 200, **params: Any) -> Any:
        answer = self.session.request(method, self.base + path, json=body, params=params or None, timeout=30)
        assert answer.status_code == status, (method, path, answer.status_code, answer.text)
        return answer.json()


@pytest.fixture(scope="module")
def api(local_stack: Any, api_key: str) -> Api:
    return Api(local_stack.url, api_key)


@pytest.fixture(scope="module")
def world(api: Api) -> dict[str, Any]:
    """A site, a battery with an hour of readings (one a minute), and a JsonPointer template."""
    soc = api.ok(
        "POST",
        "/v2/definitions/metrics",
        {"name": "soc", "dataType": "Double", "defaultAggregation": "Avg", "unitLabel": "%"},
        201,
    )
    mode = api.ok(
        "POST", "/v2/definitions/metrics", {"name": "mode", "dataType": "String", "defaultAggregation": "Last"}, 201
    )
    kind = api.ok(
        "POST", "/v2/definitions/thing-types", {"displayName": "Battery", "metricIds": [soc["id"], mode["id"]]}, 201
    )
    site = api.ok("POST", "/v2/sites", {"name": "Plant North", "description": "browser test"}, 201)
    thing = api.ok(
        "POST", f"/v2/sites/{site['id']}/things", {"thingName": "Battery A1", "thingTypeId": kind["id"]}, 201
    )
    now = int(time.time() * 1000) // T_STEP * T_STEP
    timestamps = [now - (READINGS - i) * T_STEP for i in range(READINGS)]
    values = [round(50 + 30 * ((i % 20) / 20), 2) for i in range(READINGS)]
    frames = [{"timestamp": t, "metrics": {"soc": v, "mode": "eco"}} for t, v in zip(timestamps, values, strict=True)]
    api.ok("POST", f"/v2/thing/{thing['id']}/data", {"frames": frames})
    template = api.ok(
        "POST",
        "/v2/templates",
        {
            "name": "Acme v1",
            "target": "ThingData",
            "format": "JsonPointer",
            "spec": {
                "recordsPointer": "/readings",
                "timestamp": {"source": {"pointer": "/ts"}, "format": "iso8601"},
                "mappings": [{"metricId": soc["id"], "source": {"pointer": "/charge"}}],
            },
        },
        201,
    )
    deadline = time.monotonic() + 20
    while True:  # the queue poller and the writer store the readings asynchronously
        stored = api.ok("GET", f"/v2/things/{thing['id']}/history", start=timestamps[0], end=now + 1, pageLimit=1000)
        if len(stored["frames"]) == READINGS or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert len(stored["frames"]) == READINGS
    return {"site": site, "thing": thing, "template": template, "soc": soc, "timestamps": timestamps, "values": values}


def screenshot(driver: Any, name: str) -> Path:
    """The whole page (beyond the viewport), through the DevTools protocol."""
    import base64

    size = driver.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]
    clip = {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1}
    shot = driver.execute_cdp_cmd(
        "Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True, "clip": clip}
    )
    path = ARTIFACTS / f"{name}.png"
    path.write_bytes(base64.b64decode(shot["data"]))
    return path


def axe_violations(driver: Any, serious_only: bool = True) -> list[dict[str, Any]]:
    """axe-core (vendored from npm) injected into the page; WCAG 2.x A/AA rules."""
    driver.execute_script(AXE.read_text(encoding="utf-8"))
    result = driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']}})"
        ".then(r => done(r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,"
        " nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))}))), e => done([{id: 'axe-error', impact: 'critical', help: String(e), nodes: []}]));"
    )
    return [v for v in result if not serious_only or v["impact"] in ("serious", "critical")]
