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
    seen = {}

    def save(fig, path, **options):
        seen["legend"] = _legend(fig.axes[0].get_legend_handles_labels())

    monkeypatch.setattr(plots.Figure, "savefig", save)
    plots.plot_fan(result, tmp_path / "fan.png")
    labels, styles = seen["legend"]
    parties = [result.model.agents[a] for a in result.model.parties]
    assert len(parties) == 6
    assert labels == parties
    assert len(set(styles)) == len(parties)


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
