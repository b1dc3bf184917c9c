"""`incidentflow eval DIR...`: how often the pipeline is right on bundles with known answers."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

import click

from incidentflow.cli.output import echo
from incidentflow.errors import BadInput
from incidentflow.settings import Settings
from incidentflow.visible import one_line


@click.command("eval")
@click.argument("dirs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--json", "json_out", type=click.Path(path_type=Path), help="Also write JSON here.")
@click.option("--parallel", default=2, show_default=True, help="Bundles run at the same time.")
@click.option(
    "--speed",
    default=30.0,
    show_default=True,
    help="Recorded seconds per replayed second (1 = live). Each tick still waits for the "
    "pipeline to finish the previous one.",
)
@click.option(
    "--repeat",
    default=1,
    show_default=True,
    type=click.IntRange(1, 20),
    help="Run the bundles N times and report the spread of each figure.",
)
@click.option(
    "--engine",
    type=click.Choice(["rules", "llm"]),
    default="rules",
    show_default=True,
    help="llm: the agents ask the configured model (INCIDENTFLOW_LLM_*), rules as fallback.",
)
def eval_command(
    dirs: tuple[Path, ...],
    json_out: Path | None,
    parallel: int,
    speed: float,
    repeat: int,
    engine: str,
) -> None:
    """Run each scenario bundle in DIRS through the real pipeline and score it.

    Starts a private Temporal dev server and in-process workers; replays each bundle's
    deliveries in recorded time; exit code 0 whenever it ran, whatever the scores.
    """
    from incidentflow.cli.common import fail, run_async, settings
    from incidentflow.eval import find_bundles
    from incidentflow.eval.report import disagreements, spread, spread_lines, table, totals
    from incidentflow.eval.runner import run_eval

    if speed <= 0:
        fail(f"--speed must be above 0, not {speed}")

    @run_async
    async def go() -> None:
        bundles = find_bundles(list(dirs))
        base = _with_engine(settings(), engine)
        runs = []
        for n in range(repeat):
            bar = ProgressLine(f"run {n + 1}/{repeat} " if repeat > 1 else "")
            runs.append(await run_eval(bundles, base, parallel=parallel, speed=speed, progress=bar))
            bar.close()
        cases = runs[-1]
        total = totals(cases)
        echo(table(cases, total))
        doc: dict[str, Any] = {"speed": speed, "cases": [c.model_dump(mode="json") for c in cases]}
        doc["total"] = total
        if repeat > 1:
            all_totals = [totals(r) for r in runs]
            spreads = spread(all_totals)
            differ = disagreements(runs)
            echo(spread_lines(spreads, repeat, differ))
            doc["runs"] = all_totals
            doc["spread"] = spreads
            doc["changed_between_runs"] = differ
        if json_out is not None:
            try:
                await asyncio.to_thread(json_out.write_text, json.dumps(doc, indent=2))
            except OSError as err:
                raise BadInput(f"cannot write {json_out}: {err.strerror}") from err
            echo(f"wrote {json_out}", err=True)

    go()


class ProgressLine:
    """Cases done, the case running and time left, on stderr: redrawn on a terminal, one
    line per case otherwise (logs and CI)."""

    def __init__(self, prefix: str = "") -> None:
        self._prefix = prefix
        self._tty = sys.stderr.isatty()

    def __call__(self, p: Any) -> None:
        width = 24
        filled = width * p.done // p.total if p.total else width
        eta = "" if p.eta_s is None else f", about {_duration(p.eta_s)} left"
        now = f" {one_line(p.current)}" if p.current else " done"
        line = f"{self._prefix}[{'#' * filled}{'.' * (width - filled)}] {p.done}/{p.total}{now}"
        line += eta
        if self._tty:
            click.echo(f"\r\033[K{line}", err=True, nl=False)
        else:
            click.echo(line, err=True)

    def close(self) -> None:
        if self._tty:
            click.echo("", err=True)


def _duration(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 60}m{s % 60:02d}s" if s >= 60 else f"{s}s"


def _with_engine(base: Settings, engine: str) -> Settings:
    """Settings for the chosen engine: llm enables every agent unless some are named."""
    from incidentflow.llm import llm_config

    if engine == "rules":
        return base.replace({"llm_agents": ""})
    if not base.llm.llm_agents.strip():
        base = base.replace({"llm_agents": "all"})
    llm_config(base.llm)  # a missing model or a bad URL is one line now, not a failed case later
    return base
