"""The import graph of our packages: no cycles, and the libraries never reach up into the application.

Read from the source with `ast`, so an import inside a function counts as much as one at the
top of a module (it is the same dependency, only later). Imports under `if TYPE_CHECKING:` do
not run and do not count.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("brandgate", "bot", "pipeline", "policies")
# What the pipeline library may use of the application: the settings it is configured with and
# the version it writes into credentials.
PIPELINE_MAY_IMPORT = {"brandgate", "brandgate.settings"}


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    line: int
    lazy: bool


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


MODULES = _modules()


def _ours(name: str) -> str | None:
    """The module of ours that `name` (a module or a name inside one) lives in."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _is_type_checking(node: ast.If) -> bool:
    return "TYPE_CHECKING" in ast.unparse(node.test)


def _edges(module: str, path: Path) -> list[Edge]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    edges: list[Edge] = []

    def walk(node: ast.AST, lazy: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child):
                for other in child.orelse:
                    walk(other, lazy)
                continue
            inner = lazy or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef)
            names: list[str] = []
            if isinstance(child, ast.Import):
                names = [alias.name for alias in child.names]
            elif isinstance(child, ast.ImportFrom):
                if child.level:
                    base = package[: len(package) - (child.level - 1)]
                    origin = ".".join(base + ([child.module] if child.module else []))
                else:
                    origin = child.module or ""
                names = [f"{origin}.{alias.name}" for alias in child.names] + [origin]
            for name in names:
                target = _ours(name)
                if target is not None and target != module:
                    edges.append(Edge(module, target, getattr(child, "lineno", 0), inner))
            walk(child, inner)

    walk(tree, False)
    return edges


EDGES = sorted({edge for module, path in MODULES.items() for edge in _edges(module, path)},
               key=lambda e: (e.source, e.line, e.target))


def _unit(module: str) -> str:
    """A package for the package graph: a top-level package, a brandgate sub-package, or a
    brandgate module that stands alone (settings, errors, ...)."""
    parts = module.split(".")
    if parts[0] != "brandgate" or len(parts) == 1:
        return parts[0]
    if (ROOT / "brandgate" / parts[1]).is_dir():
        return f"brandgate.{parts[1]}"
    return module


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one member (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def _where(edges: list[Edge], members: set[str], unit: bool = False) -> list[str]:
    key = _unit if unit else (lambda m: m)
    return [f"{e.source}:{e.line} imports {e.target}" for e in edges
            if key(e.source) in members and key(e.target) in members and key(e.source) != key(e.target)]


def test_the_graph_reads_our_packages() -> None:
    # A guard on the guard: a parser that found nothing would pass everything below.
    assert {"brandgate.requests.run", "pipeline.generation", "policies.engine", "bot.app"} <= set(MODULES)
    assert any(e.source == "brandgate.jobs.execution" and e.target == "brandgate.requests.run" for e in EDGES)


def test_no_import_cycle_between_modules() -> None:
    graph: dict[str, set[str]] = defaultdict(set)
    for edge in EDGES:
        graph[edge.source].add(edge.target)
    cycles = _cycles(graph)
    assert not cycles, "\n".join(line for cycle in cycles for line in _where(EDGES, set(cycle)))


def test_no_import_cycle_between_packages() -> None:
    graph: dict[str, set[str]] = defaultdict(set)
    for edge in EDGES:
        if _unit(edge.source) != _unit(edge.target):
            graph[_unit(edge.source)].add(_unit(edge.target))
    cycles = _cycles(graph)
    assert not cycles, "\n".join(line for cycle in cycles for line in _where(EDGES, set(cycle), unit=True))


def test_pipeline_is_a_library_of_the_application() -> None:
    reaching_up = [f"{e.source}:{e.line} imports {e.target}" for e in EDGES
                   if e.source.startswith("pipeline") and e.target.split(".")[0] in ("brandgate", "bot")
                   and e.target not in PIPELINE_MAY_IMPORT]
    assert not reaching_up, "\n".join(reaching_up)


def test_policies_import_only_policies() -> None:
    outside = [f"{e.source}:{e.line} imports {e.target}" for e in EDGES
               if e.source.startswith("policies") and not e.target.startswith("policies")]
    assert not outside, "\n".join(outside)


def _says_why(lines: list[str], line: int) -> bool:
    """A comment on the import's line, or above the group of imports it belongs to."""
    if "#" in lines[line - 1]:
        return True
    above = line - 2
    while above >= 0 and lines[above].strip().startswith(("from ", "import ", ")")):
        above -= 1
    while above >= 0 and lines[above].strip() and not lines[above].strip().startswith("#") and \
            lines[above].rstrip().endswith(","):
        above -= 1  # inside a parenthesised import list
    return above >= 0 and lines[above].strip().startswith("#")


def test_every_import_inside_a_function_says_why() -> None:
    """Lazy imports are for start-up time (a command's own dependencies, torch, celery); each says so."""
    silent = []
    for edge in EDGES:
        if edge.lazy:
            lines = MODULES[edge.source].read_text(encoding="utf-8").splitlines()
            if not _says_why(lines, edge.line):
                silent.append(f"{edge.source}:{edge.line} imports {edge.target}")
    assert not silent, "import at the top, or say in a comment why it waits:\n" + "\n".join(sorted(set(silent)))
