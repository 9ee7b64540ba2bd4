"""README figures that a refit of scenarios/history/posterior.json moves, checked against what
the committed posterior gives, so that a refit cannot leave them stale silently (two went stale
at f991ad9's refit: the calibrated examples' scores and the calibrated margin's interval)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from sim import load_posterior
from sim.cli import main

ROOT = Path(__file__).resolve().parents[1]
POSTERIOR = ROOT / "scenarios" / "history" / "posterior.json"


def readme() -> str:
    """The README as one line: its sentences wrap anywhere."""
    return " ".join((ROOT / "README.md").read_text(encoding="utf-8").split())


def test_the_readmes_calibrated_margin_is_the_committed_posteriors():
    """The margin's posterior mean and 95 % interval, in the sweeps section and in the refit's
    paragraph, and the refit's other knobs, are the committed posterior's summary."""
    knobs = load_posterior(POSTERIOR).summary()
    m = knobs["margin"]
    text = readme()
    assert (f"The calibrated margin (posterior mean {m['mean']:.2f}, 95 % of its mass on "
            f"{m['q025']:.2f} to {m['q975']:.2f})") in text
    refit = (f"margin {m['mean']:.3f} (sd {m['sd']:.3f}, 95 % {m['q025']:.2f} to {m['q975']:.2f}), loss "
             f"aversion {knobs['loss_aversion']['mean']:.2f}, credibility {knobs['credibility']['mean']:.2f}"
             f"{' (grid edge)' if knobs['credibility']['at_grid_edge'] else ''}, noise {knobs['noise']['mean']:.2f}")
    assert refit in text


def test_the_readmes_example_scores_are_what_the_backtests_give(tmp_path):
    """"Examples from outside the project": the scores of the three examples as written and with
    the history's posterior, and the calibrated forecasts it quotes, are what
    `sim backtest scenarios/examples/ --calibration scenarios/history/posterior.json` gives
    (20,000 replicates a case, each example's own seed)."""
    assert main(["backtest", str(ROOT / "scenarios" / "examples"), "--calibration", str(POSTERIOR),
                 "--workers", "1", "--quiet", "--out", str(tmp_path / "bt")]) == 0
    summary = json.loads((tmp_path / "bt" / "summary.json").read_text(encoding="utf-8"))
    scores = summary["mean_scores"]
    f = {case["name"]: case["forecasts"]["calibrated"] for case in summary["cases"]}
    camp, cop, lau = f["camp_david_1978"], f["copenhagen_2009"], f["lausanne_2015"]
    assert lau["substantive"] + lau["breakthrough"] < 0.001  # "Lausanne's P(observed) is still under 0.001"
    text = readme()
    assert (f"Brier {scores['model']['brier']:.3f} against {scores['base_rate']['brier']:.3f}, log "
            f"{scores['model']['log']:.3f} against {scores['base_rate']['log']:.3f})") in text
    quoted = re.search(r"Camp David becomes .*? under 0\.001\)", text)
    assert quoted is not None
    assert quoted.group(0) == (
        f"Camp David becomes {camp['breakthrough']:.2f} breakthrough and {camp['substantive']:.2f} substantive, "
        f"Copenhagen {cop['talk_fest']:.2f} talk fest (its observed class), Lausanne stays at "
        f"{lau['talk_fest']:.2f} talk fest: Brier {scores['calibrated']['brier']:.3f} against "
        f"{scores['base_rate']['brier']:.3f}, log {scores['calibrated']['log']:.3f} against "
        f"{scores['base_rate']['log']:.3f} (Lausanne's P(observed) is still under 0.001)")
