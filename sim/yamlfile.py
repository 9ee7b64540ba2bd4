"""Reading YAML that a user (or a hostile file) wrote: one safe loader for every input.

PyYAML's `safe_load` is safe from code execution but not from mistakes or
malice: a duplicate key silently wins, a 351-byte file of aliases expands to
gigabytes, 600 nested brackets overflow the stack, `2016-02-30` raises a bare
ValueError, `1e6` reads as a string and `010` as 8. `load_yaml` keeps PyYAML's
safe types and refuses all of that, each as an `InputError` naming the source,
the dotted path where known, the line, and the value:

- a duplicate key in a mapping (YAML says keys are unique);
- nesting deeper than `MAX_DEPTH`, counted through aliases;
- aliases that would add more than `MAX_ALIAS_NODES` nodes when expanded, or
  an alias inside the node it names (a cycle);
- a date or time that does not exist, and an integer too long to convert;
- a file larger than `MAX_BYTES`.

Numbers follow YAML 1.2's core schema: `1e6`, `1e-3`, `.5` and `1.0e6` are
floats; `010` is ten, `0o10` eight, `0x1f` hex; `1:30` is text, not 90;
underscores in digits (`100_000`) are kept from YAML 1.1. Booleans stay YAML
1.1's (`yes`, `no`, `on`, `off` too) so that the schema can say which word
was read as a boolean.
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path
from typing import Any

import yaml
from yaml.constructor import ConstructorError
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from .errors import InputError, Problem

__all__ = ["MAX_ALIAS_NODES", "MAX_BYTES", "MAX_DEPTH", "check_regular_file", "dump_yaml", "flow_text", "load_yaml",
           "not_a_mapping", "not_utf8", "read_file_bytes", "read_yaml_file", "read_text_file"]

MAX_DEPTH = 64
"""Deepest nesting of mappings and sequences, aliases followed (a scenario needs about 8)."""
MAX_ALIAS_NODES = 10_000
"""Most nodes that aliases may add to a document when expanded (a scenario's own
anchors add a few dozen; a 'billion laughs' file adds 10^9)."""
MAX_BYTES = 8 << 20
"""Largest YAML file read, 8 MiB (the baseline scenario is 20 KB)."""

_INT, _FLOAT, _TIMESTAMP, _MERGE = (f"tag:yaml.org,2002:{t}" for t in ("int", "float", "timestamp", "merge"))

# YAML 1.2 core schema numbers (plus 1.1's underscores, one at a time between digits, as
# Python writes them: `1_`, `1__0` or `0x_1f` are not numbers, so the schema refuses them
# rather than reading 1, 10 or 31).
_DIGITS = r"[0-9](?:_?[0-9])*"
_INT_RE = re.compile(rf"^(?:[-+]?{_DIGITS}|0o[0-7](?:_?[0-7])*|0x[0-9a-fA-F](?:_?[0-9a-fA-F])*)$")
_FLOAT_RE = re.compile(rf"""^(?:[-+]?(?:{_DIGITS}\.(?:{_DIGITS})?|\.{_DIGITS})(?:[eE][-+]?[0-9]+)?
                            |[-+]?{_DIGITS}[eE][-+]?[0-9]+
                            |[-+]?\.(?:inf|Inf|INF)
                            |\.(?:nan|NaN|NAN))$""", re.VERBOSE)


class _NodeError(ConstructorError):
    """A constructor error that knows its node, so the report can name the path."""

    def __init__(self, node: Node, problem: str):
        super().__init__(None, None, problem, node.start_mark)
        self.node = node


class _Loader(yaml.SafeLoader):
    """SafeLoader with unique keys, bounded nesting and YAML 1.2 numbers."""

    def __init__(self, stream):
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent, index):
        # The composer recurses once per level: bound it before Python's stack does.
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                mark = self.peek_event().start_mark
                raise yaml.composer.ComposerError(None, None, f"nesting deeper than {MAX_DEPTH} levels", mark)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_object(self, node, deep=False):
        # PyYAML's constructors raise bare ValueError, KeyError or AttributeError on an explicit
        # tag they cannot honour (`!!float abc`, `!!bool maybe`, `!!timestamp x`).
        try:
            return super().construct_object(node, deep)
        except yaml.YAMLError:
            raise
        except (ValueError, TypeError, KeyError, AttributeError, IndexError, OverflowError):
            what = _show(node.value) if isinstance(node, ScalarNode) else "this node"
            raise _NodeError(node, f"cannot read {what} as {node.tag.rsplit(':', 1)[-1]}") from None

    def construct_mapping(self, node, deep=False):
        if isinstance(node, MappingNode):
            first: dict[Any, Node] = {}
            for key_node, _ in node.value:
                if key_node.tag == _MERGE:
                    continue  # `<<: *base` merges; keys written beside it override by design
                key = self.construct_object(key_node, deep=True)
                try:
                    seen = first.get(key)
                except TypeError:
                    continue  # unhashable: PyYAML reports it
                if seen is not None:
                    raise _NodeError(key_node, f"duplicate key {_show(key)} (first at line "
                                               f"{seen.start_mark.line + 1})")
                first[key] = key_node
        return super().construct_mapping(node, deep)

    def construct_yaml_int(self, node):
        text = self.construct_scalar(node).replace("_", "")
        sign = -1 if text.startswith("-") else 1
        digits = text.lstrip("+-")
        try:
            if digits.startswith("0o"):
                return sign * int(digits[2:], 8)
            if digits.startswith("0x"):
                return sign * int(digits[2:], 16)
            return sign * int(digits, 10)
        except ValueError:  # `!!int 1.5`, or more digits than Python converts (4,300)
            if len(digits) > 4000:
                raise _NodeError(node, f"integer with {len(digits):,} digits is too long") from None
            raise _NodeError(node, f"cannot read {_show(node.value)} as int") from None

    def construct_yaml_timestamp(self, node):
        try:
            return super().construct_yaml_timestamp(node)
        except (ValueError, OverflowError) as exc:
            raise _NodeError(node, f"{_show(node.value)} is not a date that exists ({exc})") from None


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag not in (_INT, _FLOAT)]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(_INT, _INT_RE, list("-+0123456789"))
_Loader.add_implicit_resolver(_FLOAT, _FLOAT_RE, list("-+0123456789."))
_Loader.add_constructor(_INT, _Loader.construct_yaml_int)
_Loader.add_constructor(_TIMESTAMP, _Loader.construct_yaml_timestamp)


class _Dumper(yaml.SafeDumper):
    """SafeDumper that writes what `_Loader` reads back: text that `_Loader` would read as a
    number (YAML 1.2's `1e6`, `0o17`, which PyYAML's YAML 1.1 writes plain) is quoted, and text
    holding a NEL, which a single-quoted scalar folds into a space, is double-quoted (`\\N`)."""

    def represent_str(self, data: str) -> ScalarNode:
        return self.represent_scalar("tag:yaml.org,2002:str", data, style='"' if "\x85" in data else None)


# PyYAML's own resolvers and `_Loader`'s numbers: text either would read as something else is
# quoted, so that the file reads back the same in sim and in another YAML 1.1 reader (`1:30`).
_Dumper.yaml_implicit_resolvers = {first: list(resolvers)
                                   for first, resolvers in yaml.SafeDumper.yaml_implicit_resolvers.items()}
_Dumper.add_implicit_resolver(_INT, _INT_RE, list("-+0123456789"))
_Dumper.add_implicit_resolver(_FLOAT, _FLOAT_RE, list("-+0123456789."))
_Dumper.add_representer(str, _Dumper.represent_str)


def dump_yaml(data: Any) -> str:
    """`data` as YAML text that `load_yaml` reads back to equal data: keys in their order,
    Unicode written as itself."""
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True)


def load_yaml(text: str, source: str) -> Any:
    """The data of YAML `text`; any problem is an `InputError` naming `source`, the
    line and, where known, the dotted path. An empty document is None."""
    try:
        loader = _Loader(text)  # the reader refuses control characters (a NUL) here
    except yaml.YAMLError as exc:
        raise InputError(_problem(source, exc, "")) from None
    try:
        try:
            node = loader.get_single_node()
            if node is None:
                return None
            paths = _check_graph(node, source)
            try:
                return loader.construct_document(node)
            except _NodeError as exc:
                raise InputError(_problem(source, exc, paths.get(id(exc.node), ""))) from None
        except yaml.YAMLError as exc:
            raise InputError(_problem(source, exc, "")) from None
    finally:
        loader.dispose()


def not_a_mapping(source: str, keys: str, data: Any) -> Problem:
    """The problem of a file whose YAML document should be a mapping of `keys` keys (scenario,
    sweep) and is not: said in YAML's words (an empty file, a list, text), not Python's."""
    if data is None:
        return Problem(source, "", f"is empty (or holds only comments); it must be a YAML mapping of {keys} keys")
    kind = "a list" if isinstance(data, list) else "text" if isinstance(data, str) else \
        "a boolean" if isinstance(data, bool) else "a number" if isinstance(data, (int, float)) else "a scalar"
    return Problem(source, "", f"must be a YAML mapping of {keys} keys, not {kind}", data, True)


def check_regular_file(path: str | Path, source: str | None = None) -> None:
    """An `InputError` unless `path` is a regular file (symlinks followed): opening a FIFO
    blocks until a writer comes, forever if none does, and a device never ends."""
    source = str(path) if source is None else source
    try:
        mode = os.stat(path).st_mode
    except OSError as exc:
        near = [f"{path}{ext}" for ext in (".yaml", ".yml") if os.path.isfile(f"{path}{ext}")]
        hint = f"; did you mean {near[0]}?" if isinstance(exc, FileNotFoundError) and near else ""
        raise InputError(Problem(source, "", f"cannot read file: {exc.strerror or exc}{hint}")) from None
    if not stat.S_ISREG(mode):
        kind = ("a directory" if stat.S_ISDIR(mode) else "a named pipe (FIFO)" if stat.S_ISFIFO(mode)
                else "a socket" if stat.S_ISSOCK(mode) else "a device")
        raise InputError(Problem(source, "", f"is {kind}, not a regular file: sim reads only files"))


def read_file_bytes(path: str | Path, source: str | None = None, limit: int = MAX_BYTES) -> bytes:
    """The bytes of a regular file of at most `limit` bytes; else an `InputError` (a FIFO or a
    device is refused before it is opened, a larger file after `limit` + 1 bytes are read)."""
    source = str(path) if source is None else source
    check_regular_file(path, source)
    try:
        with open(path, "rb") as fh:
            data = fh.read(limit + 1)
    except OSError as exc:
        raise InputError(Problem(source, "", f"cannot read file: {exc.strerror or exc}")) from None
    if len(data) > limit:
        raise InputError(Problem(source, "", f"is larger than {limit >> 20} MiB: not a file sim reads"))
    return data


def read_text_file(path: str | Path, source: str | None = None, limit: int = MAX_BYTES) -> str:
    """The UTF-8 text of a regular file of at most `limit` bytes; else an `InputError`."""
    source = str(path) if source is None else source
    data = read_file_bytes(path, source, limit)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(not_utf8(source, data, exc.start)) from None


def not_utf8(source: str, data: bytes, at: int, hint: str = "save it as UTF-8", lead: str = "") -> Problem:
    """The problem of a file whose byte `at` of `data` is not UTF-8: its line, the byte and
    its offset, and `hint` (saying the file is UTF-16 when it starts as UTF-16 does), after `lead`."""
    line = data[:at].count(b"\n") + 1
    utf16 = data[:2] in (b"\xff\xfe", b"\xfe\xff")
    return Problem(source, f"line {line}", f"{lead}byte {data[at]:#04x} is not UTF-8 text (offset {at}; "
                                           f"{'the file is UTF-16; ' if utf16 else ''}{hint})")


def read_yaml_file(path: str | Path, source: str | None = None) -> Any:
    """`load_yaml` of a file's text (see `read_text_file`)."""
    source = str(path) if source is None else source
    return load_yaml(read_text_file(path, source), source)


