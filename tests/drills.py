"""Chaos drills: activities that break on purpose, for the durability tests only.

Production code has no drill switches. A test swaps a real activity class for a subclass here
(in-process: monkeypatch `worker.InvestigationActivities` with `slow_investigation(s)`; in a
worker process: `python tests/drills.py --investigation-delay S | --crash-after-execute
--queue ...`), so the worker, its queues and its settings are the real ones and only the
drilled step misbehaves.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys

from temporalio import activity

from activities.execution import ExecutionActivities
from activities.investigation import InvestigationActivities
from activities.remediation import RemediationActivities
from incidentflow.models import (
    ActionResult,
    ConfigRequest,
    ExecuteInput,
    IncidentConfig,
    Investigation,
    InvestigationInput,
)

HEARTBEAT_EVERY_S = 1.0


def slow_investigation(delay_seconds: float) -> type[InvestigationActivities]:
    """Investigation that stays open `delay_seconds`, heartbeating, before it investigates."""

    class SlowInvestigation(InvestigationActivities):
        @activity.defn(name="investigate")
        async def investigate(self, inp: InvestigationInput) -> Investigation:
            waited = 0.0
            while waited < delay_seconds:
                activity.heartbeat(f"drill delay {waited:.0f}/{delay_seconds:.0f}s")
                await asyncio.sleep(HEARTBEAT_EVERY_S)
                waited += HEARTBEAT_EVERY_S
            return await super().investigate(inp)

    return SlowInvestigation


def slow_config(delay_seconds: float) -> type[RemediationActivities]:
    """The incident's configuration read, answered only after `delay_seconds`."""

    class SlowConfig(RemediationActivities):
        @activity.defn(name="incident_config")
        async def incident_config(self, inp: ConfigRequest) -> IncidentConfig:
            await asyncio.sleep(delay_seconds)
            return await super().incident_config(inp)

    return SlowConfig


class CrashAfterExecute(ExecutionActivities):
    """Acts and records it, then the process dies before Temporal hears the result."""

    @activity.defn(name="execute_action")
    async def execute_action(self, inp: ExecuteInput) -> ActionResult:
        await super().execute_action(inp)
        os._exit(137)


def main(argv: list[str]) -> int:
    """`python tests/drills.py [--investigation-delay S] [--crash-after-execute] <worker args>`."""
    import worker

    parser = argparse.ArgumentParser(description="A real worker with one step drilled.")
    parser.add_argument("--investigation-delay", type=float, default=0.0)
    parser.add_argument("--crash-after-execute", action="store_true")
    args, rest = parser.parse_known_args(argv)
    if args.investigation_delay:
        worker.InvestigationActivities = slow_investigation(args.investigation_delay)  # type: ignore[misc]
    if args.crash_after_execute:
        worker.ExecutionActivities = CrashAfterExecute  # type: ignore[misc]
    return worker.main(rest)


if __name__ == "__main__":
    code = main(sys.argv[1:])
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
