"""Every number in a scenario file says where it comes from.

The rule (STYLE.md, "Comments and docs"): a number (an int or a float, not a
bool, a date or a quoted string) must carry a comment, which is one of:

- *beside*: a `# ...` at the end of the line the value starts on;
- *above*: a block of whole-line comments directly above the value (as
  `sim.report.comments` places them: a blank line between is allowed);
- *enclosing*: the beside or above comment of a mapping or list that holds it.
  A value written in flow style or as a distribution is one value, so
  `{dist: beta, mean: 0.6, sd: 0.1}  # [judgment] ...` covers its three numbers,
  and `alliances:  # [rule A4] the baseline's` covers every number of the list.

The comments are placed by `sim.report.comments.read_source`, the reader the
report uses to show a scenario's citations, so what the test accepts is what
the report prints beside the value. Whether a comment states a good reason is
left to review; the test only checks that no number goes without one.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from sim.report.comments import read_source

SCENARIOS = Path(__file__).resolve().parents[1] / "scenarios"

# Scored cases are frozen: their text must not change after they were scored
# (scenarios/history/README.md, "Protocol"), so no comment can be added to them
# now, and the history cases (and their knobs.yaml, whose grid `levels` carry
# none) leave many numbers uncommented: the values each case takes from the
# coding rules of scenarios/history/README.md (capability 1.0, saliences 0.6
# and 0.4 or 0.5, bounds [0.0, 0.5], weekly_recovery 0.02, trust_below 0.15).
# scenarios/later/ is frozen too but passes, so it stays checked.
FROZEN = ("history",)


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _numbers_in(value) -> bool:
    if isinstance(value, dict):
        return any(_numbers_in(v) for v in value.values())
    if isinstance(value, list):
        return any(_numbers_in(v) for v in value)
    return _is_number(value)


def _commented(row) -> bool:
    return bool(row.comment.beside.strip() or any(line.strip() for line in row.comment.above))


def uncommented_numbers(text: str) -> list[str]:
    """`path = value` of every value of YAML `text` holding a number with no comment on
    it or on a mapping or list enclosing it."""
    source = read_source(text)
    assert source.error is None, source.error
    out, enclosing = [], []  # enclosing[d]: is the group at depth d, or one holding it, commented?
    for row in source.rows:
        del enclosing[row.depth:]
        covered = _commented(row) or any(enclosing)
        if row.value is None:
            enclosing.append(covered)
        elif not covered and _numbers_in(row.raw):
            out.append(f"{row.path} = {row.value}")
    return out


def _scenario_files() -> list[Path]:
    return sorted(p for p in SCENARIOS.rglob("*.yaml")
                  if p.relative_to(SCENARIOS).parts[0] not in FROZEN)


def test_the_scenario_files_are_found():
    """The test reads the baseline, the counterfactuals, the examples, the tutorial, the sweeps and the later cases."""
    found = {p.relative_to(SCENARIOS).parts[0] for p in _scenario_files()}
    assert {"baseline.yaml", "counterfactuals", "examples", "tutorial", "sweeps", "later"} <= found


@pytest.mark.parametrize("path", _scenario_files(), ids=lambda p: str(p.relative_to(SCENARIOS)))
def test_every_number_of_a_scenario_file_carries_a_comment(path):
    """Each number of a scenario file has a comment beside it, above it, or on a mapping holding it."""
    missing = uncommented_numbers(path.read_text(encoding="utf-8"))
    assert not missing, f"{path.relative_to(SCENARIOS)}: numbers without a comment: {missing}"


def test_a_number_without_a_comment_is_found():
    """A number with no comment of its own and none on what holds it is reported, wherever it is."""
    text = (
        "rate: 0.1\n"
        "agents:\n"
        "  japan:\n"
        "    resolve: {dist: beta, mean: 0.45, sd: 0.08}\n"
        "    bounds: [0.0, 0.5]\n"
        "events:\n"
        "  - name: sochi\n"
        "    date: 2016-05-06\n"
        "    effects:\n"
        "      - {target: trust, shift: 0.08}\n"
        "# a comment at the end of the file covers nothing\n"
    )
    assert uncommented_numbers(text) == [
        "rate = 0.1",
        "agents.japan.resolve = beta(mean 0.45, sd 0.08)",
        "agents.japan.bounds = [0.0, 0.5]",
        "events.0.effects.0 = {target: trust, shift: 0.08}",
    ]


def test_a_comment_beside_above_or_on_an_enclosing_mapping_covers_a_number():
    """Beside, directly above, or on an enclosing mapping or list: each covers; text, dates and booleans need none."""
    text = (
        "name: example\n"
        "rate: 0.1   # [judgment] a tenth a week\n"
        "# [F] a sentence of the source\n"
        "resolve: {dist: beta, mean: 0.45, sd: 0.08}\n"
        "agents:     # [judgment] every number below\n"
        "  japan:\n"
        "    capability: 1.0\n"
        "start: 2016-05-01\n"
        "quiet: true\n"
        "label: '0.5'\n"
    )
    assert uncommented_numbers(text) == []


def test_a_comment_on_one_mapping_does_not_cover_its_sibling():
    """A comment covers what its mapping holds, not the next mapping at the same depth."""
    text = (
        "agents:\n"
        "  japan:   # [judgment]\n"
        "    capability: 1.0\n"
        "  russia:\n"
        "    capability: 1.2\n"
    )
    assert uncommented_numbers(text) == ["agents.russia.capability = 1.2"]
