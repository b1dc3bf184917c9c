"""Agent 4, remediation planning: pick a reversible action from the catalog.

Planning only reads; executing lives in `activities.execution`, on its own task queue. This
module also hands the incident workflow its approval policy and runs PromQL verifications
(read-only queries, so they belong to the agents' worker).
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx
from temporalio import activity
from temporalio.exceptions import ApplicationError

from incidentflow.agents.remediation import labelled, plan, scoped
from incidentflow.agents.sourcing import unsourced
from incidentflow.context import AgentContext
from incidentflow.errors import ConfigError
from incidentflow.identity.config import trust_from
from incidentflow.llm.remediation import plan_llm
from incidentflow.llm.select import answer
from incidentflow.models import (
    ApprovalPolicy,
    ConfigRequest,
    IncidentConfig,
    PlanInput,
    RemediationPlan,
    Risk,
    VerifyCheck,
    VerifyProbe,
)
from incidentflow.settings import Settings

# One instant query; the workflow's activity retry policy owns retries.
PROMQL_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class RemediationOptions:
    """What planning and verification take from settings."""

    config: IncidentConfig
    verify_window_seconds: int = 600
    prometheus_url: str | None = None
    # The real executors INCIDENTFLOW_EXECUTOR enables (names only, never their credentials).
    executors: frozenset[str] = frozenset()
    # Action kinds the http executor has a route of its own for.
    http_kinds: frozenset[str] = frozenset()


def options_from(settings: Settings) -> RemediationOptions:
    """Validate the approval policy and notifier settings into the workflow's config."""
    try:
        policy = ApprovalPolicy(
            approvers={Risk(k): v for k, v in settings.approval.approval_policy.items()},
            two_person=[Risk(r) for r in settings.approval.approval_two_person],
        )
    except ValueError as err:
        raise ConfigError(
            f"INCIDENTFLOW_APPROVAL_POLICY / _TWO_PERSON: risks are low, medium, high ({err})"
        ) from err
    notify = settings.notify.notify_slack_url is not None or bool(
        settings.notify.notify_webhook_url
    )
    return RemediationOptions(
        config=IncidentConfig(
            policy=policy,
            trust=trust_from(settings.decisions, embedded=settings.temporal.embedded),
            notify=notify,
            verify_poll_seconds=settings.verify.verify_poll_seconds,
            resolved_settle_seconds=settings.approval.resolved_settle_seconds,
            approval_timeout_seconds=settings.approval.approval_timeout_seconds,
            reinvestigate_debounce_seconds=settings.approval.reinvestigate_debounce_seconds,
        ),
        verify_window_seconds=settings.verify.verify_window_seconds,
        prometheus_url=settings.verify.verify_prometheus_url,
        executors=frozenset(enabled_executors(settings)),
        http_kinds=frozenset(settings.executors.executor_http_actions),
    )


def enabled_executors(settings: Settings) -> list[str]:
    """The real executors INCIDENTFLOW_EXECUTOR names; empty for dry-run."""
    return [
        n.strip()
        for n in settings.executors.executor.split(",")
        if n.strip() not in ("", "dry-run")
    ]


class RemediationActivities:
    def __init__(self, ctx: AgentContext, options: RemediationOptions | None = None) -> None:
        self._ctx = ctx
        self._opts = options or RemediationOptions(config=IncidentConfig())

    @activity.defn(name="plan_remediation")
    async def plan_remediation(self, inp: PlanInput) -> RemediationPlan:
        """A specific action with its verification and undo, plus alternatives.

        Whichever engine answers, an action whose target lies outside the incident is refused
        and every action names the executor that will really run it.
        """
        proposed = await self._propose(inp)
        found = scoped(proposed, inp.incident, inp.investigation, await self._ctx.graph_for())
        return labelled(found, self._opts.executors, self._opts.http_kinds)

    async def _propose(self, inp: PlanInput) -> RemediationPlan:
        graph, window = await self._ctx.graph_for(), self._opts.verify_window_seconds
        execs = self._opts.executors
        llm = self._ctx.llm
        # Without a hypothesis, or with nothing but alerts behind it, there is nothing to act
        # on: no model proposes an action then.
        if (
            llm is None
            or not llm.enabled("remediation")
            or inp.investigation.top is None
            or unsourced(inp.investigation)
        ):
            return plan(inp, graph, verify_window_seconds=window, executors=execs)

        async def rules() -> RemediationPlan:
            return plan(inp, graph, verify_window_seconds=window, executors=execs)

        return await answer(
            llm,
            "remediation",
            incident_id=inp.incident.id,
            llm=lambda meter, deadline: plan_llm(
                llm, inp, graph, meter, deadline, verify_window_seconds=window
            ),
            rules=rules,
        )

    @activity.defn(name="incident_config")
    async def incident_config(self, inp: ConfigRequest) -> IncidentConfig:
        """The approval policy and notifier switch, recorded once in the incident's history."""
        return self._opts.config

    @activity.defn(name="check_promql")
    async def check_promql(self, inp: VerifyCheck) -> VerifyProbe:
        """Evaluate a PromQL verification once: passes when the query returns a sample."""
        if not self._opts.prometheus_url:
            raise ApplicationError(
                f"{inp.incident_id}: {inp.action_id} verifies with PromQL but "
                "INCIDENTFLOW_VERIFY_PROMETHEUS_URL is not set",
                non_retryable=True,
            )
        url = self._opts.prometheus_url.rstrip("/") + "/api/v1/query"
        async with httpx.AsyncClient(timeout=PROMQL_TIMEOUT_S) as client:
            resp = await client.get(url, params={"query": inp.promql})
        if resp.status_code == 400:
            raise ApplicationError(
                f"{inp.incident_id}: Prometheus refused {inp.promql!r}: {resp.text[:300]}",
                non_retryable=True,
            )
        resp.raise_for_status()
        result = resp.json().get("data", {}).get("result", [])
        if result:
            return VerifyProbe(passed=True, detail=f"{inp.promql} returned {len(result)} sample(s)")
        return VerifyProbe(passed=False, detail=f"{inp.promql} returned nothing")
