"""Remediation's artifacts: a typed action from the catalog, the decision, the outcome."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import Field

from incidentflow.identity.canonical import canonical_or_none
from incidentflow.models.base import Artifact, Engine
from incidentflow.models.decisions import DecisionPath, DecisionProof, DecisionTrust
from incidentflow.models.incident import Incident
from incidentflow.models.investigation import Investigation
from incidentflow.models.llm import LlmUsage


class Risk(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


class RollbackParams(Artifact):
    kind: Literal["rollback"] = "rollback"
    service: str
    from_version: str
    to_version: str


class RestartParams(Artifact):
    kind: Literal["restart"] = "restart"
    service: str


class ScaleParams(Artifact):
    kind: Literal["scale"] = "scale"
    service: str
    from_replicas: int = Field(ge=0)
    to_replicas: int = Field(ge=0)


class FeatureFlagParams(Artifact):
    kind: Literal["feature_flag"] = "feature_flag"
    flag: str
    from_value: bool
    to_value: bool


class DrainParams(Artifact):
    """Take a service's traffic off one target (zone, node pool, region) or put it back."""

    kind: Literal["drain"] = "drain"
    service: str
    target: str
    drained: bool = True


class FailoverParams(Artifact):
    kind: Literal["failover"] = "failover"
    service: str
    from_target: str
    to_target: str


# Kubernetes object names and config keys: what the kubectl executor passes as one argv element.
K8S_NAME = r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$"
CONFIG_KEY = r"^[-._a-zA-Z0-9]{1,253}$"
K8S_KIND = r"^[A-Za-z][A-Za-z0-9]{0,62}$"


class ConfigRevertParams(Artifact):
    """Put one config value back to what a recorded change found (ConfigMap/Secret key or env)."""

    kind: Literal["config_revert"] = "config_revert"
    service: str = Field(pattern=K8S_NAME, description="The deployment that reads the value")
    source: Literal["configmap", "secret", "env"]
    name: str = Field(pattern=K8S_NAME, description="The ConfigMap or Secret (env: the service)")
    key: str = Field(pattern=CONFIG_KEY)
    from_value: str = Field(max_length=4096, description="What the change set it to")
    to_value: str = Field(max_length=4096, description="What it was before the change")
    namespace: str | None = Field(default=None, pattern=K8S_NAME)


class ReleaseRollbackParams(Artifact):
    """Roll a Helm release or an Argo CD application back to its previous revision."""

    kind: Literal["release_rollback"] = "release_rollback"
    service: str
    tool: Literal["helm", "argocd"]
    release: str = Field(pattern=K8S_NAME)
    from_revision: int = Field(ge=1)
    to_revision: int = Field(ge=1)


class InfraRevertParams(Artifact):
    """Bring one Kubernetes object (any kind, by name) to a recorded state: absent or a manifest.

    `from_manifest` is what the change left (None: the change deleted it); `to_manifest` is what
    it was before (None: the change created it, so reverting deletes it).
    """

    kind: Literal["infra_revert"] = "infra_revert"
    object_kind: str = Field(pattern=K8S_KIND, description="e.g. NetworkPolicy, ResourceQuota")
    name: str = Field(pattern=K8S_NAME)
    namespace: str | None = Field(default=None, pattern=K8S_NAME)
    service: str | None = Field(default=None, description="The service the change hurt")
    from_manifest: str | None = Field(default=None, max_length=32768)
    to_manifest: str | None = Field(default=None, max_length=32768)


class ResourcesParams(Artifact):
    """Change one container resource's request and limit (quantities as Kubernetes writes them)."""

    kind: Literal["resources"] = "resources"
    service: str = Field(pattern=K8S_NAME)
    resource: Literal["cpu", "memory"]
    from_request: str
    to_request: str
    from_limit: str
    to_limit: str


class HpaBoundsParams(Artifact):
    """Change a HorizontalPodAutoscaler's replica bounds."""

    kind: Literal["hpa_bounds"] = "hpa_bounds"
    service: str = Field(pattern=K8S_NAME, description="The HPA's name (its deployment's)")
    from_min: int = Field(ge=1)
    from_max: int = Field(ge=1)
    to_min: int = Field(ge=1)
    to_max: int = Field(ge=1)


