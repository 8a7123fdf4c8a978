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


# --- one definition of each concept ---------------------------------------------------------

STATES_HOME = "brandgate.requests.states"
CLOCK_HOME = "brandgate.clock"
REQUEST_STATES = {"queued", "running", "done", "failed", "cancelled"}
TERMINAL = {"done", "failed", "cancelled"}


def _trees() -> dict[str, ast.Module]:
    return {module: ast.parse(path.read_text(encoding="utf-8")) for module, path in MODULES.items()}


TREES = _trees()


def test_request_states_are_spelled_out_once() -> None:
    """A tuple, list, set or Literal of request states that includes every terminal one is the
    definition of which states end a request: it lives in brandgate/requests/states.py only."""
    spelled = []
    for module, tree in TREES.items():
        if module == STATES_HOME:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Tuple | ast.List | ast.Set) and node.elts:
                values = [e.value for e in node.elts if isinstance(e, ast.Constant)]
                if len(values) == len(node.elts) and TERMINAL <= set(values) <= REQUEST_STATES:
                    spelled.append(f"{module}:{node.lineno} {ast.unparse(node)}")
    assert not spelled, f"import the states from {STATES_HOME}:\n" + "\n".join(spelled)


DECISIONS_HOME = "brandgate.requests.decisions"
VERDICT_GROUPS = ({"unverified", "flag"}, {"pass", "approved"})


def test_who_must_look_and_what_may_be_exported_are_decided_once() -> None:
    """The verdicts that wait for a person, and those that may be exported, live in requests/decisions.py."""
    spelled = []
    for module, tree in TREES.items():
        if module == DECISIONS_HOME:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Tuple | ast.List | ast.Set) and node.elts:
                values = {e.value for e in node.elts if isinstance(e, ast.Constant)}
                if len(values) == len(node.elts) and values in VERDICT_GROUPS:
                    spelled.append(f"{module}:{node.lineno} {ast.unparse(node)}")
    assert not spelled, f"ask {DECISIONS_HOME} (needs_a_person, exportable, verdict_after):\n" + "\n".join(spelled)


def test_the_clock_is_defined_once() -> None:
    twins = [f"{module}:{node.lineno} def {node.name}" for module, tree in TREES.items() if module != CLOCK_HOME
             for node in ast.walk(tree)
             if isinstance(node, ast.FunctionDef) and node.name in ("now", "as_utc", "aware", "utc_now", "now_utc")]
    assert not twins, f"import now/as_utc from {CLOCK_HOME}:\n" + "\n".join(twins)


# Exceptions that are not errors shown to anyone: a stop someone asked for, or a bug in the caller.
NOT_ERRORS = {
    "brandgate.requests.lifecycle.IllegalTransition": "a transition the state machine has no edge for: a bug",
    "brandgate.requests.failures.Cancelled": "control flow of a cancel someone asked for",
    "brandgate.regress.runner.RunInterrupted": "control flow of a stop someone asked for",
    "pipeline.generation.GenerationCancelled": "control flow of a cancel someone asked for",
}


def test_every_error_of_ours_has_one_base() -> None:
    """Every exception class we define derives from BrandgateError (policies/errors.py), so one
    handler shows it as one line with its exit code; the checks' InvalidInput is the application's
    UserError. Private ones (a leading underscore) are caught inside their own module."""
    import importlib
    import inspect

    from brandgate.errors import UserError
    from policies.errors import BrandgateError, InvalidInput

    assert UserError is InvalidInput
    outside = []
    for module in MODULES:
        if module.endswith("__main__"):
            continue
        loaded = importlib.import_module(module)
        for name, obj in vars(loaded).items():
            if not (inspect.isclass(obj) and issubclass(obj, BaseException) and obj.__module__ == module):
                continue
            if name.startswith("_") or f"{module}.{name}" in NOT_ERRORS or issubclass(obj, BrandgateError):
                continue
            outside.append(f"{module}.{name} ({', '.join(b.__name__ for b in obj.__bases__)})")
    assert not outside, "derive from BrandgateError or UserError:\n" + "\n".join(outside)


# The sets the accuracy figures come from: they may read briefs and kits, do colour arithmetic and
# compose creatives as the pipeline does, but never label an item with a check's own judgement.
EVALUATION_SETS = ("benchmarks/evalset.py", "benchmarks/photoset.py")
LABELLERS_MAY_IMPORT = ("policies.brief", "policies.colour", "policies.kit", "pipeline.compose", "policies.characters")


