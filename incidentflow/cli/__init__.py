"""The `incidentflow` command line. Every mistake is one line saying what to do, exit code 1."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

import click

from incidentflow.cli import render
from incidentflow.cli.common import run_async, settings
from incidentflow.cli.identity import BY_HELP, who
from incidentflow.cli.output import echo, echo_json
from incidentflow.client import IncidentClient
from incidentflow.errors import BadInput, ConfigError, IncidentFlowError
from incidentflow.logs import configure_logging
from incidentflow.runtime import tune_gc
from incidentflow.temporal import connect
from incidentflow.visible import visible


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="incidentflow")
def cli() -> None:
    """Incident response as durable Temporal workflows. Configure with INCIDENTFLOW_* variables."""


def main(argv: list[str] | None = None) -> None:
    """Entry point of the `incidentflow` script and `python starter.py`.

    It leaves with os._exit after flushing: the Temporal SDK's native runtime can crash while
    the interpreter tears down (seen here as SIGSEGV/SIGABRT after a clean run), which would
    turn a clear exit code into a signal.
    """
    code = run(argv)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def run(argv: list[str] | None = None) -> int:
    """The command's exit code; every mistake is one line on stderr and code 1."""
    try:
        code = cli.main(args=argv, prog_name="incidentflow", standalone_mode=False) or 0
    except click.exceptions.Abort:
        echo("incidentflow: aborted", err=True)
        code = 1
    except click.UsageError as err:
        where = err.ctx.command_path if err.ctx else "incidentflow"
        echo(f"incidentflow: {err.format_message()} (see `{where} --help`)", err=True)
        code = 1
    except click.ClickException as err:
        echo(f"incidentflow: {err.format_message()}", err=True)
        code = 1
    except SystemExit as err:
        code = err.code if isinstance(err.code, int) else (0 if err.code is None else 1)
    return code if isinstance(code, int) else 0


@cli.command()
@click.option(
    "--insecure",
    is_flag=True,
    help="Let the webhook listen on a non-loopback address with no credentials configured.",
)
@run_async
async def up(insecure: bool) -> None:
    """Run the stack in the foreground: Temporal (embedded unless configured), workers, webhook."""
    from incidentflow.cli.stack import Stack

    s = settings()
    if insecure:
        s = s.replace({"webhook_insecure": True})
    configure_logging(s.process.log_format, s.process.log_level)
    stack = Stack(s, say=echo)
    async with stack.running():
        echo("ready; Ctrl-C stops everything")
        await stack.wait()


@cli.command("serve-webhook")
@click.option(
    "--insecure",
    is_flag=True,
    help="Listen on a non-loopback address with no credentials configured (anyone who reaches "
    "it can open incidents). Also INCIDENTFLOW_WEBHOOK_INSECURE=true.",
)
@run_async
async def serve_webhook(insecure: bool) -> None:
    """Run only the ingest webhook (workers and Temporal run elsewhere, as in docker-compose).

    It starts whether or not Temporal answers: until it does, alerts get 503 with Retry-After
    and /readyz says why.
    """
    import uvicorn

    from incidentflow.ingest.app import create_app
    from incidentflow.ingest.auth import exposure_problem
    from incidentflow.ingest.sink import TemporalSink
    from incidentflow.telemetry import configure_tracing, traced

    s = settings()
    if insecure:
        s = s.replace({"webhook_insecure": True})
    exposed = exposure_problem(s.ingest)
    if exposed:
        raise ConfigError(exposed)
    configure_logging(s.process.log_format, s.process.log_level)
    configure_tracing(s.process, "incidentflow-ingest")
    client = await connect(s, serve_metrics=True, lazy=True)
    app = traced(create_app(s, TemporalSink(client, s)))
    tune_gc(s.process.gc_gen0_threshold)
    echo(
        f"webhook: {s.ingest.ingest_url}/v1/alerts/alertmanager -> Temporal at {s.temporal.target}"
    )
    server = uvicorn.Server(
        uvicorn.Config(app, host=s.ingest.webhook_host, port=s.ingest.webhook_port)
    )
    await server.serve()


@cli.command("setup-temporal")
@run_async
async def setup_temporal() -> None:
    """Register IncidentFlow's search attributes on the configured Temporal server."""
    from incidentflow.temporal import ensure_search_attributes

    s = settings()
    added = await ensure_search_attributes(await connect(s), s.temporal.temporal_namespace)
    echo(f"added {', '.join(added)}" if added else "search attributes already registered")


@cli.command()
@click.option("--approve-as", metavar="NAME", help="Approve the plan as NAME instead of waiting.")
@click.option("--follow/--no-follow", default=True, help="Follow the incident to its end.")
@click.option("--timeout", default=120.0, show_default=True, help="Seconds to wait for the plan.")
@run_async
async def demo(approve_as: str | None, follow: bool, timeout: float) -> None:
    """Fire the bundled demo scenario at the webhook and follow the incident it opens."""
    from incidentflow.cli.demo import run_demo

    await run_demo(settings(), approve_as=approve_as, follow=follow, plan_timeout=timeout)


@cli.group()
def alert() -> None:
    """Send alerts to the webhook."""


