"""`sim report` of a result directory whose files were hand-edited or damaged: one `error:`
line naming the file (and the field), exit 2, and no page written; never a traceback."""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_report import make_results

from sim.cli import main

KINDS = ("run", "explain", "compare", "sweep", "backtest", "calibrate")
SUMMARY = {"sweep": "sweep.json"}


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> dict[str, Path]:
    return make_results(tmp_path_factory.mktemp("results"), runs=1024)


def report(directory: Path, page: Path, capsys) -> tuple[int, str]:
    status = main(["report", str(directory), "--out", str(page), "--quiet"])
    return status, capsys.readouterr().err


def refused(status: int, err: str, page: Path, file: str) -> None:
    """Exit 2, one `error:` line naming `file`, and no page."""
    assert status == 2, err
    assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err, err
    assert file in err, err
    assert not page.exists()


def summary_of(kind: str) -> str:
    return SUMMARY.get(kind, "summary.json")


def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _random_bytes(path: Path) -> None:
    path.write_bytes(os.urandom(256))


def _empty(path: Path) -> None:
    path.write_bytes(b"")


DAMAGE = {"truncated": _truncate, "random bytes": _random_bytes, "empty": _empty}
FILES = [(kind, summary_of(kind)) for kind in KINDS] + [("run", "trajectory.parquet"), ("run", "replicates.parquet")]


@pytest.mark.parametrize("damage", DAMAGE)
@pytest.mark.parametrize(("kind", "name"), FILES)
def test_a_damaged_result_file_is_refused(results, tmp_path, capsys, kind, name, damage):
    """A summary or parquet file cut short, emptied or overwritten: refused, naming the file."""
    copy = tmp_path / kind
    shutil.copytree(results[kind], copy)
    DAMAGE[damage](copy / name)
    status, err = report(copy, tmp_path / "page.html", capsys)
    refused(status, err, tmp_path / "page.html", str(copy / name))
    if name.endswith(".parquet"):
        assert "not a parquet file" in err


def _set(data: dict, path: list, value) -> None:
    for key in path[:-1]:
        data = data[key]
    data[path[-1]] = value


def _delete(data: dict, path: list) -> None:
    for key in path[:-1]:
        data = data[key]
    del data[path[-1]]


EDITS = [  # (kind, path in the summary, new value or DELETE, the field named in the error)
    ("run", ["headline", "collapse", "p"], "x", "headline.collapse.p"),
    ("run", ["classes", "collapse"], "DELETE", "classes.collapse"),
    ("run", ["classes"], [], "classes"),
    ("run", ["runs"], "many", "runs"),
    ("run", ["inputs"], [3], "inputs.0"),
    ("explain", ["events", 0, "removed"], None, "events.0.removed"),
    ("compare", ["headline", "substantive_or_better", "diff"], {"x": 1}, "headline.substantive_or_better.diff"),
    ("compare", ["a"], "DELETE", "a"),
    ("sweep", ["factors", 0, "path"], "DELETE", "factors.0.path"),
    ("backtest", ["cases"], 7, "cases"),
    ("backtest", ["mean_scores", "model", "brier"], "low", "mean_scores.model.brier"),
    ("calibrate", ["calibration", "knobs", 0, "name"], "DELETE", "calibration.knobs.0.name"),
]


@pytest.mark.parametrize(("kind", "path", "value", "field"), EDITS, ids=[".".join(map(str, e[1])) for e in EDITS])
def test_a_hand_edited_summary_names_its_field(results, tmp_path, capsys, kind, path, value, field):
    """A key deleted or a value of the wrong type: refused, naming the file and the field."""
    copy = tmp_path / kind
    shutil.copytree(results[kind], copy)
    file = copy / summary_of(kind)
    data = json.loads(file.read_text(encoding="utf-8"))
    _delete(data, path) if value == "DELETE" else _set(data, path, value)
    file.write_text(json.dumps(data), encoding="utf-8")
    status, err = report(copy, tmp_path / "page.html", capsys)
    refused(status, err, tmp_path / "page.html", f"{file}: {field}: ")


def _leaves(data, path=()):
    """Every (path, value) of a JSON document, containers included."""
    yield path, data
    items = data.items() if isinstance(data, dict) else enumerate(data) if isinstance(data, list) else ()
    for key, value in items:
        yield from _leaves(value, (*path, key))


WRONG = st.one_of(st.none(), st.booleans(), st.integers(-10**30, 10**30), st.floats(),
                  st.text(st.characters(codec="ascii", categories=("L", "N", "P")), max_size=5),
                  st.just([]), st.just({}), st.lists(st.integers(), max_size=3),
                  st.dictionaries(st.text(max_size=3), st.integers(), max_size=2))


