"""Detection's LLM engine: the model reviews each alert's service, severity and noise.

The rules engine's verdicts are the starting point and the fallback. The model sees the
batch (labels, annotations, times; never the raw payload) with the rules' verdict per alert
and the names of known services. Its verdicts are checked (fingerprints of this batch,
services that are known or named by the alert's labels) and merged: suppressions that people
configured (silences, maintenance windows, known noise, heartbeats) and flapping stay as the
rules found them, and alerts cut from the context keep the rules' verdict.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from incidentflow.llm.accounting import Meter
from incidentflow.llm.engine import Ask, LlmEngine
from incidentflow.llm.guard import plain
from incidentflow.models import (
    Alert,
    AlertBatch,
    Detection,
    DetectionResult,
    Engine,
    ServiceGraph,
    Severity,
)

# Reasons that come from configuration people wrote; the model does not overrule them.
_CONFIGURED = ("noise: known-noise rule", "noise: silenced by", "noise: maintenance window")
_HEARTBEAT = "is a pipeline heartbeat"
# Output tokens one verdict takes, roughly: a storm's batch is cut to what the answer can hold.
TOKENS_PER_VERDICT = 80


class Verdict(BaseModel):
    model_config = ConfigDict(extra="forbid")

    fingerprint: str
    service: str | None
    severity: Severity
    noise: bool = False
    reason: str = Field(max_length=400)


class DetectionAnswer(BaseModel):
    model_config = ConfigDict(extra="forbid")

    verdicts: list[Verdict]


async def detect_llm(
    engine: LlmEngine,
    batch: AlertBatch,
    rules: DetectionResult,
    graph: ServiceGraph,
    meter: Meter,
    deadline: float | None,
) -> DetectionResult:
    """The batch's detections, with the model's verdicts where it gave valid ones."""
    known = {s.name for s in graph.services}
    # One entry per alert: repeated deliveries (an HA pair, a flap) share one verdict.
    by_fp = {d.alert.fingerprint: d for d in rules.detections}
    limit = max(1, engine.config.max_output_tokens // TOKENS_PER_VERDICT)
    if len(by_fp) > limit:
        meter.truncated.append(
            f"input.alerts: kept the first {limit} of {len(by_fp)}: the output budget "
            "(INCIDENTFLOW_LLM_MAX_OUTPUT_TOKENS) holds that many verdicts"
        )
        by_fp = dict(list(by_fp.items())[:limit])
    view = {
        "batch_id": batch.batch_id,
        "environment": batch.environment,
        "known_services": sorted(known),
        "alerts": [_alert_view(d) for d in by_fp.values()],
    }

    def check(answer: DetectionAnswer) -> list[str]:
        return _problems(answer, by_fp, known)

    answer = await engine.ask(
        Ask(agent="detection", answer=DetectionAnswer, data=view, check=check),
        meter,
        deadline=deadline,
    )
    verdicts = {v.fingerprint: v for v in answer.verdicts}
    merged = [_merge(d, verdicts.get(d.alert.fingerprint)) for d in rules.detections]
    return rules.model_copy(update={"detections": merged})


def _alert_view(det: Detection) -> dict[str, object]:
    alert: Alert = det.alert
    return {
        "fingerprint": alert.fingerprint,
        "name": alert.name,
        "status": alert.status.value,
        "labels": alert.labels,
        "annotations": alert.annotations,
        "starts_at": alert.starts_at.isoformat(),
        "rules": {
            "service": det.service,
            "severity": det.severity.value,
            "noise": det.noise,
            "flapping": det.flapping,
            "reasons": det.reasons,
        },
    }


def _problems(answer: DetectionAnswer, by_fp: dict[str, Detection], known: set[str]) -> list[str]:
    problems: list[str] = []
    seen: set[str] = set()
    for v in answer.verdicts:
        det = by_fp.get(v.fingerprint)
        if det is None:
            problems.append(f"fingerprint {v.fingerprint!r} is not an alert of this batch")
            continue
        if v.fingerprint in seen:
            problems.append(f"fingerprint {v.fingerprint!r} has more than one verdict")
        seen.add(v.fingerprint)
        named = set(det.alert.labels.values())
        if v.service is not None and v.service not in known and v.service not in named:
            problems.append(
                f"{v.fingerprint}: service {v.service!r} is neither a known service nor a "
                "value of the alert's labels"
            )
    # An alert cut from the context has no verdict: it keeps the rules' one (see _merge).
    if by_fp and not seen:
        problems.append("no verdicts: give one verdict per alert fingerprint")
    return problems


def _merge(det: Detection, verdict: Verdict | None) -> Detection:
    if verdict is None:
        note = "llm: no verdict (not in the model's context, or not answered); rules verdict kept"
        return det.model_copy(update={"reasons": [*det.reasons, note]})
    configured = any(r.startswith(_CONFIGURED) or _HEARTBEAT in r for r in det.reasons)
    noise = det.noise if configured else verdict.noise
    reasons = [*det.reasons, f"llm: {plain(verdict.reason, 400)}"]
    if configured and verdict.noise is not det.noise:
        reasons.append("llm: configured suppression kept; the model does not overrule it")
    return det.model_copy(
        update={
            "service": verdict.service,
            "severity": verdict.severity,
            "noise": noise,
            "reasons": reasons,
            "engine": Engine.LLM,
        }
    )
