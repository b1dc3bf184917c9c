"""The incident page in a real browser (issue 20 item 6): Debian's Chromium through selenium.

The ingest app is served by uvicorn on a loopback port, with the real workers and dev server.
A person logs in, finds the demo incident in the list, reads its ranked hypotheses and its
plan, reaches the Approve button with the keyboard alone and presses it, and watches the
incident close with its post-mortem. The page must fit 1280x800 and a 390px-wide phone.

Screenshots go to the test's tmp dir and to the artifacts folder (test_ui_browser.py's
`artifacts_dir`); $INCIDENTFLOW_SHOTS, when set, receives the three the issue's note names.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import uvicorn
from conftest import Stack, app_stack
from flow import wait_for_state
from remediation_flow import awaiting, fire
from selenium.webdriver.chrome.webdriver import WebDriver
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait
from test_decision_api import signed_settings
from test_ui_browser import artifacts_dir, chromium  # noqa: F401 (the fixture)

from incidentflow.ingest.app import create_app
from incidentflow.ingest.sink import TemporalSink
from incidentflow.models import IncidentState
from incidentflow.temporal import DevServer, connect, free_port

# How long the page may take to show a change (it is reloaded while waiting).
PAGE_WAIT_S = 90
# The most Tab presses from the top of the page to the Approve button.
MAX_TABS = 40


@dataclass
class Seen:
    hypotheses: list[str] = field(default_factory=list)
    plan: str = ""
    tabs_to_approve: int = -1
    focus_path: list[str] = field(default_factory=list)
    phone_overflow: int = 0
    phone_approve_right: float = 0.0
    closed_state: str = ""
    postmortem: str = ""
    shots: dict[str, Path] = field(default_factory=dict)


@pytest.fixture
async def served(dev_server: DevServer, tmp_path: Path) -> AsyncIterator[tuple[Stack, str]]:
    settings = signed_settings(dev_server, tmp_path, approval_two_person=[])
    client = await connect(settings)
    async with app_stack(settings, client) as stack:
        port = free_port()
        app = create_app(settings, TemporalSink(client, settings))
        server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
        )
        task = asyncio.create_task(server.serve())
        while not server.started:  # noqa: ASYNC110 (uvicorn offers a flag, not an event)
            await asyncio.sleep(0.05)
        try:
            yield stack, f"http://127.0.0.1:{port}"
        finally:
            server.should_exit = True
            await task


def _shot(driver: WebDriver, folder: Path, name: str, seen: Seen) -> None:
    path = folder / name
    driver.save_screenshot(str(path))
    seen.shots[name] = path


def _focused(driver: WebDriver) -> str:
    el = driver.switch_to.active_element
    return str(el.get_attribute("id") or el.tag_name + ":" + (el.text or "")[:20])


def walk(driver: WebDriver, base: str, incident_id: str, folder: Path) -> Seen:
    """Everything a person does in the browser, in order (blocking: run off the loop)."""
    seen = Seen()
    wait = WebDriverWait(driver, 30)
    driver.set_window_size(1280, 800)
    driver.get(f"{base}/ui/")
    wait.until(lambda d: d.find_elements(By.ID, "token"))
    driver.find_element(By.ID, "token").send_keys("tok-alice" + Keys.ENTER)
    link = wait.until(lambda d: d.find_elements(By.LINK_TEXT, incident_id))[0]
    _shot(driver, folder, "console-list.png", seen)
    link.click()
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "ol.hypotheses h3"))
    seen.hypotheses = [h.text for h in driver.find_elements(By.CSS_SELECTOR, "ol.hypotheses h3")]
    seen.plan = driver.find_element(By.CSS_SELECTOR, "#plan dl.plan").text
    _shot(driver, folder, "console-awaiting-approval.png", seen)

    # A 390px-wide phone: nothing wider than the screen, the Approve button on it.
    driver.set_window_size(390, 844)
    seen.phone_overflow = int(
        driver.execute_script(
            "return document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
    )
    seen.phone_approve_right = float(
        driver.execute_script(
            "return document.getElementById('do-approve').getBoundingClientRect().right"
        )
    )
    _shot(driver, folder, "console-phone.png", seen)
    driver.set_window_size(1280, 800)

    # Keyboard only: Tab from the top of the page until Approve has the focus, then Enter.
    driver.get(driver.current_url)
    body = wait.until(lambda d: d.find_element(By.TAG_NAME, "body"))
    body.click()
    for n in range(1, MAX_TABS + 1):
        driver.switch_to.active_element.send_keys(Keys.TAB)
        seen.focus_path.append(_focused(driver))
        if seen.focus_path[-1] == "do-approve":
            seen.tabs_to_approve = n
            driver.switch_to.active_element.send_keys(Keys.ENTER)
            break
    if seen.tabs_to_approve < 0:
        return seen

    def closed(d: WebDriver) -> bool:
        state = d.find_element(By.ID, "state").text
        if state != IncidentState.CLOSED.value:
            d.refresh()
            return False
        return bool(d.find_elements(By.CSS_SELECTOR, "#postmortem article.markdown h2"))

    WebDriverWait(driver, PAGE_WAIT_S, poll_frequency=1).until(closed)
    seen.closed_state = driver.find_element(By.ID, "state").text
    seen.postmortem = driver.find_element(By.CSS_SELECTOR, "#postmortem").text
    driver.execute_script("document.getElementById('postmortem').scrollIntoView()")
    _shot(driver, folder, "console-closed-postmortem.png", seen)
    return seen


def keep(shots: list[Path]) -> None:
    """Copy the screenshots to the artifacts folder, and to $INCIDENTFLOW_SHOTS when set."""
    folders = [artifacts_dir()]
    if os.environ.get("INCIDENTFLOW_SHOTS"):
        folders.append(Path(os.environ["INCIDENTFLOW_SHOTS"]))
    for folder in folders:
        folder.mkdir(parents=True, exist_ok=True)
        for path in shots:
            shutil.copy2(path, folder / path.name)


async def test_open_read_approve_by_keyboard_and_see_it_close(
    chromium: WebDriver,  # noqa: F811 (the fixture imported above)
    served: tuple[Stack, str],
    tmp_path: Path,
) -> None:
    stack, base = served
    incident_id, _ = await fire(stack)
    record = await awaiting(stack, incident_id)
    folder = tmp_path / "shots"
    folder.mkdir()

    seen = await asyncio.to_thread(walk, chromium, base, incident_id, folder)

    await asyncio.to_thread(keep, list(seen.shots.values()))
    inv = record.investigation
    assert inv is not None and record.plan is not None and record.plan.action is not None
    assert seen.hypotheses == [h.cause for h in inv.hypotheses], seen.hypotheses
    assert record.plan.action.summary in seen.plan and record.plan.action.id in seen.plan
    assert "risk" in seen.plan and "undo" in seen.plan and "digest" in seen.plan
    assert 0 < seen.tabs_to_approve <= MAX_TABS, seen.focus_path
    assert seen.phone_overflow <= 0, f"the page is {seen.phone_overflow}px wider than a phone"
    assert 0 < seen.phone_approve_right <= 390
    assert seen.closed_state == "closed", seen
    assert "Summary" in seen.postmortem and "Root cause" in seen.postmortem
    final = await wait_for_state(stack.client, incident_id, {IncidentState.CLOSED})
    assert final.approval is not None and final.approval.by == "alice"
    for path in seen.shots.values():
        assert path.stat().st_size > 10_000, f"{path} looks empty"
