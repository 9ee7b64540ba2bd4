"""A scenario file's comments, by the dotted path of the value they stand beside.

A scenario's comments are its citations (`# [F] "..."`, `# [judgment]`), so the
report carries them through. `ruamel.yaml` reads the file with its comments
and the line and column of every key and item; every comment it found is then
placed by position, not by where ruamel happened to hang it:

- *beside*: a comment at the end of a line belongs to the innermost value that
  starts on that line (`resolve: 0.7  # [F] ...` -> `agents.russia.resolve`);
- *above*: a block of whole-line comments belongs to the value on the line
  right below it (a blank line between is allowed) when it is indented no
  deeper than that value; before the first value it is the file's preamble;
- *below*: a block indented deeper than the value after it is a note on the
  value before it (a trailing remark inside a list).

Paths are dotted, list items by index (`events.3.effects.0`); an item of a
list of named mappings is also found as `events.<name>`. A value written on
one line in flow style (`{position: 0.8, salience: 0.02}`) or as a
distribution (`{dist: beta, ...}`) is one value: one row, one comment.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any

from ..schema.references import REFERENCES

__all__ = [
    "TEXT_FIELDS",
    "Comment",
    "Row",
    "SourceFile",
    "comments_by_path",
    "format_value",
    "read_source",
    "tags_of",
]

TEXT_FIELDS = frozenset({"name", "title", "description", "source", "extends", "include"})
"""Fields that name or describe rather than assume: shown, not counted as values."""
NAME_FIELDS = frozenset(field for _, field in REFERENCES) - {"agents", "weights"}
"""Fields whose text or list of texts names agents or issues (`summit.parties`, an alliance's
`agent:` and `patron:`, a trust entry's `between:`): shown, not counted as values. Who is allied
with whom is cited on the costs beside it; counted, the names read as uncited assumptions."""
_TAG = re.compile(r"\[([A-Za-z][A-Za-z0-9 .'-]{0,40})\]")


@dataclass(frozen=True)
class Comment:
    """The comments of one value: on its own line, in the block above it, in a deeper block below it."""

    beside: str = ""
    above: tuple[str, ...] = ()
    below: tuple[str, ...] = ()


@dataclass
class Row:
    """One value (or a group of values) of a scenario file, as the report lists it."""

    path: str
    depth: int
    value: str | None  # None for a group (a block mapping or list)
    comment: Comment = field(default_factory=Comment)
    distribution: bool = False
    label: str = ""  # the key, or the `name:` of a named list item
    raw: Any = field(default=None, repr=False, compare=False)  # an atom's parsed value (None for a group)


    @property
    def key(self) -> str:
        return self.path.rsplit(".", 1)[-1]

    @property
    def counted(self) -> bool:
        """A value the forecast assumes (not a group, not a name or description)."""
        return self.value is not None and self.key not in TEXT_FIELDS and not self.names

    @property
    def names(self) -> bool:
        """Whether the value only names agents or issues (`NAME_FIELDS`): a text or a list of them."""
        raw = self.raw
        return self.key in NAME_FIELDS and (isinstance(raw, str) or isinstance(raw, list) and
                                            all(isinstance(item, str) for item in raw))

    @property
    def tags(self) -> list[str]:
        return tags_of(self.comment.beside)

    @property
    def judgment(self) -> bool:
        return any(t.lower().startswith("judgment") for t in self.tags)


@dataclass
class SourceFile:
    """A scenario file read with its comments: the preamble, the rows in file order, and
    the comments that could not be placed beside any value (kept, never dropped)."""

    preamble: tuple[str, ...]
    rows: list[Row]
    loose: list[str]
    data: Any
    error: str | None = None

    def by_path(self) -> dict[str, Row]:
        return {row.path: row for row in self.rows}


def tags_of(text: str) -> list[str]:
    """The bracketed source marks of a comment: `[F]`, `[judgment]`, `[base rate]`."""
    return [m.group(1) for m in _TAG.finditer(text or "")]


def comments_by_path(text: str) -> dict[str, Comment]:
    """Every commented value of YAML `text`: {dotted path: Comment}, named list items
    also under `parent.<name>`."""
    source = read_source(text)
    out = {row.path: row.comment for row in source.rows if row.comment != Comment()}
    for alias, path in _aliases(source.data).items():
        if path in out and alias not in out:
            out[alias] = out[path]
    return out


def read_source(text: str) -> SourceFile:
    """Read YAML `text` with its comments (see the module's doc). A file ruamel cannot read
    gives no rows and its error."""
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    try:
        data = YAML(typ="rt", pure=True).load(text)
    except (YAMLError, ValueError) as exc:
        return SourceFile((), [], [], None, error=str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
    lines = text.splitlines()
    comments = _comment_lines([*_scanned(text), *_tokens(data)], lines)
    nodes: list[_Node] = []
    _walk(data, "", 0, nodes)
    source = _place(nodes, comments)
    source.data = data
    return source


# --- Where the comments are -------------------------------------------------------------------


@dataclass
class _Line:
    text: str  # without the `#` and surrounding space
    column: int
    whole: bool  # the only thing on its line


@dataclass
class _Node:
    path: str
    depth: int
    line: int
    column: int  # of the key, or of an item's dash
    atom: bool
    value: Any
    label: str


def _comment_lines(tokens: list, lines: list[str]) -> dict[int, _Line]:
    """{line: comment} of ruamel's comment tokens."""
    out: dict[int, _Line] = {}
    for token in tokens:
        pieces = token.value.split("\n")
        # A token that opens with the end of the line before it is marked by ruamel either on
        # that line or on the next one (a comment block after `key: value`): take the line
        # where the file has the comments.
        first = token.start_mark.line
        first = next((f for f in (first, first - 1) if _fits(pieces, f, lines)), first)
        for k, piece in enumerate(pieces):
            stripped = piece.strip()
            if not stripped.startswith("#"):
                continue
            line = first + k
            column = token.start_mark.column if k == 0 else len(piece) - len(piece.lstrip())
            before = lines[line][:column] if line < len(lines) else ""
            out.setdefault(line, _Line(stripped.lstrip("#").strip(), column, not before.strip()))
    return out


def _fits(pieces: list[str], first: int, lines: list[str]) -> bool:
    """Whether the comment pieces of a token stand in `lines` from line `first` on."""
    return all(0 <= first + k < len(lines) and piece.strip() in lines[first + k]
               for k, piece in enumerate(pieces) if piece.strip().startswith("#"))


def _scanned(text: str) -> list:
    """The comment tokens ruamel's round-trip scanner hangs on the tokens it reads: every
    comment of the file, those that loading then drops (inside a flow mapping) too."""
    from ruamel.yaml import YAML
    from ruamel.yaml.tokens import CommentToken

    out, stack = [], [getattr(t, "_comment", None) for t in YAML(typ="rt", pure=True).scan(text)]
    while stack:
        item = stack.pop()
        if isinstance(item, CommentToken):
            out.append(item)
        elif isinstance(item, (list, tuple)):
            stack.extend(item)
    return out


def _tokens(node: Any):
    """Every ruamel CommentToken under `node` (they hang on the collections' `.ca`)."""
    from ruamel.yaml.comments import CommentedMap, CommentedSeq
    from ruamel.yaml.tokens import CommentToken

    stack, seen = [node], set()
    while stack:
        item = stack.pop()
        if isinstance(item, CommentToken):
            yield item
        elif isinstance(item, list) and not isinstance(item, CommentedSeq):
            stack.extend(item)
        if isinstance(item, (CommentedMap, CommentedSeq)) and id(item) not in seen:
            seen.add(id(item))
            ca = item.ca
            stack.extend([ca.comment or [], list(ca.items.values()), getattr(ca, "end", None) or []])
            stack.extend(item.values() if isinstance(item, CommentedMap) else item)


def _walk(node: Any, path: str, depth: int, out: list[_Node]) -> None:
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    if isinstance(node, CommentedMap):
        for key, value in node.items():
            line, column = node.lc.key(key)
            _visit(f"{path}.{key}" if path else str(key), depth, line, column, value, out, str(key))
    elif isinstance(node, CommentedSeq):
        for k, value in enumerate(node):
            line, column = node.lc.item(k)
            dash = max(0, column - 2) if not node.fa.flow_style() else column
            name = value.get("name") if isinstance(value, dict) else None
            _visit(f"{path}.{k}" if path else str(k), depth, line, dash, value, out,
                   str(name) if isinstance(name, str) else str(k))


def _visit(path: str, depth: int, line: int, column: int, value: Any, out: list[_Node], label: str) -> None:
    atom = _is_atom(value)
    out.append(_Node(path, depth, line, column, atom, value, label))
    if not atom:
        _walk(value, path, depth + 1, out)


def _is_atom(value: Any) -> bool:
    """A value shown on one row: a scalar, a distribution, a list of scalars, anything in flow style."""
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    if isinstance(value, CommentedMap):
        return "dist" in value or value.fa.flow_style()
    if isinstance(value, CommentedSeq):
        return value.fa.flow_style() or all(not isinstance(v, (dict, list)) for v in value)
    return True


def _place(nodes: list[_Node], comments: dict[int, _Line]) -> SourceFile:
    beside: dict[int, list[str]] = {}
    above: dict[int, list[str]] = {}
    below: dict[int, list[str]] = {}
    preamble: list[str] = []
    loose: list[str] = []
    starts = {}
    for k, node in enumerate(nodes):
        starts.setdefault(node.line, []).append(k)
    for line in sorted(line for line, c in comments.items() if not c.whole):
        k = _innermost_at(nodes, starts, line)
        if k is None:
            loose.append(comments[line].text)
        else:
            beside.setdefault(k, []).append(comments[line].text)
    for block in _blocks(comments):
        texts = [comments[line].text for line in block]
        column = min(comments[line].column for line in block)
        after = next((k for k, n in enumerate(nodes) if n.line > block[-1]), None)
        before = next((k for k in range(len(nodes) - 1, -1, -1) if nodes[k].line < block[0]), None)
        if before is None:
            preamble.extend(texts)
        elif after is not None and column <= nodes[after].column:
            above.setdefault(after, []).extend(texts)
        elif before is not None:
            below.setdefault(_last_at_or_above(nodes, before, column), []).extend(texts)
        else:
            loose.extend(texts)
    rows = [Row(n.path, n.depth, format_value(n.value) if n.atom else None,
                Comment(" ".join(beside.get(k, [])), tuple(above.get(k, [])), tuple(below.get(k, []))),
                distribution=n.atom and _is_distribution(n.value), label=n.label,
                raw=n.value if n.atom else None)
            for k, n in enumerate(nodes)]
    return SourceFile(tuple(preamble), rows, loose, None)


def _innermost_at(nodes: list[_Node], starts: dict[int, list[int]], line: int) -> int | None:
    """The deepest row starting on `line`, else the last row starting before it (a value
    running over several lines)."""
    if line in starts:
        atoms = [k for k in starts[line] if nodes[k].atom]
        return min(atoms, key=lambda k: nodes[k].depth) if atoms else max(starts[line], key=lambda k: nodes[k].depth)
    earlier = [k for k, n in enumerate(nodes) if n.line < line]
    return earlier[-1] if earlier else None


def _last_at_or_above(nodes: list[_Node], k: int, column: int) -> int:
    """Row `k`, or the row it belongs to whose column is at most `column`."""
    while k > 0 and nodes[k].column > column:
        k -= 1
    return k


def _blocks(comments: dict[int, _Line]) -> list[list[int]]:
    """Runs of whole-line comments on consecutive lines, in one column."""
    blocks: list[list[int]] = []
    for line in sorted(line for line, c in comments.items() if c.whole):
        if blocks and blocks[-1][-1] == line - 1 and comments[blocks[-1][-1]].column == comments[line].column:
            blocks[-1].append(line)
        else:
            blocks.append([line])
    return blocks


def _aliases(data: Any, path: str = "") -> dict[str, str]:
    """`parent.<name>` -> `parent.<index>` for the items of lists of named mappings."""
    out: dict[str, str] = {}
    if isinstance(data, dict):
        for key, value in data.items():
            out.update(_aliases(value, f"{path}.{key}" if path else str(key)))
    elif isinstance(data, list):
        for k, value in enumerate(data):
            here = f"{path}.{k}" if path else str(k)
            if isinstance(value, dict) and isinstance(value.get("name"), str):
                out.setdefault(f"{path}.{value['name']}" if path else value["name"], here)
            out.update(_aliases(value, here))
    return out


# --- Values as text ---------------------------------------------------------------------------


def _is_distribution(value: Any) -> bool:
    if isinstance(value, dict):
        return "dist" in value or any(_is_distribution(v) for v in value.values())
    if isinstance(value, list):
        return any(_is_distribution(v) for v in value)
    return False


def format_value(value: Any) -> str:
    """A YAML value as a reader would write it: `beta(mean 0.45, sd 0.08)` for a distribution."""
    if isinstance(value, dict):
        if "dist" in value:
            rest = ", ".join(f"{k} {format_value(v)}" for k, v in value.items() if k != "dist")
            return f"{value['dist']}({rest})"
        return "{" + ", ".join(f"{k}: {format_value(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(format_value(v) for v in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, float):
        return repr(float(value))
    return str(value)
