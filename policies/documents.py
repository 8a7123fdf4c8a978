"""The one way YAML and JSON the project reads are parsed: bounded in size, depth and expansion, strict on keys.

Every brief, kit.yaml, policy.yaml, profile and suite goes through here, so a hostile file (an
alias bomb, 3,000 nested lists, a key given twice) is refused in milliseconds with one line that
quotes at most a few hundred characters of it, instead of eating memory or raising a traceback.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, NoReturn

import yaml
from yaml.composer import ComposerError
from yaml.constructor import ConstructorError
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.reader import ReaderError
from yaml.scanner import ScannerError

from policies.bounded_read import read_bounded
from policies.characters import QUOTE_CHARS, printable, quote
from policies.errors import InvalidInput

# Briefs, kits and profiles nest a handful of levels; 64 leaves room and stays far from Python's stack.
MAX_DEPTH = 64
# Nodes after aliases are expanded (a long string counts once per 256 characters): an alias bomb
# is a few hundred bytes that stand for millions of nodes.
MAX_NODES = 100_000
_CHARS_PER_NODE = 256
_MERGE_TAG = "tag:yaml.org,2002:merge"


def read_text(path: Path, what: str, max_bytes: int) -> str:
    """The UTF-8 text of a user's file, refused when missing, a folder, special or too large."""
    data = read_bounded(path, max_bytes, what)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidInput(f"{what} file is not UTF-8 text", printable(str(path), QUOTE_CHARS)) from None


def read_document(path: Path, what: str, max_bytes: int, *, max_nodes: int = MAX_NODES) -> Any:
    """Read a .json file as JSON and anything else as YAML, within the limits above."""
    text = read_text(path, what, max_bytes)
    where = printable(str(path), QUOTE_CHARS)
    if path.suffix.lower() == ".json":
        return parse_json(text, where, max_nodes=max_nodes)
    return parse_yaml(text, where, max_nodes=max_nodes)


def parse_yaml(text: str, where: str | None = None, *, max_nodes: int = MAX_NODES) -> Any:
    """YAML text to plain data (safe tags only); InvalidInput on any problem."""
    return parse_yaml_nodes(text, where, max_nodes=max_nodes)[0]


def parse_yaml_nodes(text: str, where: str | None = None, *, max_nodes: int = MAX_NODES) -> tuple[Any, Node | None]:
    """Like `parse_yaml`, also returning the node tree (for line numbers of entries)."""
    loader: _BoundedLoader | None = None
    try:
        loader = _BoundedLoader(text)
        root = loader.get_single_node()
        if root is None:
            return None, None
        _check_expansion(root, max_nodes, where)
        return loader.construct_document(root), root
    except InvalidInput:
        raise
    except yaml.YAMLError as exc:
        raise InvalidInput(f"not valid YAML: {_yaml_problem(exc)}", where) from None
    except (ValueError, TypeError, OverflowError) as exc:
        # Constructors raise these for values YAML parses but Python cannot hold:
        # a 5,000-digit integer, the date 2026-13-45.
        raise InvalidInput(f"not valid YAML: a value cannot be read ({quote(str(exc))})", where) from None
    except RecursionError:
        raise InvalidInput(f"not valid YAML: nested deeper than {MAX_DEPTH} levels", where) from None
    finally:
        if loader is not None:
            loader.dispose()


