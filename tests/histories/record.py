"""Record the histories the replay test keeps: `python tests/histories/record.py`.

Runs one full demo incident (approved through the decision API with a signed decision,
executed by dry-run, post-mortem drafted) on a fresh dev server and writes the incident's and
the stream's histories beside this file. Replaying it runs the signature check again (the
public key is in the recorded configuration). Keep the
older recordings when you add one (`python tests/histories/record.py _v3`): each stands for a
workflow that may still be open somewhere. Overwrite one only for a change meant to be
incompatible, and say so in the change.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE.parent / "integration"), str(HERE.parents[1])]

from conftest import app_stack, make_settings
from flow import (
    DEMO_ORIGIN,
    demo_payloads,
    fingerprints_of,
    wait_for_incident,
    wait_for_state,
)

from incidentflow.identity.signing import new_key_pair
from incidentflow.models import IncidentState
from incidentflow.temporal import DevServer, connect, free_port
from workflows.incident import IncidentWorkflow
from workflows.names import stream_workflow_id


async def record(out: Path, suffix: str = "") -> None:
    """Run the demo to the end and write both histories as JSON."""
    with tempfile.TemporaryDirectory() as tmp:
        server = DevServer(db_file=Path(tmp) / "t.sqlite", port=free_port(), ui_port=free_port())
        server.start()
        try:
            settings = make_settings(
                server.address,
                Path(tmp) / "data",
                environment="replay",
                decisions_allow_unsigned=False,
                decision_signing_key=new_key_pair()[0],
                api_tokens={"recorder": "tok-recorder"},
                decision_roles={"*": {"approvers": ["recorder"]}},
            )
            client = await connect(settings)
            async with app_stack(settings, client) as stack:
                payloads = demo_payloads()
                for payload in payloads:
                    await stack.post_alertmanager(payload)
                incident_id = await wait_for_incident(
                    client, settings, fingerprints_of(payloads, DEMO_ORIGIN)
                )
                await wait_for_state(client, incident_id, {IncidentState.AWAITING_APPROVAL})
                answer = await stack.http.post(
                    f"/v1/incidents/{incident_id}/approve",
                    json={"reason": "recorded"},
                    headers={"Authorization": "Bearer tok-recorder"},
                )
                answer.raise_for_status()
                await client.get_workflow_handle_for(IncidentWorkflow.run, incident_id).result()
                incident = await client.get_workflow_handle(incident_id).fetch_history()
                stream = await client.get_workflow_handle(
                    stream_workflow_id(settings.environment)
                ).fetch_history()
        finally:
            server.stop()
    (out / f"demo_incident{suffix}.json").write_text(incident.to_json())
    (out / f"demo_stream{suffix}.json").write_text(stream.to_json())
    print(f"recorded {incident_id}: {len(incident.events)} and {len(stream.events)} events")


if __name__ == "__main__":
    # `record.py _v2` writes demo_incident_v2.json: keep older recordings, add new ones.
    asyncio.run(record(HERE, sys.argv[1] if len(sys.argv) > 1 else ""))
