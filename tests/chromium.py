"""Headless Chromium for the report's browser tests (and scripts/report_screenshots.py):
Debian's chromium and its matching chromium-driver, driven by selenium, a fresh profile
each time, every request that is not the page itself blocked and recorded."""
from __future__ import annotations

import base64
import contextlib
import json
import os
from pathlib import Path
from typing import Iterator

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run",
         "--disable-default-apps", "--hide-scrollbars", "--window-size=1400,1000")
NETWORK = ["http://*", "https://*", "ws://*", "wss://*", "ftp://*"]


def missing() -> str | None:
    """Why the browser tests cannot run here, or None."""
    absent = [path for path in (CHROMIUM, CHROMEDRIVER) if not os.path.exists(path)]
    if absent:
        return (f"no {' or '.join(absent)}: `make setup` installs Debian's chromium and "
                "chromium-driver where apt-get is")
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (the dev extra: `make setup`)"
    return None


@contextlib.contextmanager
def headless_chromium(profile: Path) -> Iterator:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (*FLAGS, f"--user-data-dir={profile}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def open_offline(driver, page: Path, timeout: float = 120) -> list[str]:
    """Opens `page` with the network off and waits until every plotly figure has drawn
    its SVG; returns the URLs of the other requests the page attempted (all blocked)."""
    from selenium.webdriver.support.ui import WebDriverWait
    driver.get("about:blank")
    driver.get_log("performance")  # the start page's events
    driver.execute_cdp_cmd("Network.enable", {})
    driver.execute_cdp_cmd("Network.setBlockedURLs", {"urls": NETWORK})
    driver.execute_cdp_cmd("Network.emulateNetworkConditions", {
        "offline": True, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1})
    driver.get(page.as_uri())
    WebDriverWait(driver, timeout).until(lambda d: d.execute_script(
        "const plots = [...document.querySelectorAll('.js-plotly-plot')];"
        "return document.readyState === 'complete' && plots.length > 0 &&"
        " plots.every(p => p.querySelector('svg.main-svg'));"))
    sent = [json.loads(entry["message"])["message"] for entry in driver.get_log("performance")]
    urls = [event["params"]["request"]["url"] for event in sent
            if event["method"] == "Network.requestWillBeSent"]
    return [url for url in urls if url != page.as_uri() and not url.startswith(("data:", "blob:"))]


def console_errors(driver) -> list[str]:
    return [entry["message"] for entry in driver.get_log("browser")
            if entry["level"] == "SEVERE"]


def screenshot(driver, path: Path, selector: str | None = None) -> Path:
    """The whole page, or the element `selector`, as a PNG (beyond the window too)."""
    script = ("const r = (arguments[0] ? document.querySelector(arguments[0])"
              " : document.documentElement).getBoundingClientRect();"
              "return [r.left + window.scrollX, r.top + window.scrollY, r.width, r.height];")
    x, y, width, height = driver.execute_script(script, selector)
    shot = driver.execute_cdp_cmd("Page.captureScreenshot", {
        "format": "png", "captureBeyondViewport": True,
        "clip": {"x": x, "y": y, "width": width, "height": height, "scale": 1}})
    path.write_bytes(base64.b64decode(shot["data"]))
    return path
