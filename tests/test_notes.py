"""A command's `note:` and `warning:` lines are kept in the result it writes (`notes`), so that a
reader of the directory later sees what the command pointed out, and `sim report` shows them."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import small_dict

from sim.cli import main

RUNS = "1024"


def _eum_with_rate(tmp_path: Path) -> Path:
    """A scenario run under eum that gives a `dynamics.rate`, which eum never reads: one note."""
    data = small_dict()
    data["dynamics"] = {"engine": "eum", "rate": 0.3}
    path = tmp_path / "eum.yaml"
    path.write_text(json.dumps(data, default=str), encoding="utf-8")
    return path


def _err_notes(capsys) -> list[str]:
    return [line for line in capsys.readouterr().err.splitlines() if line.startswith(("note:", "warning:"))]


def test_every_summary_keeps_the_notes_the_command_printed(tmp_path, capsys):
    path = _eum_with_rate(tmp_path)
    commands = {
        "run": (["run", str(path)], "summary.json"),
        "compare": (["compare", str(path), str(path), "--set-b", "summit.bargaining.margin=0.1"], "summary.json"),
        "explain": (["explain", str(path)], "summary.json"),
        "sweep": (["sweep", str(path), "--vary", "dynamics.rate=0.1:0.3:2"], "sweep.json"),
    }
    for name, (argv, file) in commands.items():
        out = tmp_path / name
        assert main([*argv, "--runs", RUNS, "--seed", "1", "--out", str(out), "--quiet"]) == 0, name
        printed = _err_notes(capsys)
        assert any("dynamics.rate" in line for line in printed), (name, printed)  # the scenario's note at least
        assert json.loads((out / file).read_text())["notes"] == printed, name


def test_a_summary_of_a_command_that_said_nothing_has_an_empty_list(tmp_path, capsys):
    small = Path(__file__).parent / "data" / "small.yaml"
    out = tmp_path / "run"
    assert main(["run", str(small), "--runs", RUNS, "--seed", "1", "--out", str(out), "--quiet"]) == 0
    assert _err_notes(capsys) == []
    assert json.loads((out / "summary.json").read_text())["notes"] == []


def test_the_notes_of_one_command_are_not_those_of_the_next(tmp_path, capsys):
    """In one process (a notebook, the tests), each command keeps only its own lines."""
    noisy, quiet = _eum_with_rate(tmp_path), Path(__file__).parent / "data" / "small.yaml"
    for k, path in enumerate((noisy, quiet)):
        assert main(["run", str(path), "--runs", RUNS, "--out", str(tmp_path / str(k)), "--quiet"]) == 0
    capsys.readouterr()
    assert json.loads((tmp_path / "0" / "summary.json").read_text())["notes"]
    assert json.loads((tmp_path / "1" / "summary.json").read_text())["notes"] == []


def test_the_report_lists_a_results_notes_under_its_reproduction(tmp_path, capsys):
    path = _eum_with_rate(tmp_path)
    out = tmp_path / "run"
    assert main(["run", str(path), "--runs", RUNS, "--seed", "1", "--out", str(out), "--quiet"]) == 0
    (note,) = _err_notes(capsys)
    assert main(["report", str(out), "--out", str(tmp_path / "page.html")]) == 0
    page = (tmp_path / "page.html").read_text()
    reproduction = page[page.index('id="reproduction"'):]
    assert "What the command pointed out when it made this result" in reproduction
    assert f"<li>{_escaped(note)}</li>" in reproduction


def test_a_report_of_a_result_without_notes_says_nothing_of_them(tmp_path, capsys):
    """Results written before sim kept notes (no `notes` key), or with none, get no list."""
    small = Path(__file__).parent / "data" / "small.yaml"
    out = tmp_path / "run"
    assert main(["run", str(small), "--runs", RUNS, "--seed", "1", "--out", str(out), "--quiet"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    del summary["notes"]
    (out / "summary.json").write_text(json.dumps(summary))
    assert main(["report", str(out), "--out", str(tmp_path / "page.html")]) == 0
    assert "pointed out" not in (tmp_path / "page.html").read_text()


def _escaped(text: str) -> str:
    from markupsafe import escape  # as the page's template escapes

    return str(escape(text))


def test_a_note_names_the_file_that_wrote_the_field_as_an_error_does(tmp_path, capsys):
    """A note on a field a base file wrote names the base, not the counterfactual extending it,
    which does not mention the field; one on a field --set gave says so, as the errors do."""
    base = _eum_with_rate(tmp_path)
    derived = tmp_path / "cf" / "derived.yaml"
    derived.parent.mkdir()
    derived.write_text("extends: ../eum.yaml\nname: derived\n", encoding="utf-8")
    assert main(["validate", str(derived)]) == 0
    notes = _err_notes(capsys)
    assert notes == [line for line in notes if line.startswith(f"note: {base}: dynamics.rate: ")], notes
    small = Path(__file__).parent / "data" / "small.yaml"
    late = "agents.south.elections=[{name: vote, date: 2020-05-01, audience_cost: 0.2, window_days: 1}]"
    assert main(["run", str(small), "--set", late, "--runs", RUNS, "--out", str(tmp_path / "run"), "--quiet"]) == 0
    notes = _err_notes(capsys)
    assert len(notes) == 1 and notes[0].startswith(f"note: {small} (--set): agents.south.elections.0: "), notes
    assert "starts 1 day before the vote" in notes[0], notes
