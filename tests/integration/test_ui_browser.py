"""The Temporal UI in a real browser: headless Chromium (Debian's `chromium`, driven through
Debian's `chromium-driver` by selenium) opens the dev server's UI, finds the demo incident by
its id, and reads its summary and state the way a person sees them.

Screenshots are kept in `test-artifacts/` at the repository root (gitignored), or in
`$INCIDENTFLOW_TEST_ARTIFACTS`. Outside CI the test skips when Chromium is not installed;
under CI=true that is a failure, since scripts/system-deps installs it.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pytest
from conftest import Stack
from flow import DEMO_ORIGIN, demo_payloads, fingerprints_of, wait_for_incident, wait_for_state
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.chrome.webdriver import WebDriver
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support import expected_conditions as seen
from selenium.webdriver.support.ui import WebDriverWait

from incidentflow.models import IncidentState
from incidentflow.temporal import DevServer

ROOT = Path(__file__).resolve().parents[2]
# Debian's paths: the driver is given explicitly, so selenium never looks for (or downloads)
# a browser or driver of its own.
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
# How long the UI may take to show something (it polls the server itself).
UI_WAIT_S = 30


def artifacts_dir() -> Path:
    """Where screenshots go: $INCIDENTFLOW_TEST_ARTIFACTS, else test-artifacts/ (gitignored)."""
    folder = Path(os.environ.get("INCIDENTFLOW_TEST_ARTIFACTS") or ROOT / "test-artifacts")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def chromium(tmp_path: Path) -> Iterator[WebDriver]:
    """Headless Chromium; skipped when absent, except under CI where it must be installed."""
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.exists()]
    if missing:
        why = (
            f"{' and '.join(missing)} not installed: `apt-get install chromium chromium-driver` "
            "(scripts/system-deps installs scripts/apt-packages.txt)"
        )
        if os.environ.get("CI") == "true":
            pytest.fail(why)
        pytest.skip(why)
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in (
        "--headless=new",
        "--no-sandbox",  # CI runs as root, where Chromium's sandbox refuses to start
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--window-size=1600,1000",
        f"--user-data-dir={tmp_path / 'chromium'}",
    ):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    try:
        yield driver
    finally:
        driver.quit()


@dataclass(frozen=True)
class Seen:
    summary: str
    current_details: str
    search_attributes: str
    screenshots: list[Path]


def _framed_text(driver: WebDriver, frame: WebElement) -> str:
    """The rendered text of one of the UI's Markdown frames (summary, details)."""
    driver.switch_to.frame(frame)
    try:
        body = WebDriverWait(driver, UI_WAIT_S).until(
            lambda d: d.find_element(By.TAG_NAME, "body").text.strip()
        )
        return str(body)
    finally:
        driver.switch_to.default_content()


def _text_with(driver: WebDriver, word: str) -> str | None:
    """The page's main text once it shows `word` (None until then, so a wait polls on)."""
    text = str(driver.find_element(By.TAG_NAME, "main").text)
    return text if word in text else None


def _present(element_id: str) -> object:
    return seen.presence_of_element_located((By.ID, element_id))


def look_up(driver: WebDriver, ui_url: str, incident_id: str) -> Seen:
    """Find the incident in the workflow list by its id, open it, read what a person reads."""
    wait = WebDriverWait(driver, UI_WAIT_S)
    query = quote(f'WorkflowId = "{incident_id}"')
    driver.get(f"{ui_url}/namespaces/default/workflows?query={query}")
    wait.until(seen.element_to_be_clickable((By.LINK_TEXT, incident_id))).click()
    wait.until(seen.element_to_be_clickable((By.ID, "user-metadata-tab"))).click()
    summary = _framed_text(driver, wait.until(_present("user-metadata-summary")))
    details = _framed_text(driver, wait.until(_present("user-metadata-current-details")))
    folder = artifacts_dir()
    shots = [folder / "temporal-ui-incident.png", folder / "temporal-ui-search-attributes.png"]
    driver.save_screenshot(str(shots[0]))
    wait.until(seen.element_to_be_clickable((By.ID, "search-attributes-tab"))).click()
    attributes = wait.until(lambda d: _text_with(d, "IncidentState"))
    driver.save_screenshot(str(shots[1]))
    return Seen(summary, details, str(attributes), shots)


async def test_the_ui_shows_the_incident_summary_and_state(
    chromium: WebDriver, stack: Stack, dev_server: DevServer
) -> None:
    payloads = demo_payloads()
    for payload in payloads:
        assert (await stack.post_alertmanager(payload)).status_code == 202
    incident_id = await wait_for_incident(
        stack.client, stack.settings, fingerprints_of(payloads, DEMO_ORIGIN)
    )
    record = await wait_for_state(stack.client, incident_id, {IncidentState.AWAITING_APPROVAL})

    ui = f"http://127.0.0.1:{dev_server.ui_port}"
    # selenium blocks: keep it off the event loop the in-process workers run on.
    shown = await asyncio.to_thread(look_up, chromium, ui, incident_id)

    incident = record.incident
    assert shown.summary == f"{incident.severity.value} · {incident.title}", shown.summary
    assert shown.current_details.startswith("awaiting_approval: waiting for"), shown
    assert f"incidentflow approve {incident_id}" in shown.current_details, shown
    assert '"IncidentState": "awaiting_approval"' in shown.search_attributes, shown
    assert f'"IncidentService": "{DEMO_ORIGIN}"' in shown.search_attributes, shown
    for shot in shown.screenshots:
        assert shot.stat().st_size > 10_000, f"{shot} looks empty"
