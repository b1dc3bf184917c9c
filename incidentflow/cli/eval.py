"""`incidentflow eval DIR...`: how often the pipeline is right on bundles with known answers."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import click

from incidentflow.cli.output import echo
from incidentflow.errors import BadInput
from incidentflow.settings import Settings


@click.command("eval")
@click.argument("dirs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--json", "json_out", type=click.Path(path_type=Path), help="Also write JSON here.")
@click.option("--parallel", default=2, show_default=True, help="Bundles run at the same time.")
@click.option(
    "--engine",
    type=click.Choice(["rules", "llm"]),
    default="rules",
    show_default=True,
    help="llm: the agents ask the configured model (INCIDENTFLOW_LLM_*), rules as fallback.",
)
def eval_command(dirs: tuple[Path, ...], json_out: Path | None, parallel: int, engine: str) -> None:
    """Run each scenario bundle in DIRS through the real pipeline and score it.

    Starts a private Temporal dev server and in-process workers; exit code 0 whenever it ran,
    whatever the scores.
    """
    from incidentflow.cli import run_async, settings
    from incidentflow.eval import find_bundles
    from incidentflow.eval.report import table, totals
    from incidentflow.eval.runner import run_eval

    @run_async
    async def go() -> None:
        bundles = find_bundles(list(dirs))
        base = _with_engine(settings(), engine)
        cases = await run_eval(bundles, base, parallel=parallel, say=lambda m: echo(m, err=True))
        total = totals(cases)
        echo(table(cases, total))
        if json_out is not None:
            doc = {"cases": [c.model_dump(mode="json") for c in cases], "total": total}
            try:
                await asyncio.to_thread(json_out.write_text, json.dumps(doc, indent=2))
            except OSError as err:
                raise BadInput(f"cannot write {json_out}: {err.strerror}") from err
            echo(f"wrote {json_out}", err=True)

    go()


def _with_engine(base: Settings, engine: str) -> Settings:
    """Settings for the chosen engine: llm enables every agent unless some are named."""
    from incidentflow.llm import llm_config

    if engine == "rules":
        return base.model_copy(update={"llm_agents": ""})
    if not base.llm_agents.strip():
        base = base.model_copy(update={"llm_agents": "all"})
    llm_config(base)  # a missing model or a bad URL is one line now, not a failed case later
    return base
