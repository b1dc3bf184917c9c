"""The CLI decides through the decision API with a person's credential (issue 19 item 1).

The real `incidentflow` command runs as a subprocess against the real ingest app served by
uvicorn on loopback, workers and the dev server behind it. The credential comes from the
credentials file (owner-readable only) or INCIDENTFLOW_API_TOKEN; every mistake is one line.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import uvicorn
from conftest import app_stack, make_settings
from remediation_flow import awaiting, fire

from incidentflow.identity.signing import new_key_pair
from incidentflow.ingest.app import create_app
from incidentflow.ingest.sink import TemporalSink
from incidentflow.settings import Settings
from incidentflow.temporal import DevServer, connect, free_port

ROOT = Path(__file__).resolve().parents[2]


@contextlib.asynccontextmanager
async def served(settings: Settings) -> AsyncIterator[str]:
    """The real ingest app on a loopback port, for a CLI in another process."""
    client = await connect(settings)
    port = free_port()
    app = create_app(settings, TemporalSink(client, settings))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    task = asyncio.create_task(server.serve())
    async with asyncio.timeout(30):
        while not server.started:  # noqa: ASYNC110  (uvicorn offers a flag, not an event)
            await asyncio.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


async def cli(*args: str, env: dict[str, str]) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "starter.py",
        *args,
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout=120)
    return proc.returncode or 0, out.decode(), err.decode()


def one_line(result: tuple[int, str, str]) -> str:
    code, _, err = result
    assert code == 1, result
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


async def test_cli_approves_with_the_persons_credential(
    dev_server: DevServer, tmp_path: Path
) -> None:
    settings = make_settings(
        dev_server.address,
        tmp_path / "data",
        decisions_allow_unsigned=False,
        decision_signing_key=new_key_pair()[0],
        api_tokens={"alice": "tok-alice", "mallory": "tok-mallory"},
        decision_roles={"team-payments": {"approvers": ["alice"]}},
        approval_timeout_seconds=600,
        # Not a test of the living investigation: on a loaded machine the CLI calls below
        # outlast the default 30 s debounce and a re-plan would replace the plan under them.
        reinvestigate_debounce_seconds=3600,
    )
    config = tmp_path / "config"
    creds = config / "incidentflow" / "credentials"
    creds.parent.mkdir(parents=True)
    client = await connect(settings)
    async with app_stack(settings, client) as stack, served(settings) as url:
        incident_id, _ = await fire(stack)
        await awaiting(stack, incident_id)
        env = {k: v for k, v in os.environ.items() if not k.startswith("INCIDENTFLOW_")}
        env.update(
            XDG_CONFIG_HOME=str(config),
            INCIDENTFLOW_TEMPORAL_ADDRESS=dev_server.address,
            INCIDENTFLOW_API_URL=url,
        )
        approve = ("approve", incident_id, "--yes")

        # No credential: the logged-in user (or --by) is an unsigned claim, refused and recorded.
        assert "unsigned decision refused" in one_line(await cli(*approve, env=env))
        unsigned = one_line(await cli(*approve, "--by", "alice", env=env))
        assert "unsigned decision refused" in unsigned
        # A credentials file others can read is refused before it is used.
        creds.write_text('token = "tok-alice"\n')
        creds.chmod(0o644)
        assert "chmod 600" in one_line(await cli(*approve, env=env))
        creds.chmod(0o600)
        # --by must name the credential's person; a wrong token says so in one line.
        assert "credential is alice's" in one_line(await cli(*approve, "--by", "bob", env=env))
        bad = one_line(await cli(*approve, env={**env, "INCIDENTFLOW_API_TOKEN": "nope"}))
        assert "did not accept your credential" in bad
        # mallory's token from the environment wins over the file: refused, recorded.
        refused = one_line(
            await cli(*approve, env={**env, "INCIDENTFLOW_API_TOKEN": "tok-mallory"})
        )
        assert "mallory may not approve" in refused and "recorded" in refused

        # Takeover verbs go the same way: a note by anyone known, pause only by an owner.
        code, out, err = await cli("note", incident_id, "--text", "looking", env=env)
        assert code == 0 and f"{incident_id}: looking (by alice)" in out, err
        mallory = {**env, "INCIDENTFLOW_API_TOKEN": "tok-mallory"}
        assert "mallory may not pause" in one_line(await cli("pause", incident_id, env=mallory))

        code, out, err = await cli(*approve, "--by", "Alice", env=env)
        assert code == 0, err
        assert f"{incident_id}: approved by alice" in out
        assert "action:" in out  # the plan was shown before approving

        code, shown, err = await cli("show", incident_id, env=env)
    assert code == 0, err
    assert "Decision attempts (4, refused ones included)" in shown
    assert "alice (claimed, not verified) via local" in shown
    assert "mallory (authenticated) via api" in shown
    assert "approved by alice (authenticated) via api" in shown
