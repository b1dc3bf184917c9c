"""Issue 17 item 6: workflows/patches.py is the one registry of workflow patches."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from workflows import patches

WORKFLOWS = Path(__file__).resolve().parents[2] / "workflows"
SDK_CALLS = {"patched", "deprecate_patch"}
OUR_CALLS = {"patched", "deprecated"}


def calls(tree: ast.AST) -> list[tuple[str, str, ast.expr | None]]:
    """(object, function, first argument) for every `x.f(...)` call in `tree`."""
    found = []
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and isinstance(node.func.value, ast.Name)
        ):
            first = node.args[0] if node.args else None
            found.append((node.func.value.id, node.func.attr, first))
    return found


def problems(name: str, source: str) -> list[str]:
    """What is wrong with the patch calls in one module's source."""
    found = []
    for obj, func, arg in calls(ast.parse(source, filename=name)):
        if obj == "workflow" and func in SDK_CALLS:
            found.append(f"{name}: workflow.{func} directly (use workflows.patches)")
        if obj == "patches" and func in OUR_CALLS:
            if not (isinstance(arg, ast.Constant) and isinstance(arg.value, str)):
                found.append(f"{name}: patches.{func} needs a literal id")
            elif arg.value not in patches.PATCHES:
                found.append(f"{name}: patch {arg.value!r} is not registered")
    return found


def test_every_patch_goes_through_the_registry_with_a_registered_id() -> None:
    found = []
    for path in sorted(WORKFLOWS.glob("*.py")):
        if path.name != "patches.py":
            found += problems(path.name, path.read_text())
    assert found == []


def test_the_check_finds_a_direct_an_unregistered_and_a_computed_patch() -> None:
    bad = "workflow.patched('x')\npatches.patched('not-registered')\npatches.deprecated(ID)\n"
    assert problems("bad.py", bad) == [
        "bad.py: workflow.patched directly (use workflows.patches)",
        "bad.py: patch 'not-registered' is not registered",
        "bad.py: patches.deprecated needs a literal id",
    ]


def test_an_unregistered_id_is_refused_before_the_sdk() -> None:
    with pytest.raises(patches.UnregisteredPatch, match="not registered"):
        patches.patched("made-up")
