"""The web console in a real browser (issue 12, item 4): Debian's headless Chromium, driven by
Selenium, against the local stack. The chart is checked on what uPlot drew (its data and the
canvas's pixels), not on a div existing; screenshots go to tests/browser/artifacts/."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.conftest import READINGS, Api, axe_violations, screenshot

pytestmark = pytest.mark.e2e

WAIT = 10


def _wait(driver: Any, condition: Any, timeout: float = WAIT) -> Any:
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout).until(condition)


def _css(driver: Any, selector: str) -> Any:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec

    return _wait(driver, ec.visibility_of_element_located((By.CSS_SELECTOR, selector)))


def _link(driver: Any, text: str) -> Any:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec

    return _wait(driver, ec.element_to_be_clickable((By.LINK_TEXT, text)))


def _titled(driver: Any, title: str) -> None:
    script = "const t = document.getElementById('page-title'); return t && t.textContent"
    _wait(driver, lambda d: d.execute_script(script) == title)


def _open(driver: Any, stack: Any, fragment: str = "") -> None:
    driver.get(f"{stack.url}/console/{fragment}")


def _sign_in(driver: Any, stack: Any, key: str) -> None:
    _open(driver, stack)
    driver.execute_script("sessionStorage.clear()")
    driver.refresh()
    field = _css(driver, "#api-key")
    field.send_keys(key)
    _css(driver, "#sign-in-form button[type=submit]").click()
    _wait(driver, lambda d: d.find_elements("css selector", "nav#nav:not([hidden])"))


def _plot(driver: Any) -> dict[str, Any]:
    """What uPlot holds and drew: its x and y data, and how many canvas pixels are not blank."""
    result: dict[str, Any] = driver.execute_script(
        """
        const el = document.getElementById('chart');
        const u = el && el.uplot;
        if (!u) return null;
        const canvas = el.querySelector('canvas');
        const pixels = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
        let inked = 0;
        for (let i = 3; i < pixels.length; i += 4) if (pixels[i] !== 0) inked++;
        return {xs: Array.from(u.data[0]), ys: Array.from(u.data[1]), label: u.series[1].label,
                inked, points: el.dataset.points, width: canvas.width};
        """
    )
    return result


def _chart_with(driver: Any, points: int) -> dict[str, Any]:
    _wait(driver, lambda d: (p := _plot(d)) is not None and len(p["xs"]) == points)
    return _plot(driver)


def test_a_bad_key_is_refused_with_the_problem_detail(browser: Any, local_stack: Any) -> None:
    _open(browser, local_stack)
    browser.execute_script("sessionStorage.clear()")
    browser.refresh()
    _css(browser, "#api-key").send_keys("avy_not-a-real-key")
    _css(browser, "#sign-in-form button[type=submit]").click()
    error = _css(browser, "#error")
    assert "HTTP 401" in error.text and "Send a valid API key in the X-Api-Key header." in error.text
    assert browser.execute_script("return sessionStorage.length") == 0


def test_sign_in_open_a_thing_and_see_its_readings_charted(
    browser: Any, local_stack: Any, api_key: str, world: dict[str, Any]
) -> None:
    _sign_in(browser, local_stack, api_key)
    # the key is kept for the tab only
    assert browser.execute_script("return sessionStorage.getItem('telemetry.console.apiKey')") == api_key
    assert browser.execute_script("return localStorage.length") == 0 and browser.get_cookies() == []

    _link(browser, "Plant North").click()
    _link(browser, "Battery A1").click()
    plot = _chart_with(browser, READINGS)
    assert plot["label"] == "soc"
    assert plot["xs"] == world["timestamps"] and plot["ys"] == world["values"]
    assert plot["inked"] > 2000, plot["inked"]  # a line and its fill were drawn, not an empty canvas
    latest = _css(browser, "section[aria-labelledby=latest-title]").text
    assert str(world["values"][-1]) in latest and "eco" in latest
    screenshot(browser, "thing-history")
    # only numeric metrics are offered for the chart (mode is a String)
    assert [o.text for o in browser.find_elements("css selector", "#metric option")] == ["soc"]

    # a custom range: the first 30 readings only (end is exclusive)
    from selenium.webdriver.support.ui import Select

    Select(_css(browser, "#range")).select_by_value("custom")
    assert _css(browser, "#range-start").get_attribute("value")  # prefilled with the last 24 hours
    browser.execute_script(
        "const local = (ms) => { const d = new Date(ms - new Date(ms).getTimezoneOffset() * 60000);"
        " return d.toISOString().slice(0, 19); };"
        "document.getElementById('range-start').value = local(arguments[0]);"
        "document.getElementById('range-end').value = local(arguments[1]);",
        world["timestamps"][0],
        world["timestamps"][30],
    )
    _css(browser, "#chart-form button[type=submit]").click()
    plot = _chart_with(browser, 30)
    assert plot["xs"] == world["timestamps"][:30]
    Select(_css(browser, "#range")).select_by_value("86400000")

    # aggregates: 15-minute maxima, exactly what the API answers for the same range
    Select(_css(browser, "#interval")).select_by_value("15m")
    Select(_css(browser, "#aggregation")).select_by_value("Max")
    _css(browser, "#chart-form button[type=submit]").click()
    _wait(browser, lambda d: "Max per 15m" in d.find_element("id", "chart-summary").text)
    plot = _plot(browser)
    start, end = world["timestamps"][0], world["timestamps"][-1] + 1
    expected = Api(local_stack.url, api_key).ok(
        "GET",
        f"/v2/things/{world['thing']['id']}/aggregates",
        interval="15m",
        aggregation="Max",
        metrics="soc",
        start=start,
        end=end,
    )
    assert plot["xs"] == [b["timestamp"] for b in expected["buckets"]]
    assert plot["ys"] == [b["metrics"]["soc"] for b in expected["buckets"]]
    assert 4 <= len(plot["xs"]) <= 5 and plot["inked"] > 500

    # zoom from the keyboard-reachable buttons: the x scale narrows, then resets
    full = browser.execute_script(
        "const u = document.getElementById('chart').uplot; return u.scales.x.max - u.scales.x.min"
    )
    _css(browser, "#zoom-in").click()
    zoomed = browser.execute_script(
        "const u = document.getElementById('chart').uplot; return u.scales.x.max - u.scales.x.min"
    )
    assert zoomed == pytest.approx(full / 2)
    _css(browser, "#zoom-reset").click()
    screenshot(browser, "thing-aggregates")

    # auto-refresh: a new value (for the last timestamp: per-metric upsert, so the thing keeps its 60
    # readings for the other tests) appears in the latest event and the chart without a reload
    Select(_css(browser, "#interval")).select_by_value("raw")
    _css(browser, "#chart-form button[type=submit]").click()
    _chart_with(browser, READINGS)
    api = Api(local_stack.url, api_key)
    last, thing = world["timestamps"][-1], world["thing"]["id"]
    api.ok("POST", f"/v2/thing/{thing}/data", {"frames": [{"timestamp": last, "metrics": {"soc": 99.5}}]})
    world["values"][-1] = 99.5
    _wait(browser, lambda _: api.ok("GET", f"/v2/things/{thing}/latest-event")["metrics"]["soc"] == 99.5)
    assert _plot(browser)["ys"][-1] != 99.5
    _css(browser, "#auto-refresh").click()
    try:
        _wait(browser, lambda d: _plot(d)["ys"][-1] == 99.5)
        _wait(browser, lambda d: "99.5" in d.find_element("css selector", "section[aria-labelledby=latest-title]").text)
    finally:
        _css(browser, "#auto-refresh").click()
    assert len(_plot(browser)["xs"]) == READINGS


def test_the_playground_runs_a_template_and_shows_the_readings(
    browser: Any, local_stack: Any, api_key: str, world: dict[str, Any]
) -> None:
    from selenium.webdriver.support.ui import Select

    _sign_in(browser, local_stack, api_key)
    _link(browser, "Template playground").click()
    _titled(browser, "Template playground")
    Select(_css(browser, "#template")).select_by_value(world["template"]["id"])
    payload = _css(browser, "#payload")
    payload.clear()
    payload.send_keys(
        '{"readings": [{"ts": "2024-06-20T12:00:00Z", "charge": 81.5}, {"ts": "2024-06-20T12:01:00Z", "charge": 82},'
        ' {"ts": "not a time", "charge": 1}]}'
    )
    _css(browser, "#playground-form button[type=submit]").click()
    result = _css(browser, "#playground-result div[aria-label='Readings it would write'] table")
    rows = [r.text for r in result.find_elements("css selector", "tbody tr")]
    assert rows == ["2024-06-20T12:00:00Z 81.5", "2024-06-20T12:01:00Z 82"]
    header = result.find_element("css selector", "thead").text
    assert "soc" in header and world["soc"]["id"] in header
    report = _css(browser, "#playground-result").text
    assert "previewOnly\ntrue" in report and "readingsWritten\n2" in report
    skipped = _css(browser, "#playground-result div[aria-label='Records skipped'] tbody").text
    assert skipped == "2 invalid_timestamp not a time"
    screenshot(browser, "playground")

    # a payload that is not JSON: the API's problem detail is shown
    payload.clear()
    payload.send_keys("{not json")
    _css(browser, "#playground-form button[type=submit]").click()
    error = _css(browser, "#error")
    assert "HTTP 400" in error.text and ":" in error.text


def test_integrations_list_with_their_status(
    browser: Any, local_stack: Any, api_key: str, world: dict[str, Any]
) -> None:
    from tests.support import integrations_template

    api = Api(local_stack.url, api_key)
    body = {
        "name": "vans",
        "provider": "zubie",
        "connection": {"baseUrl": "http://127.0.0.1:9/zubie"},
        "credentials": {"apiKey": "secret"},
        "resources": [{"externalId": "veh-1", "thingId": world["thing"]["id"]}],
        "templateId": integrations_template(api_key),
    }
    api.ok("POST", "/v2/integrations", body, 201)
    _sign_in(browser, local_stack, api_key)
    _link(browser, "Integrations").click()
    _titled(browser, "Integrations")
    row = _css(browser, "main table tbody tr").text
    assert row.startswith("vans zubie yes never run")


def test_keyboard_only_sign_in_and_navigation(
    browser: Any, local_stack: Any, api_key: str, world: dict[str, Any]
) -> None:
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    def press(*keys: str) -> None:
        ActionChains(browser).send_keys(*keys).perform()

    def active() -> Any:
        return browser.switch_to.active_element

    def ring() -> str:
        return str(
            browser.execute_script(
                "const s = getComputedStyle(document.activeElement); return s.outlineStyle + ' ' + s.outlineWidth"
            )
        )

    def tab_to(text: str, backwards: bool = False, limit: int = 20) -> list[str]:
        seen = []
        for _ in range(limit):
            if backwards:
                ActionChains(browser).key_down(Keys.SHIFT).send_keys(Keys.TAB).key_up(Keys.SHIFT).perform()
            else:
                press(Keys.TAB)
            seen.append(active().text)
            assert ring().startswith("solid 3px"), (seen[-1], ring())  # a visible focus ring on each stop
            if seen[-1] == text:
                return seen
        raise AssertionError(f"{text!r} not reached by Tab: {seen}")

    _open(browser, local_stack)
    browser.execute_script("sessionStorage.clear()")
    browser.refresh()
    _css(browser, "#api-key")
    assert active().get_attribute("id") == "api-key"  # focused on load: type the key, press Enter
    press(api_key, Keys.ENTER)
    _link(browser, "Plant North")
    # focus moves to the page's content; backwards through the navigation to the skip link
    backwards = tab_to("Skip to content", backwards=True)
    assert {"Sign out", "Integrations", "Template playground", "Places"} <= set(backwards), backwards
    tab_to("Plant North")
    press(Keys.ENTER)
    _titled(browser, "Plant North")
    tab_to("Battery A1")
    press(Keys.ENTER)
    _chart_with(browser, READINGS)
    reached = set()
    for _ in range(30):
        press(Keys.TAB)
        reached.add(active().get_attribute("id"))
    assert {"metric", "interval", "range", "zoom-in", "zoom-out", "zoom-reset", "auto-refresh"} <= reached, reached
    # the zoom buttons work from the keyboard too
    browser.find_element("id", "zoom-in").send_keys(Keys.ENTER)
    span = browser.execute_script(
        "const u = document.getElementById('chart').uplot; return u.scales.x.max - u.scales.x.min"
    )
    assert span < world["timestamps"][-1] - world["timestamps"][0]
    screenshot(browser, "keyboard")


@pytest.mark.parametrize("page", ["places", "thing", "playground"])
def test_usable_at_phone_width(browser: Any, local_stack: Any, api_key: str, world: dict[str, Any], page: str) -> None:
    _sign_in(browser, local_stack, api_key)
    browser.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride", {"width": 360, "height": 780, "deviceScaleFactor": 1, "mobile": True}
    )
    try:
        fragment = {"places": "#/places", "thing": f"#/things/{world['thing']['id']}", "playground": "#/playground"}[
            page
        ]
        _open(browser, local_stack, fragment)
        if page == "thing":
            plot = _chart_with(browser, READINGS)
            assert plot["width"] <= 360
        else:
            _css(browser, "main table, main textarea")
        assert browser.execute_script("return window.innerWidth") == 360
        # nothing wider than the screen: no sideways scrolling of the page
        assert browser.execute_script("return document.documentElement.scrollWidth") <= 360
        screenshot(browser, f"phone-{page}")
    finally:
        browser.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


def test_no_serious_accessibility_violations(
    browser: Any, local_stack: Any, api_key: str, world: dict[str, Any]
) -> None:
    _open(browser, local_stack)
    browser.execute_script("sessionStorage.clear()")
    browser.refresh()
    _css(browser, "#api-key")
    found = {"sign-in": axe_violations(browser)}
    _sign_in(browser, local_stack, api_key)
    for name, fragment, ready in (
        ("places", "#/places", "main table"),
        ("thing", f"#/things/{world['thing']['id']}", "#chart canvas"),
        ("playground", "#/playground", "#payload"),
        ("integrations", "#/integrations", "main h1"),
    ):
        _open(browser, local_stack, fragment)
        _css(browser, ready)
        found[name] = axe_violations(browser)
    assert all(not v for v in found.values()), found


def test_sign_out_forgets_the_key(browser: Any, local_stack: Any, api_key: str) -> None:
    _sign_in(browser, local_stack, api_key)
    _css(browser, "#sign-out").click()
    _css(browser, "#api-key")
    assert browser.execute_script("return sessionStorage.length") == 0


def test_uplot_draws_100k_points_fast(browser: Any, local_stack: Any, api_key: str) -> None:
    """Why uPlot (docs/console.md): the console's own Chart draws 100,000 points, timed in the page."""
    _sign_in(browser, local_stack, api_key)
    timing = browser.execute_async_script(
        """
        const done = arguments[arguments.length - 1];
        import('./js/chart.js').then(({Chart}) => {
          const box = document.createElement('div');
          box.style.width = '1200px';
          document.body.append(box);
          const n = 100000, t0 = Date.now() - n * 1000;
          const xs = Array.from({length: n}, (_, i) => t0 + i * 1000);
          const ys = xs.map((_, i) => 50 + 20 * Math.sin(i / 500) + (i % 7));
          const chart = new Chart(box);
          const start = performance.now();
          chart.draw(xs, ys, {label: 'load', unit: ''});
          // uPlot paints in a microtask after the constructor: time it to its 'draw' hook
          (chart.plot.hooks.draw = chart.plot.hooks.draw || []).push(() => {
            const drawn = performance.now() - start;
            const points = chart.plot.data[0].length;
            chart.dispose();
            box.remove();
            done({drawn, points});
          });
        }, (e) => done({error: String(e)}));
        """
    )
    assert timing.get("points") == 100_000, timing
    print(f"uPlot: 100,000 points drawn in {timing['drawn']:.0f} ms")
    assert timing["drawn"] < 1500, timing
