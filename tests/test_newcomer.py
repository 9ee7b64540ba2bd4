"""A first-time writer's slips, from a walk through the README: each error line says what to
write instead, and what sim writes is named so that it can be found again."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sim.cli import main

ROOT = Path(__file__).resolve().parents[1]
SMALL = ROOT / "tests" / "data" / "small.yaml"


def bad(tmp_path: Path, old: str, new: str) -> Path:
    text = SMALL.read_text(encoding="utf-8")
    assert old in text, old
    path = tmp_path / "bad.yaml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


def errors(capsys) -> list[str]:
    return [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]


@pytest.mark.parametrize("old, new, line", [
    ("land: {position: 1.0, salience: 0.7}", "land: {position: 1.0, salinece: 0.7}",
     "agents.north.issues.land.salinece: unknown key; did you mean salience? (got 0.7)"),
    ("capability: 2.0", "capabilty: 2.0", "agents.patron.capabilty: unknown key; did you mean capability?"),
    ("resolve: 0.9", "resolve: 0.9\n    walkaway: 0.1", "agents.patron.walkaway: unknown key; did you mean walk_away?"),
    ("cancellation:", "cancelation:", "summit.cancelation: unknown key; did you mean cancellation?"),
    ("probability: 0.8", "probabilty: 0.8", "events.0.probabilty: event talks: unknown key; did you mean probability?"),
    ("sd: 0.1}", "sdd: 0.1}", "agents.north.resolve.sdd: unknown key; did you mean sd?"),
    ("initial: {dist", "intial: {dist", "relations.trust.intial: unknown key; did you mean initial?"),
    ("monte_carlo:", "montecarlo:", "montecarlo: unknown key; did you mean monte_carlo?"),
    ("{issue: land, at_least: 1.0}", "{issue: land, atleast: 1.0}", "atleast: unknown key; did you mean at_least?"),
])
def test_a_misspelt_key_is_named_with_the_field_it_was_meant_to_be(tmp_path, capsys, old, new, line):
    """A key one slip from a field allowed at that place gets "did you mean": the writer is told
    which field, not only that theirs is unknown."""
    path = bad(tmp_path, old, new)
    assert main(["validate", str(path)]) == 2
    assert any(line in err for err in errors(capsys)), errors(capsys)


@pytest.mark.parametrize("cls", ["talk_fest", "collapse"])
def test_a_class_no_condition_defines_is_told_what_it_is(tmp_path, capsys, cls):
    """`outcome:` defines breakthrough and substantive; a writer who sees four classes and writes a
    talk fest's or a collapse's conditions is told what those two are, not only "unknown key"."""
    path = bad(tmp_path, "outcome:\n", f"outcome:\n  {cls}: [{{issue: land, at_least: 0.0}}]\n")
    assert main(["validate", str(path)]) == 2
    assert errors(capsys) == [
        f"error: {path}: outcome.{cls}: unknown key; outcome: takes only breakthrough and substantive: a deal that "
        "meets neither is a talk fest, and a collapse is the meeting called off (a cancellation, or trust below "
        "summit.cancellation.trust_below) (got [{'issue': 'land', 'at_least': 0.0}])"]


def test_a_key_far_from_every_field_gets_no_guess(tmp_path, capsys):
    path = bad(tmp_path, "name: small", "name: small\nbogus: 1")
    assert main(["validate", str(path)]) == 2
    assert errors(capsys) == [f"error: {path}: bogus: unknown key (got 1)"]


def test_a_stance_one_indentation_too_far_left_is_told_where_it_belongs(tmp_path, capsys):
    """An issue's stance written beside the agent's `issues:` instead of under it: "unknown key (got
    {...})" did not say that it belongs to the agent's issues."""
    text = SMALL.read_text(encoding="utf-8")
    old = "    issues:\n      land: {position: 1.0, salience: 0.7}\n"
    assert old in text
    path = tmp_path / "bad.yaml"
    path.write_text(text.replace(old, "    land: {position: 1.0, salience: 0.7}\n    issues:\n", 1), encoding="utf-8")
    assert main(["validate", str(path)]) == 2
    assert (f"error: {path}: agents.north.land: unknown key; is it one of the issues? indent it under "
            "agents.north.issues (got {'position': 1.0, 'salience': 0.7})") in errors(capsys)


