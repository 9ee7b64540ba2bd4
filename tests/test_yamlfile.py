"""The safe YAML loader: unique keys, bounded aliases and nesting, YAML 1.2 numbers, real dates."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import pytest

from sim import InputError, load_scenario, parse_scenario
from sim.cli import main
from sim.yamlfile import MAX_BYTES, MAX_DEPTH, flow_text, load_yaml, read_yaml_file

SMALL = Path(__file__).parent / "data" / "small.yaml"

LAUGHS = "\n".join(
    ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    + [f"a{k}: &a{k} [{', '.join([f'*a{k - 1}'] * 9)}]" for k in range(1, 9)]
)


def error(text: str, source: str = "f.yaml") -> str:
    with pytest.raises(InputError) as info:
        load_yaml(text, source)
    (problem,) = info.value.problems
    return str(problem)


def test_a_duplicate_key_is_an_error_naming_its_path_and_both_lines():
    """`capability` written twice: an error at the second, naming the first line."""
    text = "agents:\n  russia:\n    capability: 1\n    resolve: 0.5\n    capability: 2\n"
    assert error(text) == ("f.yaml: agents.russia.capability: line 5, column 5: duplicate key 'capability' "
                           "(first at line 3)")


def test_a_duplicate_key_in_a_scenario_file_is_refused(tmp_path):
    """A scenario with a key twice does not validate with the last one silently winning."""
    path = tmp_path / "dup.yaml"
    path.write_text(SMALL.read_text().replace("name: small\n", "name: small\nname: other\n"))
    with pytest.raises(InputError, match="duplicate key 'name'"):
        load_scenario(path)


def test_merge_keys_and_modest_aliases_still_work():
    """`<<: *base` with an override, and an alias used twice, read as YAML says."""
    data = load_yaml("base: &b {x: 1, y: 2}\nd:\n  <<: *b\n  x: 3\ne: *b\n", "f")
    assert data == {"base": {"x": 1, "y": 2}, "d": {"x": 3, "y": 2}, "e": {"x": 1, "y": 2}}


def test_a_billion_laughs_is_refused_at_once():
    """351 bytes of nested aliases (10^9 strings once expanded) are refused in well under a second."""
    started = time.perf_counter()
    assert "aliases would expand the document by more than 10,000 nodes" in error(LAUGHS)
    assert time.perf_counter() - started < 1.0


def test_an_alias_inside_the_node_it_names_is_refused():
    """A recursive alias is an error, not a structure that loops for ever."""
    assert "an alias refers to a node that contains it" in error("a: &a [1, *a]\n")


@pytest.mark.parametrize("text", ["[" * 600 + "]" * 600, "{a: " * 600 + "1" + "}" * 600,
                                  "a:\n" + "".join(" " * k + "- \n" for k in range(1, 300))])
def test_deep_nesting_is_an_error_not_a_recursion_error(text):
    """Hundreds of nested brackets or blocks: one error line naming the depth limit."""
    assert f"deeper than {MAX_DEPTH} levels" in error(text)


def test_aliases_cannot_nest_past_the_depth_limit():
    """A chain of anchors, each wrapping the last, counts its depth through the aliases."""
    lines = ["a0: &a0 [1]"] + [f"a{k}: &a{k} [*a{k - 1}]" for k in range(1, 80)]
    assert "aliases nest deeper than" in error("\n".join(lines))


@pytest.mark.parametrize("text, value", [
    ("1e6", 1e6), ("1e-3", 1e-3), ("1.0e6", 1e6), ("-2.5E+2", -250.0), (".5", 0.5), ("1.", 1.0),
    ("010", 10), ("0o10", 8), ("0x1f", 31), ("100_000", 100_000), ("-7", -7), ("+3", 3),
    ("1:30", "1:30"), ("0b101", "0b101"), (".inf", float("inf")), ("true", True), ("no", False),
    ("2016-06-01", dt.date(2016, 6, 1)), ("1e400", float("inf")),
    ("1_000.25", 1000.25), ("0x1_f", 31),
    ("1_", "1_"), ("1__0", "1__0"), ("0x_1f", "0x_1f"), ("_1", "_1"), ("1._5", "1._5"),  # text, not 1, 10, 31
])
def test_numbers_follow_yaml_1_2(text, value):
    """YAML 1.2 core numbers (1e6 is a float, 010 is ten, 1:30 is text); YAML 1.1 booleans kept."""
    assert load_yaml(f"v: {text}\n", "f") == {"v": value}


@pytest.mark.parametrize("text", ["2016-02-30", "2015-02-29", "2016-13-01", "2016-00-10", "0000-01-01",
                                  "2016-06-01 25:00:00"])
def test_a_date_that_does_not_exist_is_one_error_line_with_its_line(text):
    """An impossible date names the field, the line and the date."""
    message = error(f"calendar:\n  start: {text}\n")
    assert message.startswith("f.yaml: calendar.start: line 2, column 10: ")
    assert "is not a date that exists" in message


def test_an_impossible_date_in_a_scenario_is_an_input_error(tmp_path, capsys):
    """`start: 2016-02-30` in a scenario: `validate` exits 2 with one line, no traceback."""
    path = tmp_path / "bad.yaml"
    path.write_text(SMALL.read_text().replace("start: 2020-01-01", "start: 2016-02-30"))
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "calendar.start" in err and "2016-02-30" in err


def test_an_integer_too_long_to_convert_is_an_input_error():
    """5,000 digits are refused with a message, not Python's ValueError."""
    assert "integer with 5,000 digits is too long" in error("v: " + "9" * 5000)


