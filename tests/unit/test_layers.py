"""The layers show in the imports (issue 17 item 8).

Only the edges (`incidentflow/cli`, `incidentflow/ingest`, `incidentflow/eval`) import workflow
code (`workflows/`), activities (`activities/`) or `worker.py`; everything else in the package is
shared by workers and workflows alike. The CLI takes part in no import cycle. Imports are read
from the source (inside functions too), so a lazy import counts like any other.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EDGES = ("incidentflow.cli", "incidentflow.ingest", "incidentflow.eval")
RUNTIME = ("workflows", "activities", "worker")


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def project_modules() -> dict[str, Path]:
    paths = [*ROOT.glob("incidentflow/**/*.py"), *ROOT.glob("workflows/*.py")]
    paths += [*ROOT.glob("activities/*.py"), ROOT / "worker.py", ROOT / "starter.py"]
    return {module_name(p): p for p in paths}


def imported(path: Path) -> Iterator[str]:
    """Every absolute import in a file; `from pkg import name` yields pkg.name and pkg."""
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module
            yield from (f"{node.module}.{a.name}" for a in node.names)


def within(name: str, roots: tuple[str, ...]) -> bool:
    return any(name == r or name.startswith(r + ".") for r in roots)


def graph() -> dict[str, set[str]]:
    """Module -> the project modules it imports (a submodule, not its package, when named)."""
    mods = project_modules()
    edges: dict[str, set[str]] = {}
    for name, path in mods.items():
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                found |= {a.name for a in node.names if a.name in mods}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                subs = {f"{node.module}.{a.name}" for a in node.names}
                found |= subs & set(mods)
                if not subs <= set(mods) and node.module in mods:
                    found.add(node.module)
        edges[name] = found - {name}
    return edges


def cycles(edges: dict[str, set[str]]) -> list[set[str]]:
    """Strongly connected components of more than one module (Tarjan, iteratively)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    found: list[set[str]] = []
    for start in edges:
        if start in index:
            continue
        work = [(start, iter(sorted(edges[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on.add(start)
        while work:
            v, it = work[-1]
            w = next(it, None)
            if w is not None:
                if w not in index:
                    index[w] = low[w] = len(index)
                    stack.append(w)
                    on.add(w)
                    work.append((w, iter(sorted(edges[w]))))
                elif w in on:
                    low[v] = min(low[v], index[w])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                part: set[str] = set()
                while True:
                    w = stack.pop()
                    on.discard(w)
                    part.add(w)
                    if w == v:
                        break
                if len(part) > 1:
                    found.append(part)
    return found


def test_only_the_edges_import_workflows_activities_or_the_worker() -> None:
    offenders = sorted(
        f"{name} imports {target}"
        for name, path in project_modules().items()
        if within(name, ("incidentflow",)) and not within(name, EDGES)
        for target in imported(path)
        if within(target, RUNTIME)
    )
    assert offenders == []


def test_the_rule_sees_what_it_polices() -> None:
    # The edges do import workflow code, and a lazy import inside a function is seen.
    mods = project_modules()
    assert "workflows.names" in set(imported(mods["incidentflow.ingest.sink"]))
    assert "worker" in set(imported(mods["incidentflow.eval.runner"]))
    assert "incidentflow.client" in mods


def test_the_cli_takes_part_in_no_import_cycle() -> None:
    edges = graph()
    assert any(within(m, ("incidentflow.cli",)) for m in edges)
    tangled = [sorted(c) for c in cycles(edges) if any(within(m, ("incidentflow.cli",)) for m in c)]
    assert tangled == []


def test_cycles_are_found() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [{"a", "b", "c"}]
    assert cycles({"a": {"b"}, "b": set()}) == []
