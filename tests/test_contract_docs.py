"""The command-line contract lives in the repository (docs/cli.md) and matches the code."""

from __future__ import annotations

import re
from pathlib import Path

import click

from brandgate.cli.main import _register, cli
from brandgate.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
CONTRACT = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
SKIP_DIRS = {".git", ".venv", "var", "node_modules", "__pycache__", ".mypy_cache", ".ruff_cache"}
TEXT_SUFFIXES = {".py", ".md", ".yaml", ".yml", ".toml", ".ini", ".cfg", ".txt", ".j2", ".sh", ""}


def _commands() -> list[tuple[str, click.Command]]:
    _register()
    found: list[tuple[str, click.Command]] = []

    def walk(command: click.Command, path: str) -> None:
        if isinstance(command, click.Group):
            for name, sub in sorted(command.commands.items()):
                walk(sub, f"{path} {name}".strip())
        else:
            found.append((path, command))

    walk(cli, "")
    return found


def test_no_file_points_outside_the_repository_for_the_contract() -> None:
    cited = "DESIGN" + ".md"  # spelt apart so this file does not cite it itself
    citing = []
    for path in ROOT.rglob("*"):
        if any(part in SKIP_DIRS for part in path.relative_to(ROOT).parts) or not path.is_file():
            continue
        if path.suffix not in TEXT_SUFFIXES or path.stat().st_size > 2_000_000:
            continue
        if cited in path.read_text(encoding="utf-8", errors="replace"):
            citing.append(str(path.relative_to(ROOT)))
    assert not citing, f"cite docs/cli.md instead: {citing}"


def test_every_command_and_flag_is_in_the_contract() -> None:
    missing = []
    for path, command in _commands():
        lines = [line for line in CONTRACT.splitlines() if re.search(rf"`(brandgate )?{re.escape(path)}\b", line)]
        if not lines:
            missing.append(path)
            continue
        for param in command.params:
            if isinstance(param, click.Option):
                longest = max(param.opts, key=len)
                if not any(longest in line for line in lines):
                    missing.append(f"{path} {longest}")
    assert not missing, f"docs/cli.md does not name: {missing}"


def test_every_setting_is_in_the_contract() -> None:
    missing = [name.upper() for name in Settings.model_fields if f"`{name.upper()}`" not in CONTRACT]
    assert not missing, f"docs/cli.md does not list the settings: {missing}"


# A benchmark script and the flags that follow it, with their values and usage brackets
# (`benchmarks/checks_accuracy.py --n 0 --no-photos --review 384 --seed S`, `[--set held-out]`),
# across the lines of a usage block.
BENCHMARK_CITED = re.compile(
    r"benchmarks[./]([a-z_]+)(?:\.py)?((?:\s+\[?--[a-z][a-z-]*(?:[ =](?!-)[^\s\]`|]+)?\]?| \|)*)"
)
FLAG = re.compile(r"(?<![\w-])--[a-z][a-z-]*")


def _cited_in() -> list[Path]:
    """README, docs/ and every docstring and comment of our packages, benchmarks and scripts."""
    sources = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    for package in ("brandgate", "bot", "pipeline", "policies", "benchmarks", "scripts"):
        sources += sorted((ROOT / package).rglob("*.py"))
    return sources


def test_every_benchmark_command_the_docs_cite_exists() -> None:
    """A doc or docstring that names a benchmark script and its flags names ones that exist."""
    missing = []
    for path in _cited_in():
        for match in BENCHMARK_CITED.finditer(path.read_text(encoding="utf-8")):
            script = ROOT / "benchmarks" / f"{match.group(1)}.py"
            where = f"{path.relative_to(ROOT)}: {' '.join(match.group(0).split())}"
            if not script.is_file():
                missing.append(f"{where} (no {script.relative_to(ROOT)})")
                continue
            text = script.read_text(encoding="utf-8")
            missing += [f"{where} (no {flag})" for flag in FLAG.findall(match.group(2)) if f'"{flag}"' not in text]
    assert not missing, "\n".join(missing)


def test_every_script_the_docs_cite_exists() -> None:
    cited = re.compile(r"scripts/([A-Za-z0-9_.-]+\.(?:py|sh))")
    missing = [
        f"{path.relative_to(ROOT)}: scripts/{name}"
        for path in [*_cited_in(), ROOT / "Makefile"]
        for name in cited.findall(path.read_text(encoding="utf-8"))
        if not (ROOT / "scripts" / name).is_file()
    ]
    assert not missing, "\n".join(missing)


BRANDGATE_CITED = re.compile(r"`brandgate((?: [a-z][a-z-]*)+)((?: [^`]*)?)`")
# Quoted text that starts like a command and is not one: a message the scheduler posts.
NOT_COMMANDS = ("brandgate audit chain BROKEN",)


def test_every_brandgate_command_the_docs_cite_exists() -> None:
    """`brandgate GROUP COMMAND --flag` quoted in README, docs/ or a docstring names a command and
    flags the CLI has (the other direction of test_every_command_and_flag_is_in_the_contract)."""
    _register()
    missing = []
    for path in _cited_in():
        for match in BRANDGATE_CITED.finditer(path.read_text(encoding="utf-8")):
            if match.group(0).strip("`").startswith(NOT_COMMANDS):
                continue
            command: click.Command = cli
            words = match.group(1).split()
            while words and isinstance(command, click.Group) and words[0] in command.commands:
                command = command.commands[words.pop(0)]
            where = f"{path.relative_to(ROOT)}: {match.group(0)}"
            if words and isinstance(command, click.Group):
                missing.append(f"{where} (no command {words[0]!r})")
                continue
            known = {"--help"} | {o for p in command.params for o in (*p.opts, *p.secondary_opts)}
            missing += [f"{where} (no {flag})" for flag in FLAG.findall(match.group(2)) if flag not in known]
    assert not missing, "\n".join(missing)
