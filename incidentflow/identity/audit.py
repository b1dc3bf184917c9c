"""One line per decision attempt, for `show` and the post-mortem (issue 19 item 7). Pure."""

from __future__ import annotations

from incidentflow.models import Approval


def attempt_line(attempt: Approval) -> str:
    """When, the outcome, who (and whether a signature vouched for it), the path and the plan."""
    if attempt.authenticated:
        who = f"{attempt.by} (authenticated)"
    elif attempt.identity is not None:
        who = f"{attempt.by} (unsigned, as typed)"
    else:
        who = f"{attempt.by} (claimed, not verified)" if attempt.by != "system" else "system"
    path = attempt.path.value if attempt.path else "-"
    plan = attempt.plan_id or "-"
    if attempt.plan_digest:
        plan += f" {attempt.plan_digest[:19]}"
    reason = f": {attempt.reason}" if attempt.reason else ""
    return (
        f"{attempt.at:%H:%M:%S} {attempt.decision.value} by {who} via {path}, plan {plan}{reason}"
    )
