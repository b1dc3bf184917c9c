"""Helpers for integration tests: fire the demo, wait for states, read records."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from temporalio.client import Client

from incidentflow.cli.demo import rebase_payloads
from incidentflow.cli.demo_bundle import demo_scenario_path
from incidentflow.client import IncidentClient
from incidentflow.models import IncidentRecord, IncidentState
from incidentflow.scenario import load_scenario
from incidentflow.settings import Settings

# The deployed (bad) service of the demo scenario; its alert opens the incident.
DEMO_ORIGIN = "payments"


def demo_payloads() -> list[dict[str, Any]]:
    """The demo's Alertmanager payloads, moved to now."""
    return rebase_payloads(load_scenario(demo_scenario_path()).alert_payloads, datetime.now(UTC))


def fingerprints_of(payloads: list[dict[str, Any]], service: str) -> set[str]:
    """Fingerprints of the alerts on one service."""
    return {
        a["fingerprint"]
        for p in payloads
        for a in p["alerts"]
        if a["labels"].get("service") == service
    }


async def wait_for_incident(
    client: Client, settings: Settings, fingerprints: set[str], timeout: float = 60
) -> str:
    """The id of the open incident holding one of `fingerprints`."""
    async with asyncio.timeout(timeout):
        while True:
            for inc in await IncidentClient(client).open_incidents(settings.environment):
                if fingerprints & set(inc.fingerprints):
                    return inc.id
            await asyncio.sleep(0.2)


async def wait_for_state(
    client: Client, incident_id: str, states: set[IncidentState], timeout: float = 60
) -> IncidentRecord:
    """Poll the incident's record until it reaches one of `states`."""
    async with asyncio.timeout(timeout):
        while True:
            record = await IncidentClient(client).record(incident_id)
            if record.state in states:
                return record
            await asyncio.sleep(0.2)