@pytest.mark.parametrize("old, new, path", [
    ("status_quo: 0.0}\n  trade", "status_quo: none}\n  trade", "issues.land.status_quo"),
    ("{issue: land, at_least: 1.0}", "{issue: land, at_least: all}", "outcome.breakthrough.0.at_least"),
])
def test_an_anchors_name_where_its_value_is_wanted_says_to_write_the_number(tmp_path, capsys, old, new, path):
    """`status_quo: none` (the anchor's name): not pydantic's "unable to parse string as a number"."""
    file = bad(tmp_path, old, new)
    assert main(["validate", str(file)]) == 2
    (line,) = errors(capsys)
    assert f"{path}: must be a number (the value of one of the issue's anchors, not its name)" in line
    assert "parse string" not in line


def test_a_list_written_without_brackets_says_how_to_write_one(tmp_path, capsys):
    file = bad(tmp_path, "parties: [north, south]", "parties: north, south")
    assert main(["validate", str(file)]) == 2
    assert errors(capsys) == [f"error: {file}: summit.parties: must be a list in brackets, [a, b, ...] "
                              "(got 'north, south')"]


def test_a_text_where_a_count_is_wanted_says_a_whole_number(tmp_path, capsys):
    file = bad(tmp_path, "runs: 4000", "runs: lots")
    assert main(["validate", str(file)]) == 2
    assert errors(capsys) == [f"error: {file}: monte_carlo.runs: must be a whole number (got 'lots')"]


@pytest.mark.parametrize("old, new, line, words", [
    ("    resolve: 0.9\n", "   resolve: 0.9\n", 22, "indented differently from the lines above"),
    ("name: small", "name: small\ntitle: Will it: yes?", 3, "quote text that holds ': '"),
    ("    capability: 2.0\n", "\tcapability: 2.0\n", 21, "a tab; YAML indents with spaces only"),
    ('source: "made up for tests"', "source: 'Abe's statement'", 37, "a quote closed early"),
    ("parties: [north, south]", "parties: [north, south", 31, "a [...] list not closed with ]"),
])
def test_a_yaml_slip_is_explained_in_a_writers_words_at_its_line(tmp_path, capsys, old, new, line, words):
    """PyYAML's "expected <block end>, but found '<block mapping start>'" is kept, after what it means."""
    file = bad(tmp_path, old, new)
    assert main(["validate", str(file)]) == 2
    (err,) = errors(capsys)
    assert f"invalid YAML: line {line}," in err and words in err and "(the YAML reader: " in err, err


def test_set_of_an_unknown_agent_lists_the_agents(tmp_path, capsys):
    """As `sweep --vary` does: `--set agents.nort.resolve=0.5` names the agents there are, and
    the one a slip away, as a misspelt last part gets its field."""
    assert main(["run", str(SMALL), "--runs", "1024", "--set", "agents.nort.resolve=0.5",
                 "--out", str(tmp_path / "r")]) == 2
    assert errors(capsys) == ["error: --set: agents.nort.resolve: no such field in "
                              f"{SMALL}; under agents: north, south, patron; did you mean north? (got 'nort')"]
    assert not (tmp_path / "r").exists()


def test_vary_of_an_unknown_field_lists_neither_a_retired_field_nor_a_far_one(tmp_path, capsys):
    """`sweep --vary agents.nort.resolve` gets the agent a slip away; `agents.north.resolv`, whose
    fields the sweep lists with their defaults filled in, does not list `reservation`, no longer
    used (varying it would change nothing), and a far slip gets no guess."""
    argv = ["sweep", str(SMALL), "--runs", "256", "--out", str(tmp_path / "s"), "--vary"]
    assert main([*argv, "agents.nort.resolve=0.1:0.5:2"]) == 2
    (err,) = errors(capsys)
    assert err.endswith("under agents: north, south, patron; did you mean north?"), err
    assert main([*argv, "agents.north.resolv=0.1:0.5:2"]) == 2
    (err,) = errors(capsys)
    assert "reservation" not in err and "walk_away" in err and err.endswith("did you mean resolve?"), err
    assert main([*argv, "agents.zzz.resolve=0.1:0.5:2"]) == 2
    assert "did you mean" not in errors(capsys)[0]
    assert not (tmp_path / "s").exists()


@pytest.mark.parametrize("command", [["run", str(SMALL), "--runs", "1024", "--set", "{}=0.5"],
                                     ["sweep", str(SMALL), "--runs", "256", "--vary", "{}=0.1:0.5:2"]])
