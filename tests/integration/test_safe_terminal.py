"""Issue 14, finding 7: ANSI escapes from an alert annotation reached the terminal through
`postmortem`. The same attack end to end: the annotation travels through the webhook, all five
agents and the post-mortem, and the real CLI commands print it only as visible escapes.
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
from pathlib import Path

from conftest import Stack
from flow import DEMO_ORIGIN, demo_payloads, fingerprints_of, wait_for_incident, wait_for_state

from incidentflow.client import IncidentClient
from incidentflow.models import DecisionRequest, IncidentRecord, IncidentState
from workflows.incident import IncidentWorkflow

ROOT = Path(__file__).resolve().parents[2]
# Colours, a window title, an OSC 52 clipboard write, a carriage return over the line, an 8-bit
# CSI that clears the screen, a right-to-left override.
HOSTILE = "\x1b[31mRED\x1b[0m\x1b]0;pwned\x07\x1b]52;c;ZXZpbA==\x07\rover \u009b2J \u202elive"
RAW = re.compile(rb"[\x00-\x08\x0b-\x1f\x7f]|\xc2[\x80-\x9f]|\xe2\x80[\xaa-\xae]")


def cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "starter.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        timeout=120,
    )


async def test_an_ansi_annotation_reaches_no_terminal_and_no_file_raw(
    stack: Stack, tmp_path: Path
) -> None:
    payloads = demo_payloads()
    for payload in payloads:
        for alert in payload["alerts"]:
            if alert["labels"].get("service") == DEMO_ORIGIN:
                alert["annotations"]["summary"] = HOSTILE
        assert (await stack.post_alertmanager(payload)).status_code == 202
    incident_id = await wait_for_incident(
        stack.client, stack.settings, fingerprints_of(payloads, DEMO_ORIGIN)
    )
    waiting = {IncidentState.AWAITING_APPROVAL, IncidentState.NEEDS_ATTENTION}
    await wait_for_state(stack.client, incident_id, waiting)
    await IncidentClient(stack.client).decide(
        incident_id, approve=True, request=DecisionRequest(by="erin")
    )
    handle = stack.client.get_workflow_handle_for(IncidentWorkflow.run, incident_id)
    final: IncidentRecord = await asyncio.wait_for(handle.result(), timeout=120)
    assert final.postmortem is not None
    assert any(a.summary == HOSTILE for a in final.incident.alerts), "the attack must arrive"

    s = stack.settings
    env = {k: v for k, v in os.environ.items() if not k.startswith("INCIDENTFLOW_")} | {
        "INCIDENTFLOW_TEMPORAL_ADDRESS": s.temporal.target,
        "INCIDENTFLOW_TASK_QUEUE_PREFIX": s.temporal.task_queue_prefix,
        "INCIDENTFLOW_DATA_DIR": str(s.data_dir),
    }
    out = tmp_path / "pm.md"
    runs = {
        "postmortem": cli("postmortem", incident_id, env=env),
        "postmortem --out": cli("postmortem", incident_id, "--out", str(out), env=env),
        "show": cli("show", incident_id, env=env),
        "show --json": cli("show", incident_id, "--json", env=env),
        "approve (refused)": cli("approve", incident_id, "--by", "x", env=env),
    }
    for name, proc in runs.items():
        for stream in (proc.stdout, proc.stderr):
            assert not RAW.search(stream), (name, RAW.findall(stream)[:5])
    assert runs["postmortem"].returncode == 0, runs["postmortem"].stderr
    assert b"\\x1b[31mRED" in runs["postmortem"].stdout
    assert b"\\x1b[31mRED" in runs["show"].stdout
    assert not RAW.search(out.read_bytes())
    written = sorted(s.postmortems_path.glob(f"{incident_id}*"))
    assert written and all(not RAW.search(p.read_bytes()) for p in written), written
