"""The fan charts draw every summit party: the run's `fan.png` and the report page's chart.

A summit has two or more parties (the README's `summit.parties`); `copenhagen_2009.yaml` has
six. Each chart is caught as it is saved, and its legend read: one entry a party, each party
drawn in a style (colour and line) of its own.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

import sim
from sim import plots
from sim.report import figures

ROOT = Path(__file__).resolve().parents[1]
COPENHAGEN = ROOT / "scenarios" / "examples" / "copenhagen_2009.yaml"


@pytest.fixture(scope="module")
def result():
    return sim.run(sim.load_scenario(COPENHAGEN), runs=1024, seed=1)


def _legend(handles_and_labels):
    handles, labels = handles_and_labels
    styles = [(h.get_color(), h.get_linestyle()) for h in handles if hasattr(h, "get_linestyle")]
    return labels, styles


def test_the_run_fan_chart_draws_every_party(result, tmp_path, monkeypatch):
    """Every party, in `summit.parties`' written order (usa, eu, china, ...), as summary.json's
    `parties` and the report's chart list them, not the model's internal order (alba first, for
    Copenhagen): the legend, and so the colours."""
    seen = {}

    def save(fig, path, **options):
        legend = fig.axes[0].get_legend()
        seen["legend"] = _legend((legend.legend_handles, [t.get_text() for t in legend.get_texts()]))

    monkeypatch.setattr(plots.Figure, "savefig", save)
    plots.plot_fan(result, tmp_path / "fan.png")
    labels, styles = seen["legend"]
    parties = list(result.model.scenario.summit.parties)
    assert len(parties) == 6
    assert labels == [*parties, "summit"]  # its day (a fixed date) last, in the legend, not written over a line
    assert len(set(styles[:len(parties)])) == len(parties)


def test_the_report_fan_chart_draws_every_party(result, monkeypatch):
    model = result.model
    start = model.start_date
    parties = [model.agents[a] for a in model.parties]
    rows = [{"week": w, "day": 7 * w, "date": (start + dt.timedelta(days=7 * w)).isoformat(), "agent": agent,
             "issue": issue, "q05": 0.1, "q25": 0.2, "q50": 0.3, "q75": 0.4, "q95": 0.5}
            for w in range(3) for agent in parties for issue in model.issues]
    seen = {}

    def render(fig, alt, name):
        seen["legend"] = _legend(fig.axes[0].get_legend_handles_labels())
        seen["alt"] = alt
        fig.clear()

    monkeypatch.setattr(figures, "render", render)
    figures.fan_chart(rows, parties, [], None)
    labels, styles = seen["legend"]
    assert [label.split(" (")[0] for label in labels] == parties
    assert len(set(styles)) == len(parties)
    assert all(party in seen["alt"] for party in parties)


def _party_lines_are_visible(lines):
    """Each line has two points or more, or a marker at its one point."""
    return all(len(line.get_xdata()) >= 2 or line.get_marker() not in (None, "None", "", " ") for line in lines)


def test_a_summit_within_a_week_of_the_start_still_shows_the_positions(tmp_path, monkeypatch):
    """A calendar with no weekly tick before the summit (the positions of day 0 only) draws each
    party's median as a point, not as an invisible one-point line, in the run's chart and the page's."""
    scenario = sim.load_scenario(ROOT / "tests" / "data" / "small.yaml",
                                 {"calendar": {"start": "2020-03-30", "vantage": "2020-03-30"},
                                  "summit.date": "2020-04-01", "events": [], "agents.north.elections": []})
    result = sim.run(scenario, runs=1024, seed=1)
    assert result.trajectory.shape[0] == 1
    seen = {}
    monkeypatch.setattr(plots.Figure, "savefig", lambda fig, path, **o: seen.update(lines=list(fig.axes[0].lines)))
    plots.plot_fan(result, tmp_path / "fan.png")
    party = [line for line in seen["lines"] if line.get_label() in result.model.agents]
    assert len(party) == len(result.model.parties) and _party_lines_are_visible(party)
    assert [line.get_label() for line in seen["lines"]].count("summit") == 1  # the day's line, in the legend

    rows = [{"week": 0, "day": 0, "date": "2020-03-30", "agent": result.model.agents[a], "issue": issue,
             "q05": 0.1, "q25": 0.2, "q50": 0.3, "q75": 0.4, "q95": 0.5}
            for a in result.model.parties for issue in result.model.issues]

    def render(fig, alt, name):
        seen["lines"] = [line for ax in fig.axes for line in ax.lines if not line.get_label().startswith("_")]
        fig.clear()

    monkeypatch.setattr(figures, "render", render)
    figures.fan_chart(rows, [result.model.agents[a] for a in result.model.parties], [], [2, 2, 2])
    assert seen["lines"] and _party_lines_are_visible(seen["lines"])


