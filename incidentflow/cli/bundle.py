"""`incidentflow bundle ...`: make scenario bundles from data sets and from real incidents."""

from __future__ import annotations

from pathlib import Path

import click

from incidentflow.cli.output import echo


@click.group("bundle")
def bundle_group() -> None:
    """Write scenario bundles: import a labelled data set, or capture an incident."""


@bundle_group.group("import")
def import_group() -> None:
    """Convert a public fault data set into bundles with known answers."""


@import_group.command("nezha")
@click.argument("source", type=click.Path(path_type=Path))
@click.argument("out", type=click.Path(path_type=Path))
def import_nezha_command(source: Path, out: Path) -> None:
    """Convert the Nezha Online Boutique cases in SOURCE into bundles under OUT.

    SOURCE holds cases/ and controls/ (shared/data/nezha-online-boutique). OUT is replaced
    atomically: the bundles are written to OUT.tmp and renamed.
    """
    from incidentflow.cli.common import fail
    from incidentflow.errors import IncidentFlowError
    from incidentflow.eval.nezha import import_nezha

    try:
        written = import_nezha(source, out)
    except IncidentFlowError as err:
        fail(str(err))
        return
    except OSError as err:
        fail(f"cannot write {out}: {err.strerror or err}")
        return
    controls = sum(1 for w in written if w.control)
    echo(f"wrote {len(written) - controls} cases and {controls} controls to {out}")


@bundle_group.command("capture")
@click.argument("incident_id")
@click.argument("out", type=click.Path(path_type=Path))
@click.option(
    "--margin",
    default=900,
    show_default=True,
    type=click.IntRange(0, 86_400),
    help="Seconds of telemetry kept before the first alert and after the last one.",
)
def capture_command(incident_id: str, out: Path, margin: int) -> None:
    """Write incident INCIDENT_ID as a scenario bundle in OUT (a new folder).

    The alerts as received, what the configured evidence sources return for the incident's
    window, and an expected.yaml filled from what people decided (approved plan, overrides).
    """
    from incidentflow.cli.common import run_async, settings
    from incidentflow.eval.capture import capture_incident
    from incidentflow.temporal import connect

    @run_async
    async def go() -> None:
        s = settings()
        written = await capture_incident(await connect(s), s, incident_id, out, margin_s=margin)
        echo(f"wrote {written.path}: {written.summary}")
        for line in written.unavailable:
            echo(f"unavailable: {line}", err=True)

    go()
