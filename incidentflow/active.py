"""What is active: one block that `up` and every worker print at start (issue 13).

A person on call must be able to tell, before the first incident, whether investigation reads
their Prometheus or nothing at all, and whether an approved plan really acts. Only names,
addresses and paths are shown: never a token, key or webhook secret.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from incidentflow.context import AgentContext
from incidentflow.llm.config import llm_config
from incidentflow.settings import Settings

NO_SOURCES = "none configured: investigations are marked no_sources and plans ask a person"


def evidence_lines(settings: Settings) -> list[str]:
    """One line per configured evidence source, in the order investigation asks them."""
    s = settings
    out: list[str] = []
    if s.sources.evidence_bundle:
        out.append(f"bundle {s.sources.evidence_bundle} (recorded scenario)")
    if s.sources.prometheus.prometheus_url:
        queries = s.sources.prometheus.prometheus_queries or "built-in PromQL templates"
        out.append(f"prometheus {s.sources.prometheus.prometheus_url} (queries: {queries})")
    if s.sources.loki.loki_url:
        out.append(
            f"loki {s.sources.loki.loki_url} (template: {s.sources.loki.loki_query_template})"
        )
    if s.sources.changelog.changelog_file:
        out.append(f"changelog file {s.sources.changelog.changelog_file}")
    if s.sources.changelog.changelog_url:
        out.append(
            f"changelog {s.sources.changelog.changelog_url}"
            + (" (token set)" if s.sources.changelog.changelog_token else "")
        )
    if s.sources.kubectl.kubectl_changes or s.sources.kubectl.kubectl_capacity:
        where = s.sources.kubectl.kubectl_context or "current context"
        what = " and ".join(
            w
            for w, on in (
                ("rollout history", s.sources.kubectl.kubectl_changes),
                ("capacity (deployments, HPAs, pods, nodes)", s.sources.kubectl.kubectl_capacity),
            )
            if on
        )
        out.append(f"kubectl {what} ({where}, namespace {s.sources.kubectl.kubectl_namespace})")
    if s.sources.runbooks.runbooks_dir:
        out.append(f"runbooks {s.sources.runbooks.runbooks_dir}")
    return out


def executor_line(settings: Settings) -> str:
    """What an approved action really does."""
    names = [n.strip() for n in settings.executors.executor.split(",") if n.strip()]
    if names in ([], ["dry-run"]):
        return "dry-run (approved actions are recorded, nothing is changed)"
    parts = []
    for name in names:
        if name == "http":
            where = settings.executors.executor_http_url or "no INCIDENTFLOW_EXECUTOR_HTTP_URL"
            routes = settings.executors.executor_http_actions
            if routes:
                where += f"; per kind: {', '.join(sorted(routes))}"
            parts.append(f"http ({where})")
        elif name == "kubectl":
            parts.append(
                f"kubectl ({settings.executors.executor_kubeconfig or 'default kubeconfig'})"
            )
        elif name == "script":
            parts.append(f"script ({settings.executors.executor_script_dir})")
        else:
            parts.append(name)
    return ", ".join(parts) + "; actions needing another executor are refused"


def active_lines(settings: Settings, ctx: AgentContext | None = None) -> list[tuple[str, str]]:
    """(label, value) pairs of everything that decides what IncidentFlow does and says."""
    s = settings
    temporal = s.temporal.temporal_address or f"{s.temporal.target} (embedded dev server)"
    graph = ctx.graph_line() if ctx is not None else "(built by the agents' worker)"
    sources = evidence_lines(s) or [NO_SOURCES]
    policy = "; ".join(
        f"{risk}: {', '.join(who)}" for risk, who in s.approval.approval_policy.items()
    )
    two = ", ".join(s.approval.approval_two_person) or "none"
    notify = [
        *(["slack (webhook URL set)"] if s.notify.notify_slack_url is not None else []),
        *(
            [f"webhook {_origin(s.notify.notify_webhook_url)}"]
            if s.notify.notify_webhook_url
            else []
        ),
    ]
    cfg = llm_config(s.llm)
    llm = (
        f"{cfg.model} at {cfg.base_url} for {', '.join(sorted(cfg.agents))}"
        if cfg is not None
        else "off: rules engines only"
    )
    metrics = f"http://{s.process.metrics_bind}/metrics" if s.process.metrics_bind else "off"
    return [
        ("temporal", f"{temporal}, namespace {s.temporal.temporal_namespace}"),
        ("service graph", graph),
        *(("evidence", line) for line in sources),
        ("executor", executor_line(s)),
        ("approval", f"{policy}; two people for: {two}"),
        ("notifier", ", ".join(notify) or "none"),
        ("llm", llm),
        ("metrics", metrics),
    ]


def active_block(settings: Settings, ctx: AgentContext | None = None) -> str:
    """The lines as one aligned block."""
    return "\n".join(f"{label + ':':15}{value}" for label, value in active_lines(settings, ctx))


def _origin(url: str) -> str:
    """Scheme and host of a URL: its path or query may carry a token."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname or ''}{f':{parts.port}' if parts.port else ''}/..."