def test_the_report_fan_chart_shows_a_summit_after_the_last_weekly_tick(monkeypatch):
    """The page says the grey band is where the summit was due: a summit days after the last
    weekly position (26 April, ticks to 22 April) must lie inside the axis, as must an event there."""
    import matplotlib.dates as mdates

    start = dt.date(2018, 4, 1)
    rows = [{"week": w, "day": 7 * w, "date": (start + dt.timedelta(days=7 * w)).isoformat(), "agent": agent,
             "issue": "border", "q05": 0.1, "q25": 0.2, "q50": 0.3, "q75": 0.4, "q95": 0.5}
            for w in range(4) for agent in ("delhi", "beijing")]
    seen = {}

    def render(fig, alt, name):
        seen["xlim"] = [mdates.num2date(x).date() for x in fig.axes[-1].get_xlim()]
        fig.clear()

    monkeypatch.setattr(figures, "render", render)
    figures.fan_chart(rows, ["delhi", "beijing"], [], [24, 25, 26])
    assert seen["xlim"][0] <= start and seen["xlim"][1] > dt.date(2018, 4, 27)
    figures.fan_chart(rows, ["delhi", "beijing"], [{"name": "late", "date": "2018-04-30"}], None)
    assert seen["xlim"][1] > dt.date(2018, 4, 30)


def test_the_run_fan_chart_puts_each_week_on_its_tick_day(tmp_path, monkeypatch):
    """The weekly positions are taken on the calendar's Sundays (`model.ticks`), as
    trajectory.parquet dates them: a start on a Wednesday has its first tick 4 days in, not 7."""
    import matplotlib.dates as mdates

    scenario = sim.load_scenario(ROOT / "tests" / "data" / "small.yaml",
                                 {"calendar": {"start": "2020-01-01", "vantage": "2020-01-01"}})
    result = sim.run(scenario, runs=1024, seed=1)
    model = result.model
    assert model.ticks[0] == 4  # 2020-01-01 was a Wednesday
    seen = {}
    monkeypatch.setattr(plots.Figure, "savefig", lambda fig, path, **o: seen.update(lines=list(fig.axes[0].lines)))
    plots.plot_fan(result, tmp_path / "fan.png")
    party = [line for line in seen["lines"] if not line.get_label().startswith("_")][0]
    drawn = [mdates.num2date(x).date() if not isinstance(x, dt.date) else x for x in party.get_xdata()]
    ticks = [model.start_date + dt.timedelta(days=d) for d in (0, *model.ticks)][:result.trajectory.shape[0]]
    assert drawn == ticks


def texts_outside(fig) -> list[str]:
    """The texts of `fig` (titles, labels, tick labels) that run past its left or right edge,
    laid out as `savefig` lays them out."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    fig.draw_without_rendering()
    renderer = fig.canvas.get_renderer()
    width = fig.bbox.width
    texts = [*fig.texts, *(t for ax in fig.axes for t in (ax.title, ax._left_title, ax._right_title))]
    return [t.get_text() for t in texts if t.get_text()
            and not (-1 <= t.get_window_extent(renderer).x0 and t.get_window_extent(renderer).x1 <= width + 1)]


def test_the_run_fan_chart_title_fits_a_one_issue_scenario(tmp_path, monkeypatch):
    """The README's walk-through (`scenarios/tutorial/fisheries.yaml`, one issue) draws one
    panel: the chart's title wraps inside the figure instead of running off both edges."""
    result = sim.run(sim.load_scenario(ROOT / "scenarios" / "tutorial" / "fisheries.yaml"), runs=1024, seed=1)
    seen = {}
    monkeypatch.setattr(plots.Figure, "savefig", lambda fig, path, **o: seen.update(outside=texts_outside(fig)))
    plots.plot_fan(result, tmp_path / "fan.png")
    assert seen["outside"] == []