def parse_json(text: str, where: str | None = None, *, max_nodes: int = MAX_NODES) -> Any:
    """JSON text to plain data: depth checked before parsing, duplicate keys and NaN refused."""
    depth = _json_depth(text)
    if depth > MAX_DEPTH:
        raise InvalidInput(f"not valid JSON: nested deeper than {MAX_DEPTH} levels", where)
    try:
        data = json.loads(text, object_pairs_hook=_unique_pairs, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        hint = " (it looks like YAML: name the file .yaml)" if _looks_like_yaml(text) else ""
        raise InvalidInput(f"not valid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}{hint}", where) from None
    except _DuplicateKey as exc:
        raise InvalidInput(f"not valid JSON: the key {quote(exc.key)} is given twice; keep one", where) from None
    except (ValueError, RecursionError) as exc:
        raise InvalidInput(f"not valid JSON: {quote(str(exc))}", where) from None
    nodes = _count_plain(data)
    if nodes > max_nodes:
        raise InvalidInput(f"not valid JSON: {nodes} values; the limit is {max_nodes}", where)
    return data


class _DuplicateKey(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _unique_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _DuplicateKey(key)
        result[key] = value
    return result


def _no_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not a JSON number")


def _json_depth(text: str) -> int:
    """The deepest bracket nesting outside strings; counted before json.loads can recurse."""
    deepest = depth = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > MAX_DEPTH:
                    return deepest
        elif char in "]}":
            depth -= 1
    return deepest


def _count_plain(data: Any) -> int:
    count, stack = 0, [data]
    while stack:
        item = stack.pop()
        count += 1
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, str):
            count += len(item) // _CHARS_PER_NODE
    return count


def _looks_like_yaml(text: str) -> bool:
    import re

    return bool(re.search(r"^\s*[A-Za-z_][\w-]*\s*:", text, re.MULTILINE)) and not text.lstrip().startswith("{")


class _BoundedLoader(yaml.SafeLoader):
    """PyYAML's safe loader with a depth limit while composing and duplicate keys refused."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def fetch_flow_collection_start(self, TokenClass: Any) -> None:
        # The scanner looks ahead through a whole flow collection for a possible key, which is
        # quadratic in its nesting: stop at the limit before that look-ahead starts.
        if self.flow_level >= MAX_DEPTH:
            raise ScannerError(None, None, f"nested deeper than {MAX_DEPTH} levels", self.get_mark())
        super().fetch_flow_collection_start(TokenClass)  # type: ignore[no-untyped-call]

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                mark = self.peek_event().start_mark  # type: ignore[no-untyped-call]
                raise ComposerError(None, None, f"nested deeper than {MAX_DEPTH} levels", mark)
            return super().compose_node(parent, index)  # type: ignore[no-untyped-call]
        finally:
            self._depth -= 1

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        if isinstance(node, MappingNode):
            seen: set[Any] = set()
            for key_node, _ in node.value:
                if key_node.tag == _MERGE_TAG:
                    continue
                key = self.construct_object(key_node, deep=True)  # type: ignore[no-untyped-call]
                try:
                    duplicate = key in seen
                except TypeError:
                    raise ConstructorError(
                        None, None, "a mapping key must be plain text or a number", key_node.start_mark
                    ) from None
                if duplicate:
                    raise ConstructorError(
                        None, None, f"the key {quote(key)} is given twice; keep one", key_node.start_mark
                    )
                seen.add(key)
        return super().construct_mapping(node, deep)  # type: ignore[no-any-return]


def _children(node: Node) -> list[Node]:
    if isinstance(node, SequenceNode):
        return list(node.value)
    if isinstance(node, MappingNode):
        return [part for pair in node.value for part in pair]
    return []


def _check_expansion(root: Node, max_nodes: int, where: str | None) -> None:
    """Refuse a node graph whose aliases expand past `max_nodes`, deeper than MAX_DEPTH, or into itself.

    Sizes are memoised per node, so the walk costs the distinct nodes, not the expansion.
    """
    size: dict[int, int] = {}
    depth: dict[int, int] = {}
    active: set[int] = set()
    stack: list[tuple[Node, bool]] = [(root, False)]
    while stack:
        node, finished = stack.pop()
        key = id(node)
        if finished:
            children = _children(node)
            own = 1 + (len(node.value) // _CHARS_PER_NODE if isinstance(node, ScalarNode) else 0)
            size[key] = own + sum(size[id(c)] for c in children)
            depth[key] = 1 + max((depth[id(c)] for c in children), default=0)
            active.discard(key)
            if size[key] > max_nodes:
                raise InvalidInput(
                    f"not valid YAML: its aliases expand to more than {max_nodes} values "
                    f"(line {node.start_mark.line + 1}); write the values out or use fewer aliases",
                    where,
                )
            if depth[key] > MAX_DEPTH:
                raise InvalidInput(
                    f"not valid YAML: with its aliases expanded it nests deeper than {MAX_DEPTH} levels", where
                )
            continue
        if key in size:
            continue
        if key in active:
            raise InvalidInput(f"not valid YAML: an alias at line {node.start_mark.line + 1} refers to itself", where)
        active.add(key)
        stack.append((node, True))
        stack.extend((child, False) for child in _children(node) if id(child) not in size)


def _yaml_problem(exc: yaml.YAMLError) -> str:
    if isinstance(exc, ReaderError):
        return (
            f"the character U+{exc.character:04X} at position {exc.position + 1} is not allowed in YAML"
            if isinstance(exc.character, int)
            else f"{exc.reason} at position {exc.position + 1}"
        )
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    problem = printable(str(problem), QUOTE_CHARS)
    if mark is not None:
        return f"{problem} at line {mark.line + 1} column {mark.column + 1}"
    return problem