def _problem(source: str, exc: yaml.YAMLError, path: str) -> Problem:
    if isinstance(exc, yaml.reader.ReaderError) and isinstance(exc.character, int):
        return Problem(source, path, f"invalid YAML: the control character U+{exc.character:04X} "
                                     f"(character {exc.position + 1}) is not allowed in YAML text")
    mark = getattr(exc, "problem_mark", None)
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
    problem = getattr(exc, "problem", None) or str(exc)
    if isinstance(exc, _NodeError):
        return Problem(source, path, f"{where}{problem}")
    hint = next((h for pattern, h in _HINTS if re.search(pattern, problem)), None)
    if hint is None:
        return Problem(source, path, f"invalid YAML: {where}{problem}")
    return Problem(source, path, f"invalid YAML: {where}{hint} (the YAML reader: {problem})")


# PyYAML's words for the slips a first-time writer makes, in that writer's words.
_HINTS = (
    (r"found character '\\t'", "a tab; YAML indents with spaces only: replace the tab with spaces"),
    (r"expected <block end>, but found '<block (mapping|sequence) start>'",
     "this line is indented differently from the lines above it: the keys of one mapping, and the dashes of "
     "one list, start in the same column"),
    (r"expected <block end>, but found '<scalar>'",
     "text after a value: a quote closed early (in '...' write a quote inside as '', e.g. 'Abe''s'), or a "
     "line indented differently from the one above"),
    (r"expected <block end>, but found '\?'",
     "a key (name: ...) where a list item (- ...) was expected, or a line indented differently from the one above"),
    (r"mapping values are not allowed here",
     "a ':' where none was expected: quote text that holds ': ' (title: \"Will it: yes?\"), indent a key "
     "like the keys beside it, and check that the line above has its ':'"),
    (r"expected ',' or '\}'", "a {...} mapping not closed with } (or a comma missing between its entries)"),
    (r"expected ',' or '\]'", "a [...] list not closed with ] (or a comma missing between its items)"),
    (r"found unexpected end of stream", "the file ends inside a quoted text, a {...} or a [...]: a quote or "
     "bracket is not closed"),
    (r"could not find expected ':'", "a line without its ':' (write key: value), or a quote not closed"),
    (r"found undefined alias", "* starts a reference to an &anchor in YAML: quote text that starts with *"),
    (r"found character '[%@`]' that cannot start any token", "a value cannot start with this character: quote "
     "it"),
)