@alert.command("send")
@click.argument("file", type=click.Path(path_type=Path))
@click.option(
    "--source",
    type=click.Choice(["alertmanager", "grafana", "pagerduty", "generic"]),
    default="alertmanager",
    show_default=True,
)
@run_async
async def alert_send(file: Path, source: str) -> None:
    """POST FILE (a webhook payload as JSON) to the running webhook."""
    from incidentflow.cli.demo import post_payload

    try:
        payload = json.loads(await asyncio.to_thread(file.read_text))
    except OSError as err:
        raise BadInput(f"cannot read {file}: {err.strerror}") from err
    except json.JSONDecodeError as err:
        raise BadInput(f"{file} is not JSON (line {err.lineno}: {err.msg})") from err
    answer = await post_payload(settings(), payload, source=source)
    echo_json(json.dumps(answer))


@cli.command()
@click.argument("target")
@click.argument("source")
@click.option("--by", default=None, help=BY_HELP)
@click.option("--reason", default="", help="Why they are one problem.")
@run_async
async def merge(target: str, source: str, by: str | None, reason: str) -> None:
    """Merge incident SOURCE into TARGET (both timelines record it)."""
    from incidentflow.cli.moves import merge as merge_incidents
    from incidentflow.models import MergeRequest

    req = MergeRequest(target=target, source=source, by=who(by), reason=reason)
    count = await merge_incidents(await connect(settings()), req)
    echo(f"merged {source} into {target}: {count} alert(s) in {target}")


@cli.command()
@click.argument("incident_id")
@click.option(
    "--alert",
    "fingerprints",
    multiple=True,
    required=True,
    metavar="FINGERPRINT",
    help="An alert to move (repeat the option); `show ID --json` lists each alert's fingerprint.",
)
@click.option("--by", default=None, help=BY_HELP)
@click.option("--reason", default="", help="Why these alerts are a problem of their own.")
@run_async
async def split(
    incident_id: str, fingerprints: tuple[str, ...], by: str | None, reason: str
) -> None:
    """Move alerts out of INCIDENT_ID into a new incident (both timelines record it)."""
    from incidentflow.cli.moves import split as split_incident
    from incidentflow.models import SplitRequest

    s = settings()
    req = SplitRequest(
        incident_id=incident_id, fingerprints=list(fingerprints), by=who(by), reason=reason
    )
    done = await split_incident(await connect(s), s, req)
    new, count = done.incident, len(done.moved.alerts)
    what = f"{new.severity.value}, origin {new.origin_service or 'unknown'}"
    echo(
        f"split {count} alert(s) off {incident_id} into {new.id} ({what})"
        if done.opened
        else f"{new.id} was already split off {incident_id} with these {count} alert(s) "
        f"({what}); nothing changed"
    )
    echo(f"see it: `incidentflow show {new.id}` (in the Temporal UI: workflow {new.id})")


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--limit", default=50, show_default=True)
@run_async
async def incidents(as_json: bool, limit: int) -> None:
    """List incidents: id, state, severity, service, title, age."""
    rows = await IncidentClient(await connect(settings())).list_incidents(limit=limit)
    if as_json:
        echo_json(
            json.dumps(
                [
                    {
                        "id": r.id,
                        "state": r.state,
                        "severity": r.severity,
                        "service": r.service,
                        "title": r.title,
                        "started": r.started.isoformat(),
                        "age_seconds": int(r.age.total_seconds()),
                        "workflow_status": r.status,
                    }
                    for r in rows
                ],
                indent=2,
            )
        )
    else:
        echo(render.incidents_table(rows))


@cli.command()
@click.option("--partition", help="Stream partition (default: INCIDENTFLOW_ENVIRONMENT).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@run_async
async def quarantine(partition: str | None, as_json: bool) -> None:
    """Alerts no agent could process (with the error), and incidents found ended."""
    where = partition or settings().environment
    stats, held, gone = await IncidentClient(await connect(settings())).stream_record(where)
    if as_json:
        doc = {
            "stats": stats.model_dump(mode="json"),
            "quarantined": [q.model_dump(mode="json") for q in held],
            "gone": [g.model_dump(mode="json") for g in gone],
        }
        echo_json(json.dumps(doc, indent=2))
    else:
        echo(render.stream_text(where, stats, held, gone))


@cli.command()
@click.argument("incident_id")
@click.option("--json", "as_json", is_flag=True, help="The full record as JSON.")
@run_async
async def show(incident_id: str, as_json: bool) -> None:
    """Every artifact of one incident."""
    record = await IncidentClient(await connect(settings())).record(incident_id)
    if as_json:
        echo_json(record.model_dump_json(indent=2))
    else:
        echo(render.record_text(record))


@cli.command()
@click.argument("incident_id")
@click.option("--out", type=click.Path(path_type=Path), help="Write the Markdown to this file.")
@run_async
async def postmortem(incident_id: str, out: Path | None) -> None:
    """Print (or write) the drafted post-mortem of an incident."""
    record = await IncidentClient(await connect(settings())).record(incident_id)
    if record.postmortem is None:
        raise IncidentFlowError(
            f"{incident_id} has no post-mortem yet (state: {record.state.value}); it is drafted "
            "when the incident ends"
        )
    if out is None:
        echo(record.postmortem.markdown)
        return
    try:
        await asyncio.to_thread(out.write_text, visible(record.postmortem.markdown))
    except OSError as err:
        raise BadInput(f"cannot write {out}: {err.strerror}") from err
    echo(f"wrote {out}")


from incidentflow.cli.eval import eval_command  # noqa: E402  (registered after `cli` exists)

cli.add_command(eval_command)

from incidentflow.cli import takeover  # noqa: E402  (issue 5: approve, pause, override...)

takeover.register(cli, run_async)

from incidentflow.cli.bundle import bundle_group  # noqa: E402  (issue 15: import, capture)

cli.add_command(bundle_group)