def test_a_file_larger_than_the_limit_is_not_read(tmp_path):
    """A scenario file over 8 MiB is refused before it is parsed."""
    path = tmp_path / "huge.yaml"
    path.write_bytes(b"# " + b"x" * MAX_BYTES + b"\n")
    with pytest.raises(InputError, match="is larger than 8 MiB"):
        read_yaml_file(path)


def test_set_values_go_through_the_same_loader(tmp_path, capsys):
    """`--set` VALUE is YAML read by the safe loader: an impossible date is an error line."""
    assert main(["run", str(SMALL), "--set", "calendar.start=2016-02-30", "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "--set: calendar.start: VALUE is not valid YAML" in err and "Traceback" not in err
    assert not (tmp_path / "o").exists()


def test_exponent_numbers_are_numbers_in_a_scenario():
    """`runs: 1e4` and `noise: 1e-3` validate as the numbers they say."""
    text = SMALL.read_text().replace("runs: 4000", "runs: 1e4") + "dynamics: {noise: 1e-3}\n"
    scenario = parse_scenario(text)
    assert scenario.monte_carlo.runs == 10_000 and scenario.dynamics.noise == 0.001


@pytest.mark.parametrize("char", ["\x00", "\x07", "\x1b"])
def test_a_control_character_is_an_input_error_not_a_reader_traceback(tmp_path, capsys, char):
    path = tmp_path / "nul.yaml"
    path.write_text(f"name: x{char}\n")
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {path}: invalid YAML: the control character U+{ord(char):04X}") and "Traceback" not in err


@pytest.mark.parametrize("data, line, byte, says", [
    (b"name: x\n# caf\xe9\n", 2, "0xe9", "save it as UTF-8"),
    ("name: x\n".encode("utf-16"), 1, "0xff", "the file is UTF-16"),
])
def test_a_file_not_in_utf8_names_the_line_and_the_byte(tmp_path, data, line, byte, says):
    """A scenario saved in Latin-1 or UTF-16: the error names the line and the byte, and the fix."""
    path = tmp_path / "s.yaml"
    path.write_bytes(data)
    with pytest.raises(InputError) as err:
        read_yaml_file(path)
    (problem,) = err.value.problems
    assert problem.path == f"line {line}" and f"byte {byte}" in problem.message and says in problem.message


@pytest.mark.parametrize("text", [
    "{dist: beta, mean: 0.8, sd: 0.05}", "[egypt, ethiopia]", "0.5", "1e-06", "100000", "2020-07-20",
    "'1e6'", "'yes'", "true", "null", "{a: [1, 2.5, {b: 'x y'}], 'odd key': '2020-07-20'}", "'it''s'",
])
def test_flow_text_reads_back_as_the_value_it_wrote(text):
    """flow_text writes a --set VALUE that load_yaml reads as the same value: a sweep's
    command line in the report gives its overrides again (text stays text, a date a date)."""
    value = load_yaml(text, "test")
    assert load_yaml(flow_text(value), "test") == value
    assert "\n" not in flow_text(value)
