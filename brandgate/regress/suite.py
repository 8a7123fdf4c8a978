"""Suite files: briefs with stable IDs and family tags, loaded with line-numbered errors."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml

from brandgate.errors import UserError
from brandgate.kits import resolve_kit
from brandgate.settings import Settings
from pipeline.compose import check_brief_fits
from policies.brief import Brief, brief_from_mapping
from policies.documents import parse_yaml_nodes, read_text
from policies.errors import InvalidInput
from policies.kit import Kit

FAMILIES = ("typography", "small-objects", "counting", "hands-people", "edge-cases")
# The check that measures what a family is about. A render whose defining check did not decide
# (unverified, skipped or turned off) says nothing about the family: it is "not measured".
DEFINING_CHECKS: dict[str, tuple[str, ...]] = {
    "typography": ("BG101",),
    "counting": ("BG401",),
    "hands-people": ("BG402",),
}
MAX_SUITE_FILE_BYTES = 4 * 1024 * 1024
SUITE_MAX_NODES = 500_000
MAX_BRIEF_ID_CHARS = 100
SUITE_ONLY_FIELDS = ("id", "family", "expect")

Expectation = Literal["pass", "reject"]


class SuiteError(UserError):
    """The suite file as a whole cannot be used (unreadable, not a suite, duplicate IDs)."""


@dataclass(frozen=True)
class SuiteBrief:
    """One brief of a suite: its ID and family, what the run should expect, where it was written."""

    id: str
    family: str
    brief: Brief
    expect: Expectation
    line: int
    # Whether the suite file sets this brief's size; without one it renders at the size the run
    # gives (the profile under test's resolution, or a test's explicit scale-down).
    sized: bool = False

    def brief_at(self, size: tuple[int, int], seed: int) -> Brief:
        """The brief as one render submits it: one image at `seed`, at `size` unless it has its own."""
        update: dict[str, Any] = {"seed": seed, "n": 1}
        if not self.sized:
            update["size"] = size
        return self.brief.model_copy(update=update)


@dataclass(frozen=True)
class SuiteProblem:
    """A brief that cannot run; the others still do."""

    line: int
    brief_id: str | None
    message: str

    def describe(self, path: Path | str) -> str:
        who = f" ({self.brief_id})" if self.brief_id else ""
        return f"{path}:{self.line}{who}: {self.message}"

    def to_json(self) -> dict[str, Any]:
        return {"line": self.line, "brief_id": self.brief_id, "message": self.message}


@dataclass(frozen=True)
class Suite:
    name: str
    path: Path
    content_hash: str
    briefs: tuple[SuiteBrief, ...]
    problems: tuple[SuiteProblem, ...]

    def select(self, families: Sequence[str] = (), limit: int | None = None) -> Suite:
        """A slice of the suite: only these families (all when empty), at most `limit` briefs."""
        unknown = sorted(set(families) - set(FAMILIES))
        if unknown:
            raise SuiteError(f"unknown family {', '.join(unknown)}; the families are {', '.join(FAMILIES)}")
        chosen = [b for b in self.briefs if not families or b.family in families]
        if limit is not None:
            if limit < 1:
                raise SuiteError(f"--limit must be at least 1, got {limit}")
            chosen = chosen[:limit]
        return Suite(self.name, self.path, self.content_hash, tuple(chosen), self.problems)


def load_suite(path: Path, settings: Settings | None = None) -> Suite:
    """Read a suite: a bad brief becomes a line-numbered `SuiteProblem`; duplicate IDs refuse it.

    With `settings`, each brief is also checked against its kit (the same check as intake):
    one the kit cannot serve, such as text that cannot fit its size, is a problem here and
    never reaches the queue.
    """
    kits: dict[str, Kit | UserError] = {}

    def fits(brief: Brief) -> None:
        if settings is None:
            return
        if brief.kit not in kits:
            try:
                kits[brief.kit] = resolve_kit(brief.kit, settings)
            except UserError as exc:
                kits[brief.kit] = exc
        kit = kits[brief.kit]
        if isinstance(kit, UserError):
            raise InvalidInput(str(kit))
        check_brief_fits(brief, kit)

    try:
        text = read_text(path, "suite", MAX_SUITE_FILE_BYTES)
        # A suite is many briefs: it may hold more values than one brief, never an alias bomb.
        data, root = parse_yaml_nodes(text, str(path), max_nodes=SUITE_MAX_NODES)
    except InvalidInput as exc:
        raise SuiteError(str(exc)) from None
    if not isinstance(data, dict) or not isinstance(root, yaml.MappingNode):
        raise SuiteError(f"{path}: a suite is a mapping with a `briefs:` list")
    items = data.get("briefs")
    if not isinstance(items, list) or not items:
        raise SuiteError(f"{path}: `briefs:` must be a non-empty list of briefs")
    defaults = data.get("defaults") or {}
    if not isinstance(defaults, dict):
        raise SuiteError(f"{path}: `defaults:` must be a mapping of brief fields")
    lines = _item_lines(root)
    name = str(data.get("suite") or path.stem)

    briefs: list[SuiteBrief] = []
    problems: list[SuiteProblem] = []
    first_line: dict[str, int] = {}
    duplicates: list[str] = []
    for position, item in enumerate(items):
        line = lines[position] if position < len(lines) else 0
        brief_id = item.get("id") if isinstance(item, dict) else None
        if isinstance(brief_id, str) and brief_id in first_line:
            duplicates.append(f"{brief_id!r} at lines {first_line[brief_id]} and {line}")
            continue
        if isinstance(brief_id, str):
            first_line[brief_id] = line
        try:
            entry = _suite_brief(item, defaults, line)
            fits(entry.brief)
            briefs.append(entry)
        except InvalidInput as exc:
            named = brief_id if isinstance(brief_id, str) else None
            problems.append(SuiteProblem(line, named, str(exc)))
    if duplicates:
        listed = "; ".join(duplicates)
        raise SuiteError(f"{path}: duplicate brief IDs: {listed}; every ID must be unique")
    digest = hashlib.sha256(text.encode()).hexdigest()
    return Suite(name, path, digest, tuple(briefs), tuple(problems))


def _item_lines(root: yaml.MappingNode) -> list[int]:
    """1-based line of each entry under `briefs:`, in order, from the YAML node tree."""
    for key, value in root.value:
        is_briefs = isinstance(key, yaml.ScalarNode) and key.value == "briefs"
        if is_briefs and isinstance(value, yaml.SequenceNode):
            return [node.start_mark.line + 1 for node in value.value]
    return []


def _suite_brief(item: Any, defaults: dict[str, Any], line: int) -> SuiteBrief:
    if not isinstance(item, dict):
        raise InvalidInput(f"a suite entry is a mapping of brief fields, got {type(item).__name__}")
    brief_id = item.get("id")
    if not isinstance(brief_id, str) or not brief_id.strip():
        raise InvalidInput("`id` is missing; give every brief a unique text ID")
    if len(brief_id) > MAX_BRIEF_ID_CHARS or any(c.isspace() or c in "/\\" for c in brief_id):
        raise InvalidInput(f"`id` {brief_id!r}: use at most {MAX_BRIEF_ID_CHARS} characters, no spaces or slashes")
    family = item.get("family")
    if family not in FAMILIES:
        raise InvalidInput(f"`family` is {family!r}; give one of {', '.join(FAMILIES)}")
    expect = item.get("expect", "pass")
    if expect not in ("pass", "reject"):
        raise InvalidInput(f"`expect` is {expect!r}; give pass or reject")
    fields = {**defaults, **{k: v for k, v in item.items() if k not in SUITE_ONLY_FIELDS}}
    if "seed" in fields:
        raise InvalidInput("`seed` is not allowed in a suite brief: the run picks seeds (--seeds)")
    if fields.get("n", 1) != 1:
        raise InvalidInput(f"`n` is {fields['n']!r}; suite briefs render one image per seed (n: 1)")
    brief = brief_from_mapping(fields)
    return SuiteBrief(
        id=brief_id, family=str(family), brief=brief, expect=expect, line=line, sized="size" in fields
    )
