"""The one way CLI commands write to the terminal: every control character made visible.

Incident records carry text from alerts, logs and models; `click.echo` alone would pass an
ANSI escape in an annotation straight to the reader's terminal (and strips only some of them,
only when the output is not a terminal).
"""

from __future__ import annotations

import click

from incidentflow.visible import visible, visible_json


def echo(text: str = "", *, err: bool = False) -> None:
    """Write `text` and a newline; control characters but newlines and tabs escaped."""
    click.echo(visible(text), err=err)


def echo_json(document: str) -> None:
    """Write a JSON document; it still parses to the same strings."""
    click.echo(visible_json(document))
