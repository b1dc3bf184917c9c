"""The `incidentflow` command line as a person runs it: real processes, real ports."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from incidentflow.cli.demo_bundle import demo_scenario_path
from incidentflow.temporal import DevServer, free_port, port_open

ROOT = Path(__file__).resolve().parents[2]


def cli_env(**values: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("INCIDENTFLOW_")}
    env.update(values)
    return env


def run_cli(
    *args: str, env: dict[str, str], timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "starter.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def one_line_error(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 1, (proc.returncode, proc.stdout, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    return lines[0]


def test_server_down_is_one_line(tmp_path: Path) -> None:
    env = cli_env(INCIDENTFLOW_TEMPORAL_ADDRESS=f"127.0.0.1:{free_port()}")
    line = one_line_error(run_cli("incidents", env=env))
    assert "cannot reach Temporal" in line and "incidentflow up" in line


def test_unknown_incident_is_one_line(dev_server: DevServer) -> None:
    env = cli_env(INCIDENTFLOW_TEMPORAL_ADDRESS=dev_server.address)
    line = one_line_error(run_cli("show", "INC-20000101-abcdef", env=env))
    assert "no incident INC-20000101-abcdef" in line
    line = one_line_error(run_cli("approve", "INC-20000101-abcdef", "--by", "x", env=env))
    assert "incidentflow incidents" in line


def test_bad_files_are_one_line(tmp_path: Path) -> None:
    env = cli_env(INCIDENTFLOW_WEBHOOK_URL=f"http://127.0.0.1:{free_port()}")
    line = one_line_error(run_cli("alert", "send", str(tmp_path / "missing.json"), env=env))
    assert "cannot read" in line
    bad = tmp_path / "bad.json"
    bad.write_text("{oops")
    assert "is not JSON" in one_line_error(run_cli("alert", "send", str(bad), env=env))
    good = tmp_path / "good.json"
    good.write_text(json.dumps({"version": "4", "status": "firing", "alerts": []}))
    assert "incidentflow up" in one_line_error(run_cli("alert", "send", str(good), env=env))


@pytest.fixture
def up(tmp_path: Path) -> Iterator[dict[str, str]]:
    """`incidentflow up` on the embedded default, on free ports, in the background."""
    env = cli_env(
        INCIDENTFLOW_DATA_DIR=str(tmp_path / "data"),
        INCIDENTFLOW_EMBEDDED_PORT=str(free_port()),
        INCIDENTFLOW_EMBEDDED_UI_PORT=str(free_port()),
        INCIDENTFLOW_WEBHOOK_PORT=str(free_port()),
        INCIDENTFLOW_APPROVAL_TIMEOUT_SECONDS="600",
        # `demo` against a running stack reads what that stack is configured with: here, the
        # demo's recorded world, configured explicitly (nothing defaults to it).
        INCIDENTFLOW_EVIDENCE_BUNDLE=str(demo_scenario_path()),
    )
    log = open(tmp_path / "up.log", "w")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [sys.executable, "starter.py", "up"], cwd=ROOT, env=env, stdout=log, stderr=log
    )
    url = f"http://127.0.0.1:{env['INCIDENTFLOW_WEBHOOK_PORT']}/readyz"
    deadline = time.monotonic() + 60
    while True:
        assert proc.poll() is None, (tmp_path / "up.log").read_text()
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline, (tmp_path / "up.log").read_text()
        time.sleep(0.3)
    try:
        yield env
    finally:
        # SIGTERM, as systemd or docker would send: everything `up` started must stop too.
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
    assert proc.returncode == 130, (tmp_path / "up.log").read_text()
    for port in ("INCIDENTFLOW_EMBEDDED_PORT", "INCIDENTFLOW_WEBHOOK_PORT"):
        assert not port_open("127.0.0.1", int(env[port])), f"{port} still served after SIGTERM"
    output = (tmp_path / "up.log").read_text()
    assert "Temporal UI:" in output and "webhook:" in output, output
    # What is active, said once at the start (issue 13).
    assert f"evidence:      bundle {demo_scenario_path()}" in output, output
    assert "executor:      dry-run" in output, output
    # The embedded server kept its history in the data directory.
    assert (tmp_path / "data" / "temporal.sqlite").exists()


def test_up_demo_approve_show_postmortem(up: dict[str, str], tmp_path: Path) -> None:
    demo = run_cli("demo", "--approve-as", "ci-bot", env=up)
    assert demo.returncode == 0, demo.stdout + demo.stderr
    assert "incidentflow approve INC-" in demo.stdout
    found = re.search(r"incidentflow approve (INC-\d{8}-[0-9a-f]+)", demo.stdout)
    assert found is not None, demo.stdout
    incident_id = found.group(1)

    listed = run_cli("incidents", "--json", env=up)
    assert listed.returncode == 0, listed.stderr
    rows = {r["id"]: r for r in json.loads(listed.stdout)}
    assert rows[incident_id]["state"] == "closed"
    assert rows[incident_id]["service"] == "payments"

    shown = run_cli("show", incident_id, env=up)
    assert shown.returncode == 0 and "approved by ci-bot" in shown.stdout

    record = json.loads(run_cli("show", incident_id, "--json", env=up).stdout)
    assert record["approval"]["by"] == "ci-bot"

    out = tmp_path / "pm.md"
    pm = run_cli("postmortem", incident_id, "--out", str(out), env=up)
    assert pm.returncode == 0, pm.stderr
    assert incident_id in out.read_text()

    again = run_cli("approve", incident_id, "--by", "late", env=up)
    assert "already ended" in one_line_error(again)


def scheduling(pid: int) -> tuple[int, str]:
    """(nice, its autogroup line) of a process, from /proc."""
    # /proc/<pid>/stat: the fields after the command's closing parenthesis; nice is the 17th.
    nice = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[16])
    group = Path(f"/proc/{pid}/autogroup")
    return nice, group.read_text().strip() if group.exists() else ""


def test_a_worker_process_yields_the_cpu_to_the_webhook(dev_server: DevServer) -> None:
    env = cli_env(
        INCIDENTFLOW_TEMPORAL_ADDRESS=dev_server.address,
        INCIDENTFLOW_TASK_QUEUE_PREFIX="nice-",
        INCIDENTFLOW_WORKER_NICE="7",
    )
    mine = scheduling(os.getpid())
    # In its own session, as `incidentflow up` and systemd start it: its group is its own.
    worker = subprocess.Popen(
        [sys.executable, "worker.py", "--queue", "agents"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 30
        while scheduling(worker.pid)[0] != max(7, mine[0]) and time.monotonic() < deadline:
            assert worker.poll() is None, "the worker exited"
            time.sleep(0.1)
        nice, group = scheduling(worker.pid)
        assert nice == max(7, mine[0])
        if group:  # a kernel that groups sessions: the worker's own group yields too
            assert group.endswith("nice 7"), group
    finally:
        worker.terminate()
        worker.wait(timeout=30)
    # The test process and its own group were left as they were.
    assert scheduling(os.getpid()) == mine
