"""`sim report`: the page of result directories, its comments carried through from the
scenario files, and the page itself checked in a real headless Chromium.

The browser is Debian's `chromium` (`.ci/run` installs it), driven through
Playwright's Python API with the system browser as `executable_path`; a machine
without it fails these tests, never skips them. Run as a script, this file
makes the README's screenshot of the baseline's page:

    python tests/test_report.py --screenshot docs/report.png
"""

from __future__ import annotations

import io
import itertools
import json
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

from sim.cli import main  # noqa: E402 (after the sys.path line above)
from sim.ownership import directory_owner, file_owner, read_manifest  # noqa: E402 (after the sys.path line above)
from sim.report import make_report  # noqa: E402 (after the sys.path line above)
from sim.report.comments import Comment, comments_by_path, read_source  # noqa: E402 (after the sys.path line above)

DATA = ROOT / "tests" / "data"
SMALL = DATA / "small.yaml"
CASES = DATA / "cases"
BASELINE = ROOT / "scenarios" / "baseline.yaml"
BROWSER_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--no-first-run", "--disable-default-apps", "--disable-extensions"]


# --- The browser (also used to make the README's screenshot) -------------------------------------


def chromium_path() -> str:
    """The system Chromium: $SIM_CHROMIUM, else `chromium` on the PATH; an error naming the fix otherwise."""
    found = os.environ.get("SIM_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        raise RuntimeError("no chromium on this machine: `apt-get install -y chromium` (.ci/run does)")
    return found


@dataclass
class Loaded:
    """What the browser saw of a page."""

    console: list[tuple[str, str]]
    errors: list[str]
    requests: list[str]
    facts: dict
    screenshot: bytes


FACTS = """() => {
  const box = e => { const r = e.getBoundingClientRect(); return [r.width, r.height]; };
  return {
    mode: document.compatMode,
    numbers: [...document.querySelectorAll('data[data-metric]')].map(e => ({
      run: e.dataset.run, metric: e.dataset.metric, stat: e.dataset.stat, value: e.value, text: e.textContent})),
    figures: [...document.querySelectorAll('svg, img')].map(e => ({
      tag: e.tagName, alt: e.getAttribute('alt'), size: box(e), complete: e.complete === undefined || e.complete,
      natural: e.naturalWidth || 0, src: (e.getAttribute('src') || '').slice(0, 26)})),
    figcaptions: [...document.querySelectorAll('figure')].map(f => !!f.querySelector('figcaption')),
    headings: [...document.querySelectorAll('h1, h2, h3, h4, h5, h6')].map(h => Number(h.tagName[1])),
    tables: [...document.querySelectorAll('table')].map(t => ({
      th: t.querySelectorAll('thead th[scope=col]').length, caption: !!t.querySelector('caption')})),
    scripts: document.querySelectorAll('script').length,
    text: document.body.innerText,
    ids: [...document.querySelectorAll('section[id], h2[id], h3[id]')].map(e => e.id),
    // what reaches past the body's text column (the page then scrolls sideways, and prints cut)
    wide: (() => {
      const body = document.body.getBoundingClientRect(), pad = parseFloat(getComputedStyle(document.body).paddingRight);
      return [...document.querySelectorAll('table, figure, pre, p')]
        .filter(e => e.getBoundingClientRect().right > body.right - pad + 0.5)
        .map(e => e.tagName + ': ' + (e.querySelector('caption, figcaption')?.textContent || '').slice(0, 60));
    })(),
    scroll: document.documentElement.scrollWidth - document.documentElement.clientWidth,
  };
}"""


def load_page(path: Path, screenshot: Path | None = None, full_page: bool = True,
              viewport: tuple[int, int] = (1200, 900), media: str | None = None) -> Loaded:
    """Open `path` in headless Chromium, recording its console, errors and every request;
    return what the page shows and a screenshot (PNG bytes; also written to `screenshot`).
    `media="print"` lays the page out as it prints."""
    from playwright.sync_api import sync_playwright

    console, errors, requests = [], [], []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), args=BROWSER_ARGS)
        try:
            page = browser.new_page(viewport={"width": viewport[0], "height": viewport[1]})
            page.on("console", lambda m: console.append((m.type, m.text)))
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("request", lambda r: requests.append(r.url))
            page.on("requestfailed", lambda r: errors.append(f"request failed: {r.url}"))
            if media:
                page.emulate_media(media=media)
            page.goto(path.resolve().as_uri(), wait_until="load")
            facts = page.evaluate(FACTS)
            shot = page.screenshot(full_page=full_page, path=None if screenshot is None else str(screenshot))
        finally:
            browser.close()
    return Loaded(console, errors, requests, facts, shot)


def distinct_colours(png: bytes) -> int:
    """How many distinct pixel values a PNG holds (a blank page has one or two)."""
    from PIL import Image

    with Image.open(io.BytesIO(png)) as im:
        colours = im.convert("RGB").getcolors(maxcolors=1 << 20)
    return len(colours) if colours is not None else 1 << 20


# --- Result directories to report on ------------------------------------------------------------