@settings(max_examples=int(os.environ.get("SIM_REPORT_EXAMPLES", "12")), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(kind=st.sampled_from(KINDS), data=st.data())
def test_any_edit_of_a_summary_is_a_page_or_one_error(results, capsys, kind, data):
    """Whatever field is deleted or replaced: a page (exit 0), or one `error:` line naming the
    summary and no page (exit 2); never a traceback."""
    original = json.loads((results[kind] / summary_of(kind)).read_text(encoding="utf-8"))
    paths = [p for p, _ in _leaves(original) if p]
    path = list(data.draw(st.sampled_from(paths), label="path"))
    value = data.draw(st.one_of(st.just("DELETE"), WRONG), label="value")
    with tempfile.TemporaryDirectory() as tmp:
        copy, page = Path(tmp) / kind, Path(tmp) / "page.html"
        shutil.copytree(results[kind], copy)
        edited = json.loads(json.dumps(original))
        _delete(edited, path) if value == "DELETE" else _set(edited, path, value)
        (copy / summary_of(kind)).write_text(json.dumps(edited), encoding="utf-8")
        status, err = report(copy, page, capsys)
        if status == 0:
            assert page.exists() and "Traceback" not in err
        else:
            refused(status, err, page, str(copy / summary_of(kind)))


def test_a_calibrated_backtest_is_reported(results, tmp_path, capsys):
    """A backtest run with --calibration (its summary's `calibration` is the posterior's file
    name, not a block) makes a page: its seed was read as a calibration block's and refused."""
    out = tmp_path / "backtest"
    posterior = results["calibrate"] / "posterior.json"
    assert main(["backtest", str(Path(__file__).parent / "data" / "cases"), "--runs", "256",
                 "--calibration", str(posterior), "--out", str(out), "--quiet"]) == 0
    capsys.readouterr()
    status, err = report(out, tmp_path / "page.html", capsys)
    assert status == 0, err
    assert (tmp_path / "page.html").exists()


@pytest.mark.parametrize("days, words", [
    ((10, 12, 20), "the summit was due between 2020-01-11 and 2020-01-21 in 90 % of the replicates (median "
                   "2020-01-13), whether it met or was called off"),
    ((10, 10, 10), "the summit was due on 2020-01-11 in at least 90 % of the replicates, whether it met or was "
                   "called off"),
])
def test_the_summit_window_reads_as_one_day_when_the_date_is_fixed(days, words):
    """The fan chart's caption gives a window of dates, or one date where the 90 % window is one day
    ("between 2020-01-11 and 2020-01-11" read as a mistake). The days are every replicate's, a
    collapse's too: "the summit met" there contradicted the page's own P(collapse)."""
    from types import SimpleNamespace

    from sim.report.page import _summit

    result = SimpleNamespace(summit_days=days, trajectory=[{"day": 0, "date": "2020-01-01"}])
    assert _summit(result) == words


def _page_text(page: Path) -> str:
    import html

    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page.read_text(encoding="utf-8"))).split())


def test_a_calibrated_explain_and_compare_say_so_and_are_made_again_calibrated(results, tmp_path, capsys):
    """explain and compare run with --calibration: the page says they are posterior
    predictive, and the command that makes them again carries --calibration (it was dropped,
    so the command gave other numbers)."""
    posterior = str(results["calibrate"] / "posterior.json")
    small = str(Path(__file__).parent / "data" / "small.yaml")
    for argv in (["explain", small], ["compare", small, small, "--set-b", "summit.bargaining.margin=0.1"]):
        assert main([*argv, "--runs", "256", "--calibration", posterior, "--out", str(tmp_path / argv[0]),
                     "--quiet"]) == 0
    capsys.readouterr()
    page = tmp_path / "page.html"
    assert main(["report", str(tmp_path / "explain"), str(tmp_path / "compare"), "--out", str(page), "--quiet"]) == 0
    text = _page_text(page)
    assert "Every run is posterior predictive: the knobs drawn from " + posterior in text
    assert "Both sides are posterior predictive, on the same knob draws, from " + posterior in text
    commands = [block.splitlines()[-1]  # after the `cd` to where the command ran
                for block in re.findall(r"<pre><code>(.*?)</code></pre>", page.read_text(encoding="utf-8"), re.DOTALL)]
    assert [c.split()[3] for c in commands] == ["explain", "compare"]
    assert all(c.endswith(f" --calibration {posterior}") for c in commands), commands


def test_every_figure_names_the_command_that_made_it(results, tmp_path):
    """Each figure's caption ends with the command of the directory it was drawn from."""
    from sim.report import make_report

    page = make_report([results[k] for k in KINDS], tmp_path / "all.html").read_text(encoding="utf-8")
    captions = re.findall(r"<figcaption>(.*?)</figcaption>", page, re.DOTALL)
    made = [re.search(r'From <code class="made">python -m sim (\w+) ', c) for c in captions]
    assert len(captions) >= len(KINDS) and all(made), captions
    assert {m.group(1) for m in made} == set(KINDS)


def test_an_interrupted_explain_or_compare_says_so(results, tmp_path):
    """An explain or compare cut short by Ctrl-C is marked on the page, as a run is."""
    from sim.report import make_report

    dirs = []
    for kind in ("explain", "compare"):
        copy = tmp_path / kind
        shutil.copytree(results[kind], copy)
        s = json.loads((copy / "summary.json").read_text(encoding="utf-8"))
        s.update(interrupted=True, requested_runs=4 * s["runs"])
        if kind == "explain":
            s["requested_shapley_runs"] = 2 * s["shapley"]["runs"]
        (copy / "summary.json").write_text(json.dumps(s), encoding="utf-8")
        dirs.append(copy)
    text = _page_text(make_report(dirs, tmp_path / "page.html"))
    assert text.count("Interrupted: ") == 2
    assert "replicates finished; the Shapley values over 256 of 512" in text