def test_a_list_item_without_a_name_named_by_its_agent_is_told_its_index(tmp_path, capsys, command):
    """A mediator or an alliance has an `agent`, not a `name`: `relations.alliances.north.pull`
    (what a writer who read "list items by name" tries) is told which index is north's, not
    only "under relations.alliances: 0"."""
    path = "relations.alliances.north.pull"
    option = "--set" if command[0] == "run" else f"--vary {path}=0.1:0.5:2"
    argv = [part.format(path) for part in command]
    assert main([*argv, "--out", str(tmp_path / "r")]) == 2
    assert errors(capsys) == [f"error: {option}: {path}: no such field in {SMALL}; under relations.alliances: 0 "
                              "(0 is the item of agent north: items without a name go by their index) (got 'north')"
                              if command[0] == "run" else
                              f"error: {option}: {path}: no such field in {SMALL}; under relations.alliances: 0 "
                              "(0 is the item of agent north: items without a name go by their index)"]
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize("command", [["compare", str(SMALL), str(SMALL)], ["explain", str(SMALL)]])
def test_a_default_result_directorys_run_id_is_its_name(tmp_path, capsys, monkeypatch, command):
    """`results/compare/<run-id>`: the manifest (and so the report's "run id") gives the same id
    as the directory's name, not a second one."""
    monkeypatch.chdir(tmp_path)
    assert main([*command, "--runs", "1024", "--quiet"]) == 0
    (out,) = (tmp_path / "results" / command[0]).iterdir()
    assert json.loads((out / ".sim-manifest.json").read_text())["run_id"] == out.name


def test_report_of_a_folder_of_results_names_one_of_them(tmp_path, capsys, monkeypatch):
    """`sim report results/small` (the scenario's folder, not one run) says which directory to give."""
    monkeypatch.chdir(tmp_path)
    assert main(["run", str(SMALL), "--runs", "1024", "--quiet"]) == 0
    (run,) = (tmp_path / "results" / "small").iterdir()
    capsys.readouterr()
    assert main(["report", "results/small"]) == 2
    assert errors(capsys) == ["error: results/small: is not a sim result directory (no valid .sim-manifest.json); "
                              f"it holds 1 result directory: name one, e.g. the newest, results/small/{run.name}"]


def test_a_set_block_naming_an_unknown_agent_lists_the_agents(tmp_path, capsys):
    """A counterfactual's `set: {agents.nort.resolve: ...}` gets the same list as `--set`."""
    (tmp_path / "base.yaml").write_text(SMALL.read_text(encoding="utf-8"), encoding="utf-8")
    derived = tmp_path / "cf.yaml"
    derived.write_text("extends: base.yaml\nname: cf\nset: {agents.nort.resolve: 0.3}\n", encoding="utf-8")
    assert main(["validate", str(derived)]) == 2
    assert errors(capsys) == [f"error: {derived}: set.agents.nort.resolve: no such field in the scenario it extends; "
                              "under agents: north, south, patron; did you mean north? (got 'nort')"]


def test_a_sweep_whose_points_all_agree_says_so(tmp_path, capsys):
    """Identical rows read like a `--vary` that did not take: one line says the forecast does not move."""
    assert main(["sweep", str(SMALL), "--vary", "agents.patron.walk_away=0:0.1:2", "--runs", "1024",
                 "--out", str(tmp_path / "w")]) == 0
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if line.startswith("│")]
    assert len(rows) == 2 and rows[0].split("│")[2:] == rows[1].split("│")[2:]
    assert ("every point gave the same count of every class: on these replicates the forecast does not move "
            "with agents.patron.walk_away over these values") in out
    assert main(["sweep", str(SMALL), "--vary", "summit.bargaining.margin=0:0.5:2", "--runs", "1024",
                 "--out", str(tmp_path / "m")]) == 0
    assert "every point gave the same count" not in capsys.readouterr().out


def test_report_out_naming_a_folder_says_to_name_the_page(tmp_path, capsys):
    """`sim report RUN --out mydir` (a folder of one's own): name a file in it, not "not a file sim wrote"."""
    run, folder = tmp_path / "run", tmp_path / "mydir"
    folder.mkdir()
    assert main(["run", str(SMALL), "--runs", "1024", "--out", str(run), "--quiet"]) == 0
    assert main(["report", str(run), "--out", str(folder)]) == 2
    assert errors(capsys) == [f"error: --out: is a directory; --out names the file to write, such as "
                              f"{folder / 'report.html'} (got '{folder}')"]
    assert list(folder.iterdir()) == []