def make_results(root: Path, scenario: Path = SMALL, cases: Path = CASES, runs: int = 2048,
                 knobs: Path | None = CASES / "knobs.yaml") -> dict[str, Path]:
    """Run, explain, compare, sweep, backtest and calibrate into `root` (small and fast)."""
    out = {name: root / name for name in ("run", "explain", "compare", "sweep", "backtest", "calibrate")}
    commands = {
        "run": ["run", str(scenario), "--runs", str(runs), "--report"],
        "explain": ["explain", str(scenario), "--runs", str(runs // 2), "--shapley", "--shapley-runs", "256"],
        "compare": ["compare", str(scenario), str(scenario), "--set-b", "summit.bargaining.margin=0.1",
                    "--runs", str(runs // 2)],
        "sweep": ["sweep", str(scenario), "--vary", "summit.bargaining.margin=0:0.2:3", "--runs", str(runs // 4)],
        "backtest": ["backtest", str(cases), "--runs", str(runs // 4)],
        "calibrate": ["calibrate", str(cases), "--knobs", str(knobs)] if knobs else None,
    }
    for name, argv in commands.items():
        if argv is None:
            out.pop(name)
            continue
        assert main([*argv, "--out", str(out[name]), "--quiet"]) == 0, name
    return out


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> dict[str, Path]:
    return make_results(tmp_path_factory.mktemp("results"))


@pytest.fixture(scope="module")
def combined(results, tmp_path_factory) -> Path:
    page = tmp_path_factory.mktemp("page") / "combined.html"
    make_report([results[k] for k in ("backtest", "sweep", "explain", "run", "compare", "calibrate")], page)
    return page


# --- Comments carried through ----------------------------------------------------------------------


def test_baseline_comments_are_found_by_path():
    """The baseline's citations land on the values they stand beside, above or below."""
    c = comments_by_path(BASELINE.read_text(encoding="utf-8"))
    assert "no discernible shift" in c["agents.russia.resolve"].beside
    assert c["agents.japan.capability"].beside.startswith("[judgment]")
    assert "[base rate]" in c["summit.cancellation.base_probability"].beside
    assert c["events.0.effects.0"].beside == "[judgment] acknowledging the issue exists"
    assert "Reported in the article" in c["events.0"].above[0]
    assert c["events.peskov_sensitive_subject"] == c["events.0"]
    assert "not a salience shift" in c["events.7.effects.1"].below[0]
    assert c["outcome"].beside.startswith("the outcome classes (README")


def test_names_of_agents_and_issues_are_shown_not_counted_as_uncited_values():
    """The page counted `summit.parties: [japan, russia]`, an alliance's `agent:` and `patron:`
    and a trust entry's `between:` as values with no source: the baseline's "14 have none" were
    mostly names, whose claim is cited on the numbers beside them. A name of an agent or an issue
    is shown, not counted; every number still is."""
    rows = {row.path: row for row in read_source(BASELINE.read_text(encoding="utf-8")).rows}
    for path in ("summit.parties", "relations.alliances.0.agent", "relations.alliances.0.patron",
                 "relations.alliances.0.issues", "relations.trust.between"):
        assert not rows[path].counted, path
    for path in ("agents.japan.capability", "relations.trust.initial", "events.1.date", "dynamics.engine"):
        assert rows[path].counted, path
    weights = read_source("summit:\n  parties: [a, b]\n  weights: {a: 2, b: 1}  # [judgment]\n").rows
    assert [row.path for row in weights if row.counted] == ["summit.weights"]  # keyed by names, holds numbers


def test_no_comment_of_the_baseline_is_lost():
    """Every comment line of the baseline is placed: beside, above or below a value, or in the preamble."""
    text = BASELINE.read_text(encoding="utf-8")
    source = read_source(text)
    placed = set(source.preamble) | set(source.loose)
    for row in source.rows:
        placed |= {*row.comment.above, *row.comment.below}
        placed |= {row.comment.beside} if row.comment.beside else set()
    written = [line.partition("#")[2].strip() for line in text.splitlines() if "#" in line]
    missing = [w for w in written if w and not any(w in p for p in placed)]
    assert not missing and not source.loose


def test_awkward_comments_are_placed_or_kept():
    """A blank line, a quoted '#', a multi-line flow mapping and a trailing block keep their comments."""
    text = ("# preamble\n\nname: x   # the name\n"
            "# about a\n\na: {low: 1,  # first\n    high: 2}   # second\n"
            "b: \"not # a comment\"\n"
            "c:\n  - {shift: 1}  # [judgment] one\n    # a note on it\n"
            "  # about the second\n  - 2\n"
            "# at the very end\n")
    source = read_source(text)
    rows = source.by_path()
    assert source.preamble == ("preamble",)
    assert rows["name"].comment.beside == "the name"
    assert rows["a"].comment.above == ("about a",)
    assert "first" in rows["a"].comment.beside and "second" in rows["a"].comment.beside
    assert rows["b"].value == "not # a comment" and rows["b"].comment.beside == ""
    assert rows["c.0"].judgment and rows["c.0"].comment.below == ("a note on it",)
    assert rows["c.1"].comment.above == ("about the second",)
    assert "at the very end" in rows["c"].comment.below  # a trailing block: a note on the last top-level value


def test_a_comment_block_after_a_plain_value_lands_on_the_value_below_it():
    """A block of comments following `key: value` is placed above the next value, not one line lower
    (ruamel marks such a block on its first comment line while its text opens with the newline before)."""
    text = ("knobs:\n  - name: margin\n    kind: set\n    # [judgment] about the prior\n    # and more\n"
            "    prior: {low: 0.0, high: 0.2}\n    levels: 6\n"
            "issues:\n  a:\n    status_quo: 0.0\n    # a note on status_quo\n  b:\n    status_quo: 0.0\n")
    rows = read_source(text).by_path()
    assert rows["knobs.0.prior"].comment.above == ("[judgment] about the prior", "and more")
    assert rows["knobs.0.levels"].comment == rows["knobs.0.kind"].comment == Comment()
    assert rows["issues.a.status_quo"].comment.below == ("a note on status_quo",)
    assert rows["issues.b"].comment == Comment()


def _page_of_small_with(tmp_path: Path, comment: str) -> str:
    """The page of a run of small.yaml with `comment` written beside north's capability."""
    scenario = tmp_path / "s.yaml"
    scenario.write_text(SMALL.read_text(encoding="utf-8").replace(
        "    capability: 1.0\n    resolve: {dist: beta", f"    capability: 1.0{comment}\n    resolve: {{dist: beta", 1),
        encoding="utf-8")
    assert main(["run", str(scenario), "--runs", "256", "--out", str(tmp_path / "r"), "--quiet"]) == 0
    return make_report([tmp_path / "r"], tmp_path / "q.html").read_text(encoding="utf-8")


def test_judgments_are_counted_in_the_page(results, tmp_path):
    """The page counts the values marked [judgment] and flags each one."""
    page = make_report([results["run"]], tmp_path / "p.html").read_text(encoding="utf-8")
    assert "no comment" in page and "distribution" in page  # small.yaml cites nothing
    page = _page_of_small_with(tmp_path, "  # [judgment] the unit")
    assert "<strong>1 is marked [judgment]</strong>" in page  # not "1 are"
    assert '<span class="tag judgment">judgment</span>' in page and "[judgment] the unit" in page


def test_the_page_names_the_source_marks_the_scenario_uses(tmp_path):
    """The count of cited values gives the scenario's own marks as examples ([S2], as the examples'
    files cite), not the baseline's [F], which a scenario outside Japan-Russia never writes."""
    page = _page_of_small_with(tmp_path, '  # [S2] "equal partners"')
    assert "cite a source (marked [S2])" in page  # and the event's date, by its `source:`
    assert "[F]" not in page


def test_an_events_date_is_cited_by_its_source_sentence(results, tmp_path):
    """An event's date is what the sentence in its `source:` (which every event has) reports, so
    the page counts it as cited there, tagged "its source", not as a value with no comment. The
    event's other values (its probability, its effects' shifts) are not in the sentence: still
    uncited."""
    page = make_report([results["run"]], tmp_path / "p.html").read_text(encoding="utf-8")

    def row(path: str) -> str:
        start = page.index(f'<tr data-path="{path}"')
        return page[start:page.index("</tr>", start)]

    assert '<span class="tag">its source</span>' in row("events.0.date") and "no comment" not in row("events.0.date")
    assert "no comment" in row("events.0.probability") and "its source" not in row("events.0.probability")


def test_every_probability_of_an_explain_and_a_sweep_has_its_interval_on_the_page(results, tmp_path):
    """The page gives P with its 95 % interval wherever the command printed one: the explain's
    probabilities with all events and with none, and each sweep point's P(collapse)."""
    import csv

    from sim.reporting import fmt_estimate

    page = make_report([results["explain"], results["sweep"]], tmp_path / "p.html").read_text(encoding="utf-8")
    explained = json.loads((results["explain"] / "summary.json").read_text(encoding="utf-8"))
    shown = [explained["classes"][k] for k in ("substantive_or_better", "collapse")]
    for metric in explained["shapley"]["metrics"].values():
        shown += [metric["no_events"], metric["all_events"]]
    for e in shown:
        assert fmt_estimate(e["p"], e["low"], e["high"]) in page, e
    with open(results["sweep"] / "points.csv", encoding="utf-8") as f:
        points = list(csv.DictReader(f))
    for p in points:
        estimate = fmt_estimate(*(float(p[f"collapse_{k}"]) for k in ("p", "low", "high")))
        shown = "</span> <span>".join(estimate.split(" ", 1))  # the interval may wrap below the P
        assert f'<td class="num wrap"><span>{shown}</span></td>' in page, p


def test_the_page_names_an_explained_event_whose_removal_changed_no_replicate(tmp_path):
    """As explain's output does: an event that never fires reads +0 with an interval as wide as
    the replicates allow, which reads like a small measured effect; the page says it is not."""
    out = tmp_path / "e"
    assert main(["explain", str(SMALL), "--runs", "512", "--set", "events.talks.probability=0",
                 "--out", str(out)]) == 0
    page = make_report([out], tmp_path / "p.html").read_text(encoding="utf-8")
    assert "talks: removing it changed no replicate" in " ".join(page.split()), page
    assert "-0.0000" not in page and "+0.0000" not in page  # its figure and the figure's text say 0, as the table


# --- The command ------------------------------------------------------------------------------------


def test_run_report_is_in_the_directory_and_its_manifest(results):
    """`run --report` writes report.html into the run's directory, listed, so the directory stays sim's."""
    assert "report.html" in read_manifest(results["run"])["files"]
    assert directory_owner(results["run"]) == "run"
    summary = json.loads((results["run"] / "summary.json").read_text(encoding="utf-8"))
    page = (results["run"] / "report.html").read_text(encoding="utf-8")
    assert f'value="{summary["headline"]["substantive_or_better"]["p"]}"' in page


def test_a_page_that_cannot_be_made_does_not_cost_the_run(tmp_path, capsys, monkeypatch):
    """`run --report` whose page fails: the run is written whole (its manifest without the
    page), exit 0, and a warning says why there is no page."""
    import sim.report

    def broken(results, **kwargs):
        raise ValueError("no page today")

    monkeypatch.setattr(sim.report, "render_report", broken)
    out = tmp_path / "res"
    assert main(["run", str(SMALL), "--runs", "2048", "--out", str(out), "--report", "--quiet"]) == 0
    err = capsys.readouterr().err
    assert "warning: the report was not written: ValueError: no page today" in err and "Traceback" not in err
    assert not (out / "report.html").exists() and "report.html" not in read_manifest(out)["files"]
    assert json.loads((out / "summary.json").read_text(encoding="utf-8"))["runs"] == 2048


def test_report_prints_its_default_page_as_named_from_the_current_folder(results, tmp_path, capsys, monkeypatch):
    """As every command prints the paths it was given as typed: `report res/run` prints `res/run.html`,
    and `report .` run inside the directory `../run.html`, not an absolute path."""
    import shutil

    shutil.copytree(results["run"], tmp_path / "res" / "run")
    monkeypatch.chdir(tmp_path)
    assert main(["report", "res/run"]) == 0
    assert capsys.readouterr().out.strip() == "report: res/run.html"
    assert (tmp_path / "res" / "run.html").exists()
    monkeypatch.chdir(tmp_path / "res" / "run")
    assert main(["report", ".", "--force"]) == 0
    assert capsys.readouterr().out.strip() == "report: ../run.html"


def test_report_writes_its_own_page_and_no_other_file(results, tmp_path, capsys):
    """The page is sim's (its first line a manifest); a user's file, or a path inside a result, is refused."""
    page = tmp_path / "page.html"
    assert main(["report", str(results["run"]), "--out", str(page)]) == 0
    assert capsys.readouterr().out.strip() == f"report: {page}"
    assert file_owner(page) == "report"
    assert main(["report", str(results["run"]), str(results["explain"]), "--out", str(page), "--quiet"]) == 0
    mine = tmp_path / "mine.html"
    mine.write_text("<p>mine</p>", encoding="utf-8")
    for out in (mine, results["sweep"] / "page.html"):
        assert main(["report", str(results["run"]), "--out", str(out)]) == 2
        err = capsys.readouterr().err
        assert err.startswith("error: --out: ") and err.count("\n") == 1 and "Traceback" not in err
    assert mine.read_text(encoding="utf-8") == "<p>mine</p>"


def test_report_refuses_what_is_not_a_result(results, tmp_path, capsys):
    """A folder without a manifest, or a result without its summary, is one `error:` line each and exit 2."""
    plain = tmp_path / "plain"
    plain.mkdir()
    broken = tmp_path / "broken"
    shutil.copytree(results["explain"], broken)
    (broken / "summary.json").unlink()
    assert main(["report", str(plain), str(broken), str(tmp_path / "missing"), "--out", str(tmp_path / "x.html")]) == 2
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 3 and all(line.startswith("error: ") for line in lines)
    assert "not a sim result directory" in lines[0] and "has no summary.json" in lines[1]
    assert not (tmp_path / "x.html").exists()


def test_report_of_a_run_without_its_trajectory(results, tmp_path):
    """A run older than the fan chart's data still gives a page, which says what is missing;
    a run whose listed files were deleted since is not called older."""
    old = tmp_path / "old"
    shutil.copytree(results["run"], old)
    (old / "trajectory.parquet").unlink()
    page = make_report([old], tmp_path / "removed.html").read_text(encoding="utf-8")
    assert "No fan chart: trajectory.parquet is missing (removed since the run wrote it)" in page
    assert "the run is older" not in page
    manifest = json.loads((old / ".sim-manifest.json").read_text(encoding="utf-8"))
    manifest["files"].remove("trajectory.parquet")  # as written before runs kept the fan chart's data
    (old / ".sim-manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    page = make_report([old], tmp_path / "old.html").read_text(encoding="utf-8")
    assert "No fan chart" in page and "no trajectory.parquet: the run is older" in page


def test_a_source_that_ends_its_sentence_gets_no_second_full_stop(tmp_path):
    """The page's question line ends the scenario's `source:` with a full stop only where it has
    none: the examples' sources ("...; see the header.") read "see the header.", not "header.."."""
    sources = {"ends": "Written for the test.", "open": "Written for the test", "asks": "Will they sign?"}
    for name, source in sources.items():
        scenario = tmp_path / f"{name}.yaml"
        scenario.write_text(f"source: {json.dumps(source)}\n" + SMALL.read_text(encoding="utf-8"), encoding="utf-8")
        assert main(["run", str(scenario), "--runs", "1024", "--out", str(tmp_path / name), "--quiet"]) == 0
        page = make_report([tmp_path / name], tmp_path / f"{name}.html").read_text(encoding="utf-8")
        question = page[page.index('<p class="question">'):].split("</p>")[0]
        assert question.endswith(source if name != "open" else source + "."), question


def test_the_page_asks_the_question_the_run_answered_after_set(tmp_path):
    """A title or source changed by a counterfactual's `set:` or by `--set` is the page's
    question, as it is the run's (inputs/resolved.yaml), not the base file's words."""
    base = tmp_path / "base.yaml"
    base.write_text('title: "The base question"\nsource: "The base source"\n' + SMALL.read_text(encoding="utf-8"),
                    encoding="utf-8")
    derived = tmp_path / "derived.yaml"
    derived.write_text('extends: base.yaml\nname: derived\nset: {source: "The derived source"}\n', encoding="utf-8")
    out = tmp_path / "run"
    assert main(["run", str(derived), "--runs", "1024", "--set", "title=The set question", "--out", str(out),
                 "--quiet"]) == 0
    page = make_report([out], tmp_path / "page.html").read_text(encoding="utf-8")
    assert "<h1>The set question</h1>" in page and "<title>The set question" in page
    assert '<p class="question">Source: The derived source.</p>' in page


def test_a_deals_class_is_what_its_replicates_were_classed_when_the_rubric_asks_who_signed(tmp_path):
    """A rubric with `signed:` classes a package by who signed it, replicate by replicate:
    summary.json's deals and the page's deals table give the class the replicates that agreed it
    got, not the class it would have if every party signed (the menu's). Here the optional third
    party never signs a trade deal, so every deal is a talk fest, as the class table says."""
    out = tmp_path / "run"
    assert main(["run", str(SMALL), "--runs", "2048", "--set", "summit.parties=[north, south, patron]",
                 "--set", "summit.required=[north, south]",
                 "--set", "relations.trust={between: [north, south, patron], initial: 0.5}",
                 "--set", "outcome.substantive=[{all: [{issue: trade, at_least: 1.0}, {signed: [patron]}]}]",
                 "--out", str(out), "--quiet"]) == 0
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["classes"]["substantive"]["count"] == 0 and summary["deals"], summary["deals"]
    assert all(d["class"] == "talk_fest" and set(d["classes"]) == {"talk_fest"} for d in summary["deals"])
    menu = {m["package"]: m["class"] for m in summary["menu"]}
    assert any(menu[d["package"]] == "substantive" for d in summary["deals"])  # were the patron to sign
    page = make_report([out], tmp_path / "page.html").read_text(encoding="utf-8")
    deals = page[page.index('-deals">'):].split("</table>")[0]
    rows = [shown_text(r) for r in deals.split("<tr>")[2:]]
    assert rows and all(" Talk fest " in r and "Substantive" not in r for r in rows), rows


def test_a_package_classed_two_ways_shows_each_class_with_its_share(tmp_path):
    """Where an optional party signs a package in some replicates and not in others, its row
    names both classes with the share of the package's replicates in each."""
    from sim.report.page import deal_class

    assert deal_class({"class": "substantive", "classes": {"talk_fest": 10, "substantive": 30}}) == \
        "Substantive (0.750), talk fest (0.250)"
    assert deal_class({"class": "talk_fest", "classes": {"talk_fest": 4}}) == "Talk fest"
    assert deal_class({"class": "substantive"}) == "Substantive"  # a summary older than `classes`


def test_a_sweeps_reproduction_command_keeps_its_set_options_and_makes_the_same_points(tmp_path):
    """A sweep run with `--set` (or a spec's `set:`) is made again by the page's command only
    with those overrides: without them the command sweeps the file as written, other numbers."""
    import shlex

    from sim.report.collect import read_result
    from sim.report.page import command_of

    first = tmp_path / "first"
    assert main(["sweep", str(SMALL), "--set", "summit.cancellation.base_probability=0.5",
                 "--set", "agents.south.resolve={dist: beta, mean: 0.4, sd: 0.1}",
                 "--vary", "summit.bargaining.margin=0:0.1:2", "--runs", "1024", "--out", str(first), "--quiet"]) == 0
    command = command_of(read_result(first))
    assert "--set summit.cancellation.base_probability=0.5" in command, command
    argv = shlex.split(command)[3:]  # after `python -m sim`
    again = tmp_path / "again"
    assert main([*argv, "--out", str(again), "--quiet"]) == 0
    assert (again / "points.csv").read_text().splitlines()[1:] != []
    counts = [[line.split(",")[:8] for line in (d / "points.csv").read_text().splitlines()] for d in (first, again)]
    assert counts[0] == counts[1], counts


def _reproduction(page: Path) -> list[str]:
    """The lines of the page's first reproduction block, as a reader copies them."""
    import html
    import re

    return html.unescape(re.search(r"<pre><code>(.*?)</code></pre>", page.read_text(encoding="utf-8"),
                                   re.DOTALL).group(1)).splitlines()


def test_a_pages_reproduction_command_works_pasted_in_the_pages_folder(tmp_path, monkeypatch):
    """A run made in a project folder (its scenario named relative to it), reported from another
    folder into a third: the page's block, pasted in a shell in the page's folder, goes to the
    project with a relative `cd` and makes the same run there. The page `run --report` writes
    inside the run's directory says the same from there. (The command named the scenario from
    the project and the page gave no `cd`: pasted anywhere else, it named no file.) No path on
    the page is absolute where a relative one reaches: the scenario files' too."""
    import shlex

    project, notes = tmp_path / "me" / "project", tmp_path / "me" / "notes"
    (project / "scenarios").mkdir(parents=True)
    notes.mkdir()
    shutil.copy(SMALL, project / "scenarios" / "small.yaml")
    monkeypatch.chdir(project)
    assert main(["run", "scenarios/small.yaml", "--runs", "1024", "--seed", "3", "--out", "results/first", "--report",
                 "--quiet"]) == 0
    assert read_manifest(project / "results" / "first")["ran_in"] == "../.."
    monkeypatch.chdir(notes)
    assert main(["report", "../project/results/first", "--out", "pages/page.html", "--quiet"]) == 0
    for page, cd in ((notes / "pages" / "page.html", "cd ../../project"),
                     (project / "results" / "first" / "report.html", "cd ../..")):
        lines = _reproduction(page)
        assert lines == [cd, "python -m sim run scenarios/small.yaml --runs 1024 --seed 3"], (page, lines)
    text = (notes / "pages" / "page.html").read_text(encoding="utf-8")
    assert "<dd>../../project/results/first</dd>" in text.split('id="reproduction"')[1]
    assert "Scenario: <code>../../project/scenarios/small.yaml</code>" in text  # its assumptions' heading
    assert str(tmp_path) not in text
    cd, command = _reproduction(notes / "pages" / "page.html")
    monkeypatch.chdir(notes / "pages")
    monkeypatch.chdir(shlex.split(cd)[1])
    assert main([*shlex.split(command)[3:], "--out", "results/again", "--quiet"]) == 0
    first, again = (json.loads((project / "results" / d / "summary.json").read_text()) for d in ("first", "again"))
    assert again["scenario_hash"] == first["scenario_hash"] and again["classes"] == first["classes"]


def test_a_runs_inputs_name_no_folder_above_the_one_it_ran_in_and_move_with_it(tmp_path, monkeypatch):
    """summary.json names each scenario file the run read from the folder its command ran in (the
    manifest's `ran_in`): `scenarios/child.yaml`, not the user's home folder, which leaked into
    shared results. The project and its results moved whole, the page still names the files the
    run read (from the page's folder); a summary written before (absolute sources) still reads."""
    project = tmp_path / "me" / "project"
    (project / "scenarios").mkdir(parents=True)
    shutil.copy(SMALL, project / "scenarios" / "base.yaml")
    (project / "scenarios" / "child.yaml").write_text("extends: base.yaml\nname: child\n", encoding="utf-8")
    monkeypatch.chdir(project)
    assert main(["run", "scenarios/child.yaml", "--runs", "1024", "--out", "results/first", "--quiet"]) == 0
    text = (project / "results" / "first" / "summary.json").read_text(encoding="utf-8")
    assert [(i["source"], i["role"]) for i in json.loads(text)["inputs"]] == [
        ("scenarios/child.yaml", "scenario"), ("scenarios/base.yaml", "extends")]
    assert str(tmp_path) not in text
    moved = tmp_path / "elsewhere" / "project"
    moved.parent.mkdir()
    shutil.move(project, moved)
    monkeypatch.chdir(moved / "results")
    page = make_report([Path("first")], Path("page.html")).read_text(encoding="utf-8")
    assert "Scenario: <code>../scenarios/child.yaml</code>" in page and "<code>../scenarios/base.yaml</code>" in page
    summary = moved / "results" / "first" / "summary.json"
    old = json.loads(summary.read_text(encoding="utf-8"))
    for entry in old["inputs"]:
        entry["source"] = str(moved / entry["source"])
    summary.write_text(json.dumps(old), encoding="utf-8")
    page = make_report([Path("first")], Path("old.html")).read_text(encoding="utf-8")
    assert "Scenario: <code>../scenarios/child.yaml</code>" in page and "<code>../scenarios/base.yaml</code>" in page


def test_a_base_read_by_runs_made_in_two_folders_is_listed_once(tmp_path, monkeypatch):
    """Two runs extending one base, one made in the project (`scenarios/a.yaml`), one in its
    scenarios folder (`b.yaml`): their inputs name the base `scenarios/base.yaml` and `base.yaml`,
    one file, which the page lists once, as it did when every source was absolute."""
    project = tmp_path / "project"
    (project / "scenarios").mkdir(parents=True)
    shutil.copy(SMALL, project / "scenarios" / "base.yaml")
    for name in ("a", "b"):
        (project / "scenarios" / f"{name}.yaml").write_text(f"extends: base.yaml\nname: {name}\n", encoding="utf-8")
    monkeypatch.chdir(project)
    assert main(["run", "scenarios/a.yaml", "--runs", "256", "--out", "results/a", "--quiet"]) == 0
    monkeypatch.chdir(project / "scenarios")
    assert main(["run", "b.yaml", "--runs", "256", "--out", "../results/b", "--quiet"]) == 0
    page = make_report([project / "results" / "a", project / "results" / "b"], tmp_path / "page.html")
    text = page.read_text(encoding="utf-8")
    assert 'id="shared0"' in text and 'id="shared1"' not in text


def test_a_result_that_does_not_say_where_it_ran_gets_no_cd_but_a_warning(tmp_path):
    """A result made before manifests recorded `ran_in`: its command alone, and a line saying
    to run it from the folder it ran in, which the page cannot name."""
    out = tmp_path / "old"
    assert main(["run", str(SMALL), "--runs", "1024", "--seed", "3", "--out", str(out), "--quiet"]) == 0
    manifest = read_manifest(out)
    del manifest["ran_in"]
    (out / ".sim-manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    page = make_report([out], tmp_path / "page.html")
    assert _reproduction(page) == [f"python -m sim run {SMALL} --runs 1024 --seed 3"]
    assert "does not record the folder its command ran in" in page.read_text(encoding="utf-8")


def test_outcome_shades_differ_in_greyscale():
    """The outcome classes' colours differ in lightness, not only in hue (collapse is hatched too)."""
    from sim.report.figures import CLASS_HATCHES, CLASS_SHADES

    def grey(colour: str) -> float:
        r, g, b = (int(colour[k:k + 2], 16) for k in (1, 3, 5))
        return 0.299 * r + 0.587 * g + 0.114 * b

    shades = sorted(grey(c) for c in CLASS_SHADES.values())
    assert min(b - a for a, b in itertools.pairwise(shades)) >= 30
    assert CLASS_HATCHES["collapse"]


# --- In the browser -----------------------------------------------------------------------------


def check_loaded(loaded: Loaded, page: Path) -> None:
    """What every page must satisfy in the browser: offline, quiet, accessible, drawn."""
    assert not loaded.errors and not [m for m in loaded.console if m[0] in ("error", "warning")], loaded.console
    assert loaded.requests and all(u == page.resolve().as_uri() or u.startswith("data:") for u in loaded.requests)
    f = loaded.facts
    assert f["mode"] == "CSS1Compat" and f["scripts"] == 0  # standards mode, despite the manifest comment
    assert f["figures"] and all(fig["size"][0] > 50 and fig["size"][1] > 50 for fig in f["figures"])
    assert all(fig["alt"] and fig["natural"] > 0 and fig["src"].startswith("data:image/svg+xml") for fig in f["figures"])
    assert all(f["figcaptions"])
    h = f["headings"]
    assert h[0] == 1 and h.count(1) == 1 and all(b <= a + 1 for a, b in itertools.pairwise(h))
    assert f["tables"] and all(t["th"] > 0 and t["caption"] for t in f["tables"])
    assert not f["wide"] and f["scroll"] <= 0, (f["wide"], f["scroll"])  # nothing runs past the text column
    assert distinct_colours(loaded.screenshot) > 200


def test_combined_report_in_the_browser(results, combined):
    """The combined page loads offline with no console error, shows summary.json's headline, and every figure."""
    loaded = load_page(combined)
    check_loaded(loaded, combined)
    summary = json.loads((results["run"] / "summary.json").read_text(encoding="utf-8"))
    numbers = loaded.facts["numbers"]
    assert len(numbers) == 9
    for n in numbers:
        expected = summary["headline"][n["metric"]][n["stat"]]
        assert float(n["value"]) == expected and n["text"] == f"{expected:.3f}"
    text = loaded.facts["text"]
    for heading in ("The answer", "Positions over time", "The events' attribution", "Against a counterfactual",
                    "Sensitivity: a sweep", "Backtest", "Calibration", "Assumptions", "Reproduction"):
        assert heading in text, heading
    assert f"--seed {summary['seed_entropy']}" in text and summary["scenario_hash"] in text
    assert len(loaded.facts["figures"]) == 8  # outcomes, fan, waterfall, comparison, sweep, 2 reliability, posterior


def test_run_report_in_the_browser(results):
    """The page `run --report` wrote loads offline, its numbers those of its own summary.json."""
    page = results["run"] / "report.html"
    loaded = load_page(page)
    check_loaded(loaded, page)
    summary = json.loads((results["run"] / "summary.json").read_text(encoding="utf-8"))
    got = {(n["metric"], n["stat"]): float(n["value"]) for n in loaded.facts["numbers"]}
    assert got == {(m, s): summary["headline"][m][s] for m in summary["headline"] for s in ("p", "low", "high")}


# --- The README's screenshot ------------------------------------------------------------------


def screenshot_baseline(png: Path, runs: int = 20000) -> Path:
    """Make the baseline's page (a run, explain, a sweep and the history's backtest) and
    screenshot its top as the README shows it."""
    png = png.resolve()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        os.chdir(ROOT)  # the page's commands name the scenarios as a reader of the README types them
        dirs = make_results(root, BASELINE.relative_to(ROOT), Path("scenarios", "history"), runs=runs, knobs=None)
        page = make_report([dirs[k] for k in ("run", "explain", "sweep", "backtest")], root / "baseline.html")
        loaded = load_page(page, full_page=False, viewport=(1100, 1900))
        check_loaded(loaded, page)
        png.parent.mkdir(parents=True, exist_ok=True)
        png.write_bytes(loaded.screenshot)
    return png


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--screenshot", type=Path, required=True, metavar="PNG")
    parser.add_argument("--runs", type=int, default=20000)
    args = parser.parse_args()
    print(screenshot_baseline(args.screenshot, args.runs))


def test_a_sweeps_points_table_with_long_field_paths_fits_the_page(tmp_path):
    """A sweep over several fields with long dotted paths (an analyst's own spec) lists its points
    in a table whose column heads were those paths: the table must fit the page's text column,
    on screen and on A4, not run past it (the page scrolled sideways, and printed with its last
    columns cut off). Three fields keep a column each; more are listed in one cell, numbered."""
    fields = ["agents.north.issues.land.position=0.6:1:2", "summit.cancellation.base_probability=0:0.1:2",
              "relations.alliances.0.cost=0:0.2:2", "relations.trust.initial.low=0.2:0.3:2"]
    sweeps = [tmp_path / "three", tmp_path / "four"]
    for out, n in zip(sweeps, (3, 4)):
        varied = [arg for field in fields[:n] for arg in ("--vary", field)]
        assert main(["sweep", str(SMALL), *varied, "--runs", "1024", "--out", str(out), "--quiet"]) == 0
    page = make_report(sweeps, tmp_path / "sweeps.html")
    check_loaded(load_page(page), page)
    printed = load_page(page, viewport=(703, 900), media="print").facts  # A4 less the page's margins, at 96 dpi
    assert not printed["wide"] and printed["scroll"] <= 0, (printed["wide"], printed["scroll"])
    html = page.read_text(encoding="utf-8")
    assert "<code>relations.<wbr>alliances.<wbr>0.<wbr>cost</code></th>" in html  # a column of the three
    assert '<span class="pair">4: 0.2</span>' in html  # the fourth field's value, in the four's one cell


def test_a_directory_named_twice_is_shown_once(results, tmp_path):
    once, twice = tmp_path / "once.html", tmp_path / "twice.html"
    assert main(["report", str(results["run"]), "--out", str(once), "--quiet"]) == 0
    assert main(["report", str(results["run"]), str(results["run"]) + "/", "--out", str(twice), "--quiet"]) == 0
    count = lambda p: p.read_text(encoding="utf-8").count("<section")  # noqa: E731
    assert count(twice) == count(once) > 0


def test_report_is_refused_where_it_may_not_write_or_another_writes_now(results, tmp_path, capsys, monkeypatch):
    """A page in a folder where no file can be made is exit 2 (an --out sim may not write), a
    second report writing the same page is refused at once, and a file that appears while the
    page is rendered is left alone: the page is checked again under its lock."""
    import sim.report
    from sim.locks import lock_target

    if Path("/proc/self").is_dir():  # Linux: no one, root included, may create a file there
        assert main(["report", str(results["run"]), "--out", "/proc/sim-page.html"]) == 2
        assert capsys.readouterr().err.startswith("error: --out: cannot write a page there (")
    page = tmp_path / "page.html"
    with lock_target(page):
        assert main(["report", str(results["run"]), "--out", str(page)]) == 2
    assert "another sim command is writing there now" in capsys.readouterr().err and not page.exists()
    real = sim.report.render_report

    def user_saves_meanwhile(*args, **kwargs):
        page.write_text("<p>mine</p>", encoding="utf-8")
        return real(*args, **kwargs)

    monkeypatch.setattr(sim.report, "render_report", user_saves_meanwhile)
    assert main(["report", str(results["run"]), "--out", str(page)]) == 2
    assert "was not written by sim" in capsys.readouterr().err
    assert page.read_text(encoding="utf-8") == "<p>mine</p>"


# --- Values a derived scenario did not use ------------------------------------------------------

EARLY = """  - name: early
    date: 2020-01-15
    probability: 0.5
    source: "made up for tests"
    effects: [{target: trust, shift: 0.01}]
"""


def file_part(page: str, file: str) -> str:
    """The part of the first run's assumptions listing `file` (`inputs/1-base.yaml`)."""
    start = page.index(f'<h3 id="assumptions0-{file.replace("/", "-")}"')
    end = min(k for k in (page.find("<h3 ", start + 1), page.find("</section>", start)) if k >= 0)
    return page[start:end]


def not_used(page: str, file: str) -> dict[str, str]:
    """{path: the tag saying why} of the rows of `file` marked as not used by the run."""
    import re

    rows = re.findall(r'<tr[^>]*data-path="([^"]+)"[^>]*data-used="no"[^>]*>(.*?)</tr>', file_part(page, file), re.S)
    return {path: " ".join(re.findall(r'<span class="tag unused">(.*?)</span>', body, re.S)) for path, body in rows}


def values_counted(page: str) -> int:
    import re

    return int(re.search(r"Of (\d+) values, <strong>", page).group(1))


@pytest.fixture(scope="module")
def derived(tmp_path_factory) -> dict[str, Path]:
    """A base (small.yaml with a second event, `early`, before `talks`) run as it is, and a
    scenario that extends it: it removes `early`, sets south's resolve, writes its own `summit:`
    (a new date, the same parties and cancellation) and is run with a `--set`."""
    root = tmp_path_factory.mktemp("derived")
    base = root / "base.yaml"
    base.write_text(SMALL.read_text(encoding="utf-8").replace("events:\n", "events:\n" + EARLY), encoding="utf-8")
    scenario = root / "derived.yaml"
    scenario.write_text("extends: base.yaml\nname: derived\n"
                        "remove_events: [early]\n"
                        "set: {agents.south.resolve: 0.6}\n"
                        "summit:\n  parties: [north, south]\n  date: 2020-03-15\n"
                        "  cancellation: {base_probability: 0.05, trust_below: 0.2}\n", encoding="utf-8")
    out = {"base": root / "base-run", "derived": root / "derived-run"}
    assert main(["run", str(base), "--runs", "1024", "--out", str(out["base"]), "--quiet"]) == 0
    assert main(["run", str(scenario), "--runs", "1024", "--set", "agents.north.capability=1.5",
                 "--out", str(out["derived"]), "--quiet"]) == 0
    for name in list(out):
        out[f"{name}-page"] = make_report([out[name]], root / f"{name}.html")
    return out


def test_a_value_a_derived_scenario_removed_or_replaced_is_shown_as_not_used(derived):
    """The base's values that the run did not use (inputs/resolved.yaml holds others there) are
    marked, each saying why; the event after a removed one is matched by name, not by index."""
    page = derived["derived-page"].read_text(encoding="utf-8")
    marked = not_used(page, "inputs/1-base.yaml")
    removed = {p: why for p, why in marked.items() if p == "events.0" or p.startswith("events.0.")}
    assert "removed by remove_events in derived.yaml" in removed.pop("events.0")
    assert set(removed) == {f"events.0.{k}" for k in ("name", "date", "probability", "source", "effects")}
    assert "replaced by set: in derived.yaml" in marked["agents.south.resolve"]
    assert "the run used 0.6" in marked["agents.south.resolve"]
    assert "replaced by summit: in derived.yaml" in marked["summit.date"]
    assert "the run used 2020-03-15" in marked["summit.date"]
    assert "replaced by --set" in marked["agents.north.capability"] and "the run used 1.5" in \
        marked["agents.north.capability"]
    assert "replaced by name: in derived.yaml" in marked["name"]
    # used, though written again (the same parties and cancellation) or moved up a place (talks)
    assert not {"summit", "summit.parties", "summit.cancellation", "events.1", "events.1.probability",
                "agents.south.capability", "agents.north.resolve"} & set(marked)
    assert set(marked) == {"events.0", *(f"events.0.{k}" for k in ("name", "date", "probability", "source", "effects")),
                           "agents.south.resolve", "summit.date", "agents.north.capability", "name"}
    # a value the run did not use needs no citation: no "no comment" tag on its row
    import re

    rows = re.findall(r'<tr[^>]*data-used="no".*?</tr>', page, flags=re.S)
    assert len(rows) == len(marked) and not [row for row in rows if "no comment" in row]
    # the derived file's own values are what the run used
    assert not_used(page, "inputs/0-derived.yaml") == {}
    assert "data-used" not in file_part(derived["base-page"].read_text(encoding="utf-8"), "inputs/0-base.yaml")


def test_values_not_used_are_not_counted_among_the_runs_assumptions(derived):
    base = derived["base-page"].read_text(encoding="utf-8")
    page = derived["derived-page"].read_text(encoding="utf-8")
    # the base's values less the 6 it did not use (early's date, probability and effects, south's
    # resolve, summit.date, north's capability), plus the derived file's own (set's one value,
    # summit's date and cancellation; not its parties, names, nor remove_events, an edit)
    assert values_counted(page) == values_counted(base) - 6 + 3
    assert "6 values written in these files were not used by this run" in page


def shown_text(html_text: str) -> str:
    """The words a page shows, its tags dropped and its spaces collapsed."""
    import html
    import re

    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", html_text)).split())


def _row_text(page: str, file: str, path: str) -> tuple[str, str]:
    """The `<tr>` of `path` in the listing of `file`, as HTML and as the text it shows."""
    import re

    row = re.search(rf'<tr[^>]*data-path="{re.escape(path)}"[^>]*>.*?</tr>', file_part(page, file), re.S).group(0)
    return row, shown_text(row)


def test_remove_events_is_shown_as_an_edit_not_a_value(derived):
    """A derived file's `remove_events:` is an edit of its base, not a value the forecast assumes:
    it says which event of the base it removes (and the file that writes it), needs no source,
    and is not counted among the values (it was listed as `[early]`, tagged "no comment")."""
    page = derived["derived-page"].read_text(encoding="utf-8")
    row, text = _row_text(page, "inputs/0-derived.yaml", "remove_events")
    assert 'data-kind="edit"' in row
    assert "removes event early of the base (written in base.yaml)" in text, text
    assert "[early]" not in text and "no comment" not in row and 'class="was"' not in row
    said = shown_text(page)
    assert "1 event of a base file is removed by remove_events" in said and "an edit, not a value" in said
    # the base's event it removes says so, as before
    assert "removed by remove_events in derived.yaml" in not_used(page, "inputs/1-base.yaml")["events.0"]


def test_events_removed_through_a_chain_name_the_file_that_writes_them():
    """untainted_sochi extends no_suisho_incident, which extends the baseline: each file's
    `remove_events:` names the events as edits of the baseline, none of them counted."""
    from sim.loading import dump_scenario, load_scenario, scenario_sources
    from sim.report.collect import Input, Result
    from sim.report.page import assumptions_view

    scenario = ROOT / "scenarios" / "counterfactuals" / "untainted_sochi.yaml"
    inputs = [Input(f"inputs/{k}-{p.name}", str(p), role, read_source(p.read_text(encoding="utf-8")))
              for k, (p, role) in enumerate(scenario_sources(scenario))]
    resolved = Input("inputs/resolved.yaml", "", "resolved", read_source(dump_scenario(load_scenario(scenario))))
    view = assumptions_view(Result("run", ROOT, {}, None, inputs=inputs, resolved=[resolved]))
    edits = {f["file"]: [r for s in f["sections"] for r in s["rows"] if r["kind"] == "edit"] for f in view["files"]}
    assert [[(e["event"], e["written"]) for e in r["removes"]] for r in edits["inputs/0-untainted_sochi.yaml"]] == [
        [(name, "baseline.yaml") for name in ("putin_not_selling", "lavrov_interview", "surovikin_rearmament",
                                              "matua_base_plan", "g7_ise_shima_declaration")]]
    assert [[(e["event"], e["written"]) for e in r["removes"]] for r in edits["inputs/1-no_suisho_incident.yaml"]] == [
        [("suisho_incident", "baseline.yaml"), ("suga_downplays_incident", "baseline.yaml")]]
    assert view["counts"]["edits"] == 7
    assert not any(r["kind"] == "none" and r["key"] == "remove_events"
                   for f in view["files"] for s in f["sections"] for r in s["rows"])


def test_an_older_run_without_resolved_yaml_keeps_its_page(derived, tmp_path):
    """A run written before inputs/resolved.yaml lists every value of its files as before."""
    old = tmp_path / "old"
    shutil.copytree(derived["derived"], old)
    (old / "inputs" / "resolved.yaml").unlink()
    manifest = json.loads((old / ".sim-manifest.json").read_text(encoding="utf-8"))
    manifest["files"] = [f for f in manifest["files"] if f != "inputs/resolved.yaml"]
    (old / ".sim-manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    summary = json.loads((old / "summary.json").read_text(encoding="utf-8"))
    summary.pop("resolved", None)
    (old / "summary.json").write_text(json.dumps(summary), encoding="utf-8")
    page = make_report([old], tmp_path / "old.html").read_text(encoding="utf-8")
    assert "data-used" not in page and "not used by this run" not in page
    assert values_counted(page) == values_counted(derived["base-page"].read_text(encoding="utf-8")) + 3
    assert '<span class="tag override">set to 1.5</span>' in page


@pytest.mark.parametrize("scenario", sorted(p.relative_to(ROOT).as_posix() for folder in
                                            ("scenarios", "scenarios/counterfactuals", "scenarios/examples",
                                             "scenarios/later", "tests/data")
                                            for p in (ROOT / folder).glob("*.yaml")))
def test_every_value_a_scenario_file_holds_is_found_in_its_resolved_scenario(scenario):
    """For the project's scenarios: a file that derives nothing has every value used (the
    validated scenario writes it back as it was written: dates, numbers, distributions), and
    every value a derived one does not use is marked with what replaced it."""
    from sim.loading import dump_scenario, load_scenario, scenario_sources
    from sim.report.collect import Input
    from sim.report.used import not_used_rows

    try:
        resolved = read_source(dump_scenario(load_scenario(ROOT / scenario))).data
    except Exception:  # noqa: BLE001 (not a scenario: a knobs spec, a sweep spec, a broken test file)
        pytest.skip("not a scenario file")
    sources = scenario_sources(ROOT / scenario)
    inputs = [Input(f"inputs/{k}-{p.name}", str(p), role, read_source(p.read_text(encoding="utf-8")))
              for k, (p, role) in enumerate(sources)]
    marked = not_used_rows(inputs, resolved, {})
    if len(inputs) == 1:
        assert marked == {}
    for (file, path), why in marked.items():
        assert why.cause, (file, path, why)


def test_an_included_value_set_again_is_not_used_and_says_by_what(tmp_path):
    """An include's value that the including file's `set:` (applied after it) changes is marked,
    and so is the file's own value that the include replaced: each by what wrote last there."""
    from sim.loading import dump_scenario, load_scenario, scenario_sources
    from sim.report.collect import Input
    from sim.report.used import not_used_rows

    (tmp_path / "values.yaml").write_text("agents.south.resolve: 0.55\nagents.patron.capability: 2.5\n",
                                          encoding="utf-8")
    scenario = tmp_path / "case.yaml"
    scenario.write_text(SMALL.read_text(encoding="utf-8").replace("name: small\n", "name: case\n"
                        "include: [values.yaml]\nset: {agents.south.resolve: 0.65}\n"), encoding="utf-8")
    resolved = read_source(dump_scenario(load_scenario(scenario))).data
    inputs = [Input(f"inputs/{k}-{p.name}", str(p), role, read_source(p.read_text(encoding="utf-8")))
              for k, (p, role) in enumerate(scenario_sources(scenario))]
    marked = {key: why.text for key, why in not_used_rows(inputs, resolved, {}).items()}
    assert marked == {
        ("inputs/0-case.yaml", "agents.south.resolve"): "replaced by set: in case.yaml; the run used 0.65",
        ("inputs/0-case.yaml", "agents.patron.capability"): "replaced by include values.yaml; the run used 2.5",
        ("inputs/1-values.yaml", "agents.south.resolve"): "replaced by set: in case.yaml; the run used 0.65",
    }


# --- Files several runs share, listed once ------------------------------------------------------

HISTORY = ROOT / "scenarios" / "history"


@pytest.fixture(scope="module")
def history(tmp_path_factory) -> dict[str, Path]:
    """Two history cases, each extending scenarios/history/_base.yaml, run and reported alone and together."""
    root = tmp_path_factory.mktemp("history")
    out: dict[str, Path] = {}
    for case in ("moscow_2013", "sochi_2016"):
        out[case] = root / case
        assert main(["run", str(HISTORY / f"{case}.yaml"), "--runs", "256", "--out", str(out[case]), "--quiet"]) == 0
        out[f"{case}-page"] = make_report([out[case]], root / f"{case}.html")
    out["page"] = make_report([out["moscow_2013"], out["sochi_2016"]], root / "both.html")
    return out


def _section(page: str, section_id: str) -> str:
    start = page.index(f'<section id="{section_id}"')
    return page[start:page.index("</section>", start)]


def _paths(html_text: str) -> list[str]:
    import re

    return re.findall(r'<tr[^>]*data-path="([^"]+)"', html_text)


def test_a_base_the_runs_share_is_listed_once_and_each_run_says_what_it_replaced(history):
    """Two history cases on one page: _base.yaml's values are listed once, in a section of their
    own (each value marked where no run used it), and each run's assumptions list its own file
    in full and, for the base, what it replaced there (the whole base was listed again for every
    case, hiding what the case itself sets)."""
    page = history["page"].read_text(encoding="utf-8")
    alone = history["moscow_2013-page"].read_text(encoding="utf-8")
    base_paths = _paths(file_part(alone, "inputs/1-_base.yaml"))
    assert _paths(page).count("issues.islands.anchors.status_quo") == 1  # listed once (it was twice)
    shared = _section(page, "shared0")
    assert _paths(shared) == base_paths  # every value of the base is on the page, in the file's order
    assert "_base.yaml" in shared and "moscow_2013" in shared and "sochi_2016" in shared
    marks = not_used_in(shared)
    # the placeholders no case used are struck through, saying why once for both; what the cases
    # share is not; a value one case replaced says which
    assert marks["name"] == "not used by any of the 2 runs: replaced by name: in each run's own file"
    assert "calendar.start" in marks and "summit.date" in marks
    assert not {"dynamics.rate", "outcome", "monte_carlo.runs", "agents.japan.resolve"} & set(marks)
    assert not_used_in(shared, "some")["agents.japan.resolve"] == \
        "not used by 1 of the 2 runs: replaced by agents: in its own file (sochi_2016)"
    for k, case in enumerate(("moscow_2013", "sochi_2016")):
        own = _section(page, f"assumptions{k}")
        # its own file in full, the base by reference with what this run replaced in it
        assert _paths(own) == _paths(file_part(history[f"{case}-page"].read_text(encoding="utf-8"),
                                                 f"inputs/0-{case}.yaml"))
        replaced = own[own.index(f'<h3 id="assumptions{k}-inputs-1-_base.yaml"'):]
        assert 'href="#shared0"' in replaced and "<table" not in replaced
        assert f"<code>name</code>: replaced by name: in {case}.yaml; the run used {case}</li>" in replaced
        assert f"<code>summit.date</code>: replaced by summit: in {case}.yaml; the run used 20" in replaced
        # the counts of the run's values are those of its page alone
        mine = history[f"{case}-page"].read_text(encoding="utf-8")
        assert _counts_paragraph(own) == _counts_paragraph(_section(mine, "assumptions0"))


def not_used_in(html_text: str, used: str = "no") -> dict[str, str]:
    """{path: the tag saying why} of the rows of `html_text` marked as not used (`used` "no"), or
    as not used by some of the runs that share the file ("some")."""
    import html
    import re

    rows = re.findall(rf'<tr[^>]*data-path="([^"]+)"[^>]*data-used="{used}"[^>]*>(.*?)</tr>', html_text, re.S)
    return {path: html.unescape(" ".join(re.findall(r'<span class="tag unused">(.*?)</span>', body, re.S)))
            for path, body in rows}


def _counts_paragraph(section: str) -> str:
    import re

    return re.search(r"Of \d+ values, .*?</p>", section, re.S).group(0)


def test_a_page_with_a_shared_base_in_the_browser(history):
    """The page with a shared base keeps the page's rules in the browser: headings in order,
    every table captioned, nothing loaded."""
    loaded = load_page(history["page"])
    check_loaded(loaded, history["page"])
    assert "Assumptions shared by 2 runs" in loaded.facts["text"]


def test_a_shared_row_says_which_runs_did_not_use_it_and_why():
    """A shared file's row: struck through where no run used it, one reason said once where it is
    the same for every run (each naming its own file), else each reason with its runs."""
    from sim.report.page import _merged_unused

    def mark(cause):
        return {"cause": cause, "shown": True}

    names, own = ["a", "b", "c"], ["a.yaml", "b.yaml", "c.yaml"]
    assert _merged_unused([None, None, None], names, own) is None
    every = _merged_unused([mark("replaced by agents: in a.yaml"), mark("replaced by agents: in b.yaml"),
                            mark("replaced by agents: in c.yaml")], names, own)
    assert every["struck"] and every["tag"] == "not used by any of the 3 runs: replaced by agents: in each run's own file"
    mixed = _merged_unused([mark("replaced by agents: in a.yaml"), mark("replaced by --set"), None], names, own)
    assert not mixed["struck"]
    assert mixed["tag"] == "not used by 2 of the 3 runs: replaced by agents: in its own file (a); replaced by --set (b)"


def test_a_page_names_its_source_plainly_and_keeps_dates_on_one_line(tmp_path):
    """The `source:` line is labelled as a source ("Vantage 1956-09-15. Facts: ..." is no "question as
    asked in"), a scenario without events has no "table below" in its fan chart's caption, and
    event dates do not break at their hyphens."""
    base = tmp_path / "base.yaml"
    base.write_text('source: "Vantage 2020-01-01. Facts: made up"\n' + SMALL.read_text(encoding="utf-8"),
                    encoding="utf-8")
    quiet = tmp_path / "quiet.yaml"
    quiet.write_text("extends: base.yaml\nname: quiet\nremove_events: [talks]\n", encoding="utf-8")
    pages = {}
    for name, scenario in (("base", base), ("quiet", quiet)):
        assert main(["run", str(scenario), "--runs", "1024", "--out", str(tmp_path / name), "--quiet"]) == 0
        pages[name] = make_report([tmp_path / name], tmp_path / f"{name}.html").read_text(encoding="utf-8")
    assert '<p class="question">Source: Vantage 2020-01-01. Facts: made up.</p>' in pages["base"]
    assert "events (table below)" in pages["base"] and '<td class="date">2020-02-01</td>' in pages["base"]
    assert "table below" not in pages["quiet"] and "the scenario schedules no events" in pages["quiet"]


def test_the_calibrations_note_reads_as_a_sentence_with_its_command_as_code(combined):
    """calibrate's terminal line ("leave-one-out: ... `sim backtest DIR ...` reruns them") is a
    sentence on the page, its command in <code>, not between backticks; a knob's dotted path may
    wrap, so that the table fits the page."""
    page = combined.read_text(encoding="utf-8")
    assert ("Leave-one-out: each case is forecast from the posterior refitted without it, from the fit&#39;s own "
            "runs; <code>sim backtest DIR --calibration posterior.json</code> reruns them with fresh replicates.") in page
    assert "`" not in page.split("<body", 1)[1]
    assert '<td class="any"><code>summit.bargaining.margin</code>' in page


def test_a_run_whose_replicates_lack_the_package_column_keeps_its_page(tmp_path):
    """The deals' classes come from summary.json: a replicates.parquet without its package and
    outcome columns (written by other code) still gives a page."""
    import pyarrow.parquet as pq

    out = tmp_path / "run"
    assert main(["run", str(SMALL), "--runs", "1024", "--out", str(out), "--quiet"]) == 0
    file = out / "replicates.parquet"
    pq.write_table(pq.read_table(file, columns=["replicate", "summit_day"]), file)
    page = make_report([out], tmp_path / "page.html").read_text(encoding="utf-8")
    deals = page[page.index('-deals">'):].split("</table>")[0]
    assert "<td>Substantive</td>" in deals or "<td>Breakthrough</td>" in deals, deals


def test_a_sweeps_command_gives_its_factors_range_exactly():
    """The page's sweep command writes each factor's range as the number it is, not to six
    digits (0.0123457 for 0.0123456789 is another sweep, other points)."""
    from sim.report.collect import Result
    from sim.report.page import command_of

    factors = [{"path": "summit.bargaining.margin", "low": 0.0123456789, "high": 0.1, "levels": 2},
               {"path": "agents.north.resolve", "low": 0.0, "high": 1e-7, "levels": None},
               {"path": "agents.south.capability", "low": 1.0, "high": 123456789.0, "levels": None}]
    summary = {"scenario_file": "s.yaml", "factors": factors, "design": "lhs", "points": 4, "runs": 1024,
               "seed_entropy": 1}
    command = command_of(Result("sweep", Path("x"), summary, None))
    assert ("--vary summit.bargaining.margin=0.0123456789:0.1:2 --vary agents.north.resolve=0:1e-07 "
            "--vary agents.south.capability=1:123456789 ") in command, command


@pytest.mark.parametrize("design, points, heads", [("sobol", "8", ("first order S1", "total ST")),
                                                    ("morris", "2", ("mu* (mean |effect|)", "mu", "sigma"))])
def test_a_sweeps_indices_are_on_the_page_with_their_intervals_as_the_command_prints_them(
        tmp_path, design, points, heads):
    """The page's table of sensitivity indices gives each with its 95 % interval, as `sweep`
    prints it (0.073 [-0.279, 0.426]) and under its headings, not SALib's keys and a bare
    half-width (S1_conf) that no other number on the page is written as."""
    import re

    from sim.reporting import fmt_index

    out = tmp_path / "sweep"
    assert main(["sweep", str(SMALL), "--vary", "summit.bargaining.margin=0:0.2", "--vary",
                 "agents.south.resolve=0.2:0.8", "--design", design, "--points", points, "--runs", "256",
                 "--out", str(out), "--quiet"]) == 0
    page = make_report([out], tmp_path / "p.html").read_text(encoding="utf-8")
    table = page[page.index("<caption>Sobol indices" if design == "sobol" else "<caption>Morris"):]
    table = table[:table.index("</table>")].replace("<wbr>", "")  # a path may break after a dot
    assert "_conf" not in table and "mu_star" not in table, table
    assert re.findall(r'<th scope="col" class="num">([^<]*)</th>', table) == list(heads), table
    indices = json.loads((out / "sweep.json").read_text(encoding="utf-8"))["analysis"]["indices"]
    for name, ix in indices.items():
        if design == "sobol":
            cells = [fmt_index(ix["S1"], ix["S1_conf"]), fmt_index(ix["ST"], ix["ST_conf"], floor=0.0, ceiling=1.0)]
        else:
            cells = [fmt_index(ix["mu_star"], ix["mu_star_conf"], floor=0.0), f"{ix['mu']:.3f}",
                     f"{ix['sigma']:.3f}"]
        row = table[table.index(f"<code>{name}</code>"):]
        assert re.findall(r'<td class="num">([^<]*)</td>', row[:row.index("</tr>")]) == cells, (name, row)


NOISY_INDICES = {
    "sobol": {"method": "sobol", "indices": {"a": {"S1": -0.1, "S1_conf": 0.05, "ST": 0.97, "ST_conf": 0.05}}},
    "morris": {"method": "morris", "indices": {"a": {"mu": 0.02, "mu_star": 0.05, "mu_star_conf": 0.2,
                                                     "sigma": 0.1}}},
}
"""Indices whose bootstrap intervals pass a bound: the table prints mu* from 0 up and ST within
[0, 1] (`reporting.index_bounds`), S1 as it is."""


def _error_bar_ends(ax) -> list[tuple[float, float]]:
    """(lowest, highest) x of each bar series' error bars, in drawing order."""
    out = []
    for container in ax.containers:
        bars = getattr(container, "errorbar", None)
        if bars is not None:
            xs = [x for segment in bars.lines[2][0].get_segments() for x, _ in segment]
            out.append((min(xs), max(xs)))
    return out


@pytest.mark.parametrize("method", ["sobol", "morris"])
def test_the_pages_sensitivity_chart_draws_the_intervals_its_table_prints(monkeypatch, method):
    """The page's chart of a sweep's indices draws each interval as the table beside it prints
    it: mu* from 0 up, ST within [0, 1], S1 as it is (the chart drew v +- half, crossing 0
    where the table said [0.000, ...])."""
    from sim.report import figures_more
    from sim.reporting import index_rows

    seen = {}

    def render(fig, alt, name):
        seen["ends"] = _error_bar_ends(fig.axes[0])
        fig.clear()

    monkeypatch.setattr(figures_more, "render", render)
    figures_more.sweep_chart({"analysis": NOISY_INDICES[method]}, None)
    _, [(_, cells)] = index_rows(NOISY_INDICES[method])
    printed = [tuple(float(x) for x in c.split("[")[1].rstrip("]").split(", ")) for c in cells if "[" in c]
    assert len(seen["ends"]) == len(printed)
    assert all(d == pytest.approx(p, abs=5e-4) for d, p in zip(seen["ends"], printed)), (seen["ends"], printed)


@pytest.mark.parametrize("method", ["sobol", "morris"])
def test_the_pages_sensitivity_chart_lists_the_fields_as_its_table_does(monkeypatch, method):
    """The page's chart of a sweep's indices lists the fields top to bottom in the order of the
    table beside it (and of the sweep's own sensitivity.png), the most influential first; it
    listed them in the spec's order, so a screen's largest effect could sit at the bottom."""
    from sim.report import figures_more
    from sim.reporting import index_rows

    ix = {"sobol": lambda v: {"S1": v, "S1_conf": 0.01, "ST": v, "ST_conf": 0.01},
          "morris": lambda v: {"mu": v, "mu_star": v, "mu_star_conf": 0.01, "sigma": 0.01}}[method]
    analysis = {"method": method, "indices": {"small": ix(0.01), "large": ix(0.6), "middle": ix(0.2)}}
    seen = {}

    def render(fig, alt, name):
        ax = fig.axes[0]
        ticks = sorted(zip(ax.get_yticks(), [t.get_text() for t in ax.get_yticklabels()]), reverse=True)
        seen["top_down"] = [label for _, label in ticks]
        fig.clear()

    monkeypatch.setattr(figures_more, "render", render)
    figures_more.sweep_chart({"analysis": analysis}, None)
    _, rows = index_rows(analysis)
    assert [name for name, _ in rows] == ["large", "middle", "small"]
    assert seen["top_down"] == ["large", "middle", "small"]


AS_WRITTEN_NOTE = "the model as written (the scenario's own knob values, no <code>--calibration</code>"


def test_a_page_with_a_calibrated_forecast_says_which_analyses_are_the_model_as_written(results, tmp_path):
    """A calibrated run's headline (posterior predictive) beside an explain, a compare and a
    sweep of the model as written: each of those says so, since their probabilities (0.77 for
    Singapore against the headline's 0.34) are of another model; a page with no calibrated
    forecast is left as it was."""
    run = tmp_path / "calibrated"
    posterior = results["calibrate"] / "posterior.json"
    assert main(["run", str(SMALL), "--runs", "1024", "--calibration", str(posterior), "--out", str(run),
                 "--quiet"]) == 0
    page = make_report([run, results["explain"], results["compare"], results["sweep"]], tmp_path / "mixed.html")
    html = page.read_text(encoding="utf-8")
    moved = html[html.index('id="moved"'):html.index("</section>", html.index('id="moved"'))]
    for kind in ("explain0", "compare0", "sweep0"):
        section = moved[moved.index(f'id="{kind}"'):]
        section = section[:section.index("<figure")]
        assert AS_WRITTEN_NOTE in section, (kind, section)
    plain = make_report([results["run"], results["explain"], results["compare"], results["sweep"]],
                        tmp_path / "plain.html").read_text(encoding="utf-8")
    assert AS_WRITTEN_NOTE not in plain


def test_an_explain_of_a_scenario_without_events_says_there_is_nothing_to_attribute(tmp_path):
    """`explain` of a scenario that schedules no events prints "nothing to attribute"; its page
    said "with all its scheduled events" and showed an empty table of events."""
    out = tmp_path / "explain"
    assert main(["explain", str(SMALL), "--set", "events=[]", "--runs", "1024", "--out", str(out), "--quiet"]) == 0
    html = make_report([out], tmp_path / "p.html").read_text(encoding="utf-8")
    section = html[html.index('id="explain0"'):html.index("</section>", html.index('id="explain0"'))]
    assert "with all its scheduled events" not in section.lower()
    assert "nothing to attribute: the scenario schedules no events" in section.lower()
    assert "<table" not in section or "<tbody></tbody>" not in section


def test_an_explains_page_names_events_that_move_p_breakthrough_more_than_its_table_shows(tmp_path):
    """As the command does: the events whose effect on P(breakthrough) exceeds their effect on
    P(substantive or better) (Punggye-ri's demolition in an analyst's Singapore 2018: about
    +0.30 against +0.004) are named under the table, with their intervals."""
    from sim.reporting import breakthrough_shifts

    out = tmp_path / "explain"
    assert main(["explain", str(DATA / "singapore_2018.yaml"), "--runs", "4096", "--out", str(out), "--quiet"]) == 0
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    shifts = breakthrough_shifts(summary["events"])
    assert shifts and shifts[0][0] == "punggye_ri_demolition"
    html = make_report([out], tmp_path / "p.html").read_text(encoding="utf-8")
    section = html[html.index('id="explain0"'):html.index("</section>", html.index('id="explain0"'))]
    for name, e in shifts:
        assert f"{name} {e['diff']:+.4f} [{e['low']:+.4f}, {e['high']:+.4f}]" in section, name