def test_the_run_fan_chart_has_a_panel_an_issue_in_the_files_order(result, tmp_path, monkeypatch):
    """The panels follow `issues:` as the scenario writes them (Copenhagen: legal form, developed
    targets, developing actions, finance), as summary.json's `issues` and the deals' levels do,
    not the model's internal order (developed targets first)."""
    seen = {}
    monkeypatch.setattr(plots.Figure, "savefig",
                        lambda fig, path, **o: seen.update(titles=[ax.get_title() for ax in fig.axes if ax.get_title()]))
    plots.plot_fan(result, tmp_path / "fan.png")
    written = [i.replace("_", " ").capitalize() for i in result.model.scenario.issues]
    assert list(result.model.issues) != list(result.model.scenario.issues)  # the case this test is about
    assert seen["titles"] == written


def test_the_report_fan_chart_has_a_panel_an_issue_in_the_files_order(tmp_path, monkeypatch):
    """The page's chart too, from a run's result directory: trajectory.parquet lists the issues
    in the model's order, summary.json's `issues` in the file's, which the panels follow."""
    from sim.cli import main
    from sim.report import make_report

    out = tmp_path / "run"
    assert main(["run", str(COPENHAGEN), "--runs", "1024", "--out", str(out), "--quiet"]) == 0
    seen = {}
    render = figures.render

    def spy(fig, alt, name):
        if name == "fan":
            seen["labels"] = [ax.get_ylabel() for ax in fig.axes if ax.get_ylabel()]
        return render(fig, alt, name)

    monkeypatch.setattr(figures, "render", spy)
    make_report([out], tmp_path / "page.html")
    written = sim.load_scenario(COPENHAGEN).issues
    assert seen["labels"] == [i.replace("_", " ").capitalize() for i in written]


@pytest.fixture(scope="module")
def explained(tmp_path_factory):
    """explain --shapley of the small scenario: P(substantive or better) near 0.9, steps of a
    few hundredths, so a waterfall's axis starts far above 0."""
    import json

    from sim import cli

    out = tmp_path_factory.mktemp("explain") / "e"
    small = Path(__file__).resolve().parent / "data" / "small.yaml"
    assert cli.main(["explain", str(small), "--runs", "1024", "--shapley", "--quiet", "--out", str(out)]) == 0
    return json.loads((out / "summary.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("chart", ["shapley.png", "the page's waterfall"])
def test_a_waterfall_on_a_cut_axis_draws_no_bar_from_the_cut(chart, explained, tmp_path, monkeypatch):
    """On an axis that starts above 0 a bar from its left edge to P is not as long as P, so the
    no-events and all-events bars of 0.898 and 0.9 read as if one were several times the other.
    Every bar drawn is a step between two running totals, or starts at 0."""
    import matplotlib.axes

    from sim.attribution_report import plot_shapley
    from sim.report.figures_more import waterfall

    lefts, original = [], matplotlib.axes.Axes.barh

    def barh(self, y, width, height=0.8, left=None, **kw):
        lefts.append(0.0 if left is None else float(left))
        return original(self, y, width, height, left=left, **kw)

    monkeypatch.setattr(matplotlib.axes.Axes, "barh", barh)
    m = explained["shapley"]["metrics"]["substantive_or_better"]
    totals = [m["no_events"]["p"]]
    for v in m["values"]:
        totals.append(totals[-1] + v["value"])
    if chart == "shapley.png":
        plot_shapley(explained, tmp_path / "shapley.png")
    else:
        waterfall(explained)
    assert lefts and min(totals) > 0.5  # the axis is cut: the case this test is about
    for left in lefts:
        assert left == 0.0 or any(abs(left - t) < 1e-12 for t in totals), (left, totals)