def _check_graph(root: Node, source: str) -> dict[int, str]:
    """Refuse a composed document whose aliases would expand past the bounds (or loop);
    return each node's dotted path (its first occurrence), for messages.

    PyYAML composes an alias as the very node it names, so the document is a graph:
    a node met a second time is an alias, adding its whole expanded subtree."""
    bound = MAX_ALIAS_NODES + 1  # sizes saturate here: one more is already too many
    size: dict[int, int] = {}  # nodes in the expanded subtree
    height: dict[int, int] = {}
    paths: dict[int, str] = {}
    open_nodes: set[int] = set()
    added = 0

    def refuse(node: Node, message: str, path: str):
        mark = node.start_mark
        raise InputError(Problem(source, path, f"line {mark.line + 1}, column {mark.column + 1}: {message}"))

    def visit(node: Node, depth: int, path: str) -> None:
        nonlocal added
        key = id(node)
        if key in open_nodes:
            refuse(node, "an alias refers to a node that contains it", path)
        if key in size:  # an alias
            added += size[key]
            if added > MAX_ALIAS_NODES:
                refuse(node, f"aliases would expand the document by more than {MAX_ALIAS_NODES:,} nodes", path)
            if depth + height[key] > MAX_DEPTH:
                refuse(node, f"aliases nest deeper than {MAX_DEPTH} levels", path)
            return
        if depth > MAX_DEPTH:
            refuse(node, f"nesting deeper than {MAX_DEPTH} levels", path)
        paths[key] = path
        if isinstance(node, ScalarNode):
            size[key], height[key] = 1, 0
            return
        open_nodes.add(key)
        if isinstance(node, SequenceNode):
            children = [(child, _join(path, str(k))) for k, child in enumerate(node.value)]
        else:
            children = []
            for k, v in node.value:
                label = k.value if isinstance(k, ScalarNode) else "?"
                children += [(k, _join(path, label)), (v, _join(path, label))]
        total, tallest = 1, 0
        for child, child_path in children:
            visit(child, depth + 1, child_path)
            total = min(bound, total + size[id(child)])
            tallest = max(tallest, height[id(child)] + 1)
        open_nodes.discard(key)
        size[key], height[key] = total, tallest

    visit(root, 0, "")
    return paths


def flow_text(value: Any) -> str:
    """A value `load_yaml` read, written back on one line as YAML that reads as the same value
    (`{dist: beta, mean: 0.8, sd: 0.05}`): the VALUE of a `--set PATH=VALUE` that a result's
    command line gives again. Text is double-quoted, so that `"1e6"` or `"yes"` stays text."""
    import datetime as dt
    import json

    if isinstance(value, dict):
        return "{" + ", ".join(f"{_flow_key(k)}: {flow_text(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(flow_text(v) for v in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, int):
        return str(value)
    return json.dumps(str(value))


def _flow_key(key: Any) -> str:
    return key if isinstance(key, str) and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key) else flow_text(key)


def _join(path: str, part: str) -> str:
    return f"{path}.{part}" if path else part


def _show(value: Any) -> str:
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= 60 else text[:57] + "..."