class NodeDrainParams(Artifact):
    """Cordon and drain a node (drained), or uncordon it (the undo)."""

    kind: Literal["node_drain"] = "node_drain"
    node: str = Field(pattern=K8S_NAME)
    drained: bool = True


# Runbook arguments are typed scalars: the script executor passes each as one argv element.
ScriptArg = str | int | bool


class RunbookScriptParams(Artifact):
    kind: Literal["runbook_script"] = "runbook_script"
    script: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", description="File name only")
    args: dict[str, ScriptArg] = Field(default_factory=dict)
    undo_script: str | None = Field(default=None, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


class NoopParams(Artifact):
    """The undo of an action that leaves nothing to take back (e.g. a rolling restart)."""

    kind: Literal["noop"] = "noop"
    reason: str


ActionParams = Annotated[
    RollbackParams
    | RestartParams
    | ScaleParams
    | FeatureFlagParams
    | DrainParams
    | FailoverParams
    | RunbookScriptParams
    | ConfigRevertParams
    | ReleaseRollbackParams
    | InfraRevertParams
    | ResourcesParams
    | HpaBoundsParams
    | NodeDrainParams
    | NoopParams,
    Field(discriminator="kind"),
]


class VerifyKind(StrEnum):
    ALERTS_RESOLVED = "alerts_resolved"
    PROMQL = "promql"


class VerifySpec(Artifact):
    """How to tell the action helped: a condition and how long to wait for it."""

    kind: VerifyKind = VerifyKind.ALERTS_RESOLVED
    window_seconds: int = Field(default=600, gt=0)
    description: str
    promql: str | None = Field(
        default=None, description="For kind promql: passes once this query returns a sample"
    )


class RemediationAction(Artifact):
    """A specific, reversible action: typed params, risk, how to verify, how to undo."""

    id: str = Field(description="Idempotency key of the action: executed at most once")
    incident_id: str
    params: ActionParams
    risk: Risk
    summary: str
    verify: VerifySpec
    undo: ActionParams
    undo_summary: str
    executor: str = "dry-run"


class PlanInput(Artifact):
    incident: Incident
    investigation: Investigation


class AlternativeReason(Artifact):
    """Why an alternative is offered (by action id), in the order the alternatives are ranked."""

    action_id: str
    reason: str


class RemediationPlan(Artifact):
    incident_id: str
    # Set by the incident workflow when it adopts the plan (issue 17): a decision names both.
    id: str = Field(default="", description="<incident id>/plan-<n>, one per version")
    digest: str | None = Field(
        default=None, description="plan_digest() of the typed action; None without an action"
    )
    reason: str = Field(default="", description="Why this version was made (re-planning)")
    action: RemediationAction | None
    alternatives: list[RemediationAction] = Field(default_factory=list, max_length=3)
    alternative_reasons: list[AlternativeReason] = Field(default_factory=list)
    rationale: str
    checks: list[str] = Field(
        default_factory=list,
        description="With no automatic action: what a person should look at (runbooks, evidence)",
    )
    escalate: bool = Field(default=False, description="No automatic action: page a person")
    evidence_ids: list[str] = Field(default_factory=list)
    engine: Engine = Engine.RULES
    engine_reason: str = Field(
        default="", description="Why this engine answered, e.g. why an LLM answer was refused"
    )
    llm_usage: LlmUsage | None = Field(default=None, description="What the LLM engine spent")


class Decision(StrEnum):
    APPROVED = "approved"
    REJECTED = "rejected"
    EXPIRED = "expired"
    REFUSED = "refused"


class DecisionRequest(Artifact):
    """What a person sends with approve or reject (signed by the decision API)."""

    by: str = Field(min_length=1)
    reason: str = ""
    plan_id: str | None = Field(default=None, description="The plan the person saw")
    plan_digest: str | None = Field(default=None, description="Its digest (plan_digest())")
    proof: DecisionProof | None = Field(
        default=None, description="The API's signature; absent = an unsigned, local decision"
    )


class Approval(Artifact):
    decision: Decision
    by: str
    at: datetime
    reason: str = ""
    approvers: list[str] = Field(
        default_factory=list, description="Everyone whose approval counted (two for high risk)"
    )
    # The audit of the attempt (issue 19): who as authenticated, by which path, on which plan.
    identity: str | None = Field(
        default=None, description="Canonical identity; None when it could not be established"
    )
    authenticated: bool = Field(default=False, description="A verified signature vouched for it")
    path: DecisionPath | None = None
    plan_id: str | None = None
    plan_digest: str | None = None


class ApprovalPolicy(Artifact):
    """Who may approve which risk level; '*' means anyone. High risk needs two people."""

    approvers: dict[Risk, list[str]] = Field(
        default_factory=lambda: {Risk.LOW: ["*"], Risk.MEDIUM: ["*"], Risk.HIGH: ["*"]}
    )
    two_person: list[Risk] = Field(default_factory=lambda: [Risk.HIGH])

    def required(self, risk: Risk) -> int:
        """How many different people must approve an action of this risk."""
        return 2 if risk in self.two_person else 1

    def refusal(self, by: str, risk: Risk, already: list[str]) -> str | None:
        """Why `by` may not approve now, or None when the approval counts.

        Every name is compared in canonical form (incidentflow/identity/canonical.py), so
        `Alice` and `alice` plus a zero-width space are one person; a name that has no
        canonical form (mixed scripts, look-alikes) matches nobody.
        """
        allowed = self.approvers.get(risk, [])
        who = canonical_or_none(by)
        listed = {canonical_or_none(name) for name in allowed if name != "*"} - {None}
        if who is None or ("*" not in allowed and who not in listed):
            names = ", ".join(allowed) or "nobody"
            return f"{by} may not approve {risk.value} risk actions (allowed: {names})"
        if who in {canonical_or_none(name) for name in already}:
            return (
                f"{by} already approved; {risk.value} risk needs "
                f"{self.required(risk)} different approvers"
            )
        return None


class ConfigRequest(Artifact):
    incident_id: str


class IncidentConfig(Artifact):
    """What the incident workflow reads from configuration (at start and when a person asks
    for a refresh), recorded in its history."""

    policy: ApprovalPolicy = Field(default_factory=ApprovalPolicy)
    trust: DecisionTrust = Field(
        default_factory=DecisionTrust, description="Keys that verify decisions (issue 19)"
    )
    notify: bool = Field(default=False, description="A notifier is configured")
    verify_poll_seconds: int = Field(default=15, gt=0)
    resolved_settle_seconds: int = Field(
        default=60, ge=0, description="All alerts resolved this long, none re-fired: withdraw"
    )
    # Issue 17 item 5: read through the config activity at start and on a person's refresh,
    # never frozen into the workflow's input.
    approval_timeout_seconds: int = Field(default=1800, gt=0)
    reinvestigate_debounce_seconds: int = Field(
        default=30,
        ge=0,
        description="A material change re-investigates once no further change came this long",
    )


class ActionStatus(StrEnum):
    OK = "ok"
    ERROR = "error"
    ALREADY_DONE = "already_done"


class VerifyCheck(Artifact):
    """One evaluation of a PromQL verification (the agents' worker queries Prometheus)."""

    incident_id: str
    action_id: str
    promql: str


class VerifyProbe(Artifact):
    passed: bool
    detail: str


class ExecuteInput(Artifact):
    action: RemediationAction
    undo: bool = False


class ActionResult(Artifact):
    action_id: str
    undo: bool = False
    status: ActionStatus
    executor: str
    dry_run: bool
    would_run: list[str] = Field(description="Exactly what was (or would have been) done")
    output: str = ""
    executed_at: datetime


class VerificationStatus(StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    SKIPPED = "skipped"


class Verification(Artifact):
    action_id: str
    status: VerificationStatus
    checked_at: datetime
    detail: str