def test_a_scenario_named_without_its_yaml_ending_is_found_for_the_writer(tmp_path, capsys, monkeypatch):
    """`sim run trilateral` where trilateral.yaml exists: the error says which file was meant."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "small.yaml").write_text(SMALL.read_text(encoding="utf-8"), encoding="utf-8")
    assert main(["validate", "small", "other"]) == 2
    assert errors(capsys) == ["error: small: cannot read file: No such file or directory; did you mean small.yaml?",
                              "error: other: cannot read file: No such file or directory"]


@pytest.mark.parametrize("old, new, line", [
    ("  land: {anchors: {none: 0.0, some: 0.5, all: 1.0}, status_quo: 0.0}\n",
     "  land:\n    anchors: {none: 0.0, some: 0.5, all: 1.0}\n  status_quo: 0.0\n",
     "issues.status_quo: is written as an issue of its own, but status_quo is a field of each issue: indent it "
     "under its issue, as far as the fields beside it (got 0.0)"),
    ("  patron:\n    capability: 2.0\n", "  capability: 2.0\n  patron:\n",
     "agents.capability: is written as an agent of its own, but capability is a field of each agent"),
])
def test_a_field_indented_one_level_too_far_left_is_named_as_such(tmp_path, capsys, old, new, line):
    """`status_quo:` dedented under `issues:` reads as an issue named status_quo: not "must be a mapping"."""
    file = bad(tmp_path, old, new)
    assert main(["validate", str(file)]) == 2
    assert any(line in err for err in errors(capsys)), errors(capsys)


def test_a_field_inside_a_set_distribution_is_blamed_on_the_option(tmp_path, capsys):
    """`--set 'agents.north.resolve={dist: beta, mean: 0.5, sd: 1e-9}'`: the sd's problem names
    `--set` beside the file, which never held that value."""
    assert main(["validate", str(SMALL)]) == 0
    capsys.readouterr()
    assert main(["run", str(SMALL), "--runs", "1024", "--out", str(tmp_path / "r"),
                 "--set", "agents.north.resolve={dist: beta, mean: 0.5, sd: 1e-9}"]) == 2
    assert errors(capsys) == [f"error: {SMALL} (--set): agents.north.resolve.sd: must be at least 1e-06 (got 1e-09)"]


@pytest.mark.parametrize("old, new, line", [
    ("all: 1.0}, status_quo", "all: 100}, status_quo",
     "issues.land.anchors.all: must be at most 1; levels, shares and probabilities are fractions: write 0.5, "
     "not 50 (got 100)"),
    ("monte_carlo: {", "dynamics: {engine: eumm}\nmonte_carlo: {",
     "dynamics.engine: must be 'convergence' or 'eum'; did you mean eum? (got 'eumm')"),
])
def test_a_bound_or_a_choice_is_said_in_the_files_words(tmp_path, capsys, old, new, line):
    """Not pydantic's "input should be less than or equal to 1": a percentage for a level says to
    write a fraction, and a misspelt choice is named."""
    file = bad(tmp_path, old, new)
    assert main(["validate", str(file)]) == 2
    assert errors(capsys) == [f"error: {file}: {line}"]


def test_an_events_problem_names_the_event_its_index_counts_from_zero(tmp_path, capsys):
    """`events.1.date` is the second event: the line names it, as the notes do."""
    text = SMALL.read_text(encoding="utf-8").replace("incidents:", (
        "  - name: walkout\n    date: 2020-06-01\n    source: \"made up\"\n"
        "    effects: [{target: trust, shift: -0.1}]\nincidents:"), 1)
    file = tmp_path / "bad.yaml"
    file.write_text(text, encoding="utf-8")
    assert main(["validate", str(file)]) == 2
    assert errors(capsys) == [f"error: {file}: events.1.date: event walkout: is after the latest summit date "
                              "(2020-04-01) (got '2020-06-01')"]


def test_a_missing_block_of_a_new_file_shows_what_it_looks_like(tmp_path, capsys):
    """Step 1 of "Writing your own summit" alone: each missing block's line shows its shape, and
    the examples are themselves valid (they make a scenario with the tutorial's agents)."""
    file = tmp_path / "step1.yaml"
    file.write_text('name: step1\ncalendar: {start: 2024-03-01, vantage: 2024-03-01}\n', encoding="utf-8")
    assert main(["validate", str(file)]) == 2
    lines = errors(capsys)
    assert [line.split(": ")[2] for line in lines] == ["issues", "agents", "relations", "summit", "outcome"]
    examples = {line.split(": ")[2]: line.partition("; e.g. ")[2].partition(" (")[0] for line in lines
                if "; e.g. " in line}
    assert set(examples) == {"issues", "relations", "summit", "outcome"}
    tutorial = (ROOT / "scenarios" / "tutorial" / "fisheries.yaml").read_text(encoding="utf-8")
    agents = tutorial[tutorial.index("agents:"):tutorial.index("relations:")]
    file.write_text("name: step1\ncalendar: {start: 2024-03-01, vantage: 2024-03-01}\n" + agents
                    + "\n".join(examples.values()) + "\n",
                    encoding="utf-8")
    assert main(["validate", str(file)]) == 0, errors(capsys)


@pytest.mark.parametrize("argv, hint", [
    (["--set", "agents.north.resolve", "0.5"], "write --set PATH=VALUE, with = and no space "
                                                "(e.g. --set agents.north.resolve=0.5)"),
    (["--runs", "1024", "extra"], None),
])
def test_a_space_for_the_equals_sign_of_set_is_named(tmp_path, capsys, argv, hint):
    """`--set agents.north.resolve 0.5` left 0.5 over: "unrecognized arguments: 0.5" alone did not say why."""
    assert main(["run", str(SMALL), *argv, "--out", str(tmp_path / "r")]) == 2
    (line,) = errors(capsys)
    assert line.startswith("error: sim run: unrecognized arguments: ")
    assert (hint in line) if hint else ("write" not in line)


@pytest.mark.parametrize("argv, words", [
    (["explain", str(SMALL), "--shapely"], "unrecognized arguments: --shapely; did you mean --shapley?"),
    (["compare", str(SMALL), str(SMALL), "--set_b", "x=1"], "unrecognized arguments: --set_b x=1; did you mean --set-b?"),
    (["eum", "actors.csv", "--salience_sd", "0.1"], "unrecognized arguments: --salience_sd 0.1; did you mean "
                                                    "--salience-sd?"),
    (["sweep", str(SMALL), "--desing", "sobol"], "unrecognized arguments: --desing sobol; did you mean --design?"),
    (["run", str(SMALL), "--runs", "1024", "--nonsense-option"], "unrecognized arguments: --nonsense-option"),
])
def test_a_misspelt_option_is_named_with_the_option_it_was_meant_to_be(capsys, argv, words):
    """A slip in an option's name (`--shapely`, `--set_b` with an underscore) is refused, with the
    command's own option it is closest to, as a misspelt key of a scenario is; an option far from
    every one gets no guess."""
    assert main(argv) == 2
    (line,) = errors(capsys)
    assert line == f"error: sim {argv[0]}: {words}", line


@pytest.mark.parametrize("command, hint", [
    ("explian", "; did you mean explain?"),
    ("sensitivity", "; sensitivity indices come from sweep: sim sweep SCENARIO --vary PATH=LO:HI ... --design "
                    "sobol (or morris) --points N"),
    ("sobol", "; sensitivity indices come from sweep: sim sweep SCENARIO --vary PATH=LO:HI ... --design "
              "sobol (or morris) --points N"),
    ("frobnicate", ""),
])
def test_a_command_that_is_not_one_is_named_with_the_one_it_was_meant_to_be(capsys, command, hint):
    """`sim explian` gets the command it is one slip from; `sim sensitivity` (a Sobol or Morris
    analysis, which sweep does) is told where that is; a word far from every command gets no guess."""
    assert main([command, str(SMALL)]) == 2
    (line,) = errors(capsys)
    assert line.startswith(f"error: sim: argument COMMAND: invalid choice: '{command}' (choose from ")
    assert line.endswith(")" + hint), line


def test_backtest_of_a_folder_that_is_not_there_says_so(tmp_path, capsys):
    assert main(["backtest", str(tmp_path / "nodir")]) == 2
    assert main(["backtest", str(SMALL)]) == 2
    assert errors(capsys) == [
        f"error: {tmp_path / 'nodir'}: does not exist; backtest and calibrate read a directory of scenarios",
        f"error: {SMALL}: is a file; name the folder that holds the cases, each a scenario with an observed: block"]