def test_evaluation_sets_are_labelled_without_the_checks() -> None:
    judged = []
    for name in EVALUATION_SETS:
        path = ROOT / name
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            modules = []
            if isinstance(node, ast.ImportFrom) and node.module:
                modules = [node.module]
            elif isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            for module in modules:
                ours = module.split(".")[0] in PACKAGES
                if ours and not module.startswith(LABELLERS_MAY_IMPORT):
                    judged.append(f"{name}:{node.lineno} imports {module}")
    assert not judged, "label the evaluation items without the code they judge:\n" + "\n".join(judged)


# --- rooms that say what they hold -------------------------------------------------------------

# Modules renamed or split (CHANGELOG.md lists each old → new); a module by the old name would be
# a second room for the same thing.
RETIRED_MODULES = {
    "brandgate.jobs.api": "brandgate.jobs.contract",
    "brandgate.jobs.front": "brandgate.jobs.request_side",
    "brandgate.registry": "brandgate.model_registry",
    "brandgate.cli.gate": "brandgate.cli.models_gate",
    "brandgate.regress.slack": "brandgate.regress.channel_posts",
    "bot.runtime": "bot.listener_parts",
    "bot.payloads": "bot.inbound_shapes",
    "bot.actors": "brandgate.requests.actors",
}


def test_retired_module_names_stay_retired() -> None:
    back = [f"{old} (now {new})" for old, new in RETIRED_MODULES.items() if old in MODULES]
    assert not back, "\n".join(back)
    # pipeline/provenance.py became a package of modules named for what they hold.
    assert not (ROOT / "pipeline" / "provenance.py").exists()
    assert MODULES["pipeline.provenance"].name == "__init__.py"
    assert all(not isinstance(node, ast.ClassDef | ast.FunctionDef) for node in TREES["pipeline.provenance"].body)


def _defined(names: set[str]) -> list[tuple[str, ast.AST]]:
    return [(module, node) for module, tree in TREES.items() for node in ast.walk(tree)
            if isinstance(node, ast.ClassDef | ast.FunctionDef) and node.name in names]


IMAGES_HOME = "brandgate.requests.images"


def test_the_image_read_model_is_defined_once() -> None:
    """One view of an image row for jobs, bot, regress and the CLI; the bot's ImageRecord is gone."""
    where = [f"{module} {node.name}" for module, node in _defined({"ImageView", "ImageRecord"})]
    assert where == [f"{IMAGES_HOME} ImageView"], where
    # The verdict after a decision is asked of decisions.py by the read-model alone.
    users = sorted({module for module, tree in TREES.items() if module != DECISIONS_HOME for node in ast.walk(tree)
                    if (isinstance(node, ast.alias) and node.name == "verdict_after")
                    or (isinstance(node, ast.Attribute) and node.attr == "verdict_after")})
    assert users == [IMAGES_HOME], users


ACTORS_HOME = "brandgate.requests.actors"


def test_people_are_named_once() -> None:
    twins = [f"{module}:{node.lineno} {node.name}" for module, node in
             _defined({"slack_actor", "parse_actor", "_actor", "actor_name"}) if module != ACTORS_HOME]
    assert not twins, f"import slack_actor/parse_actor from {ACTORS_HOME}:\n" + "\n".join(twins)


CHECK_HOME = "policies.check"
CHECK_LITERALS = ({"pass", "fail", "skip", "unverified", "error"}, {"pass", "unverified", "flag", "reject"})


def test_check_statuses_and_verdicts_are_spelled_out_once() -> None:
    """A tuple, list, set or Literal of every check status, or of every verdict, is their definition:
    it lives in policies/check.py only (the credential schema and the engine import them)."""
    spelled = []
    for module, tree in TREES.items():
        if module == CHECK_HOME:
            continue
        for node in ast.walk(tree):
            elts: list[ast.expr] = []
            if isinstance(node, ast.Tuple | ast.List | ast.Set):
                elts = list(node.elts)
            elif isinstance(node, ast.Subscript) and ast.unparse(node.value).endswith("Literal"):
                elts = list(node.slice.elts) if isinstance(node.slice, ast.Tuple) else [node.slice]
            values = {e.value for e in elts if isinstance(e, ast.Constant)}
            if elts and len(values) == len(elts) and values in CHECK_LITERALS:
                spelled.append(f"{module}:{node.lineno} {ast.unparse(node)}")
    assert not spelled, f"import Status/STATUSES/Verdict from {CHECK_HOME}:\n" + "\n".join(spelled)


def test_only_the_provenance_package_loads_the_c2pa_sdk() -> None:
    loading = [f"{module}:{node.lineno}" for module, tree in TREES.items() for node in ast.walk(tree)
               if isinstance(node, ast.Import | ast.ImportFrom) and not module.startswith("pipeline.provenance.")
               and any((alias.name if isinstance(node, ast.Import) else node.module or "").split(".")[0] == "c2pa"
                       for alias in node.names)]
    assert not loading, "\n".join(loading)
