"""The EUM kernel against the Scholz replication's recorded runs, and its own invariants."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.errors import InputError
from sim.eum import (
    Actors,
    load_actors_csv,
    perturb_inputs,
    run_eum,
    run_eum_monte_carlo,
    step_eum,
    summarise_final_median,
    weighted_median,
)

TOL = 1e-9  # the replication's own trajectory moves ~1e-13 under actor reordering
_CANDIDATES = [
    Path(__file__).resolve().parent / "data" / "eum",
    Path(__file__).resolve().parents[2] / "shared" / "data" / "eum",
]
DATA = next((p for p in _CANDIDATES if (p / "ExampleActors.csv").is_file()), None)
needs_data = pytest.mark.skipif(
    DATA is None, reason=f"EUM reference data not found in {', '.join(map(str, _CANDIDATES))}"
)


def _json(name: str) -> dict:
    with open(DATA / name, encoding="utf-8") as handle:
        return json.load(handle)


@pytest.fixture(scope="module")
def eu() -> Actors:
    return load_actors_csv(DATA / "ExampleActors.csv")


@pytest.fixture(scope="module")
def sultan() -> Actors:
    return load_actors_csv(DATA / "Sultan.csv")


def _run(actors: Actors, **kw):
    return run_eum(actors.capability, actors.position, actors.salience, **kw)


# --- exact reproduction ---------------------------------------------------------------


@needs_data
@pytest.mark.parametrize("name", ["ExampleActors", "Sultan"])
def test_every_recorded_round_is_reproduced(name):
    """Positions, risk exponents, median and mean match the replication in every recorded round."""
    actors = load_actors_csv(DATA / f"{name}.csv")
    expected = _json(f"expected_{name}_10rounds.json")
    run = _run(actors, rounds=10)
    for rec in expected["rounds"]:
        t = rec["round"]
        want = np.array([rec["positions"][a] for a in actors.names])
        np.testing.assert_allclose(run.positions[t, :, 0], want, rtol=0, atol=TOL, err_msg=f"round {t}")
        if "risk_r_used_this_round" in rec:
            want = np.array([rec["risk_r_used_this_round"][a] for a in actors.names])
            np.testing.assert_allclose(run.risk[t, :, 0], want, rtol=0, atol=TOL, err_msg=f"round {t}")
        assert run.median[t, 0] == pytest.approx(rec["median_position"], rel=0, abs=TOL)
        assert run.mean[t, 0] == pytest.approx(rec["mean_position"], rel=0, abs=TOL)


@needs_data
def test_example_records_all_ten_rounds(eu):
    """The EU reference covers rounds 0..10, so the comparison above checks every round."""
    assert [r["round"] for r in _json("expected_ExampleActors_10rounds.json")["rounds"]] == list(range(11))


@needs_data
def test_sultan_never_moves(sultan):
    """No Sultan actor ever accepts an offer: median 13.9 and the same mean in every round."""
    run = _run(sultan, rounds=10)
    assert np.array_equal(run.positions, np.broadcast_to(run.positions[0], run.positions.shape))
    np.testing.assert_allclose(run.median, 13.9, rtol=0, atol=TOL)
    np.testing.assert_allclose(run.mean, 13.619912134884823, rtol=0, atol=TOL)


@needs_data
def test_the_200_published_monte_carlo_runs_are_reproduced_run_by_run(eu):
    """With the harness's own draws (random.Random(seed).normalvariate), every final median and mean matches."""
    ref = _json("mc_salience_sigma0.05_N200_summary.json")
    per_run = np.array(ref["per_run_final"])
    sal = np.empty((len(eu.names), len(per_run)))
    for col, seed in enumerate(per_run[:, 0].astype(int)):
        draw = random.Random(int(seed))
        sal[:, col] = [min(1.0, max(0.0, s + draw.normalvariate(0, 0.05))) for s in eu.salience]
    run = run_eum(eu.capability, eu.position, sal, rounds=10)
    np.testing.assert_allclose(run.median[-1], per_run[:, 1], rtol=0, atol=TOL)
    np.testing.assert_allclose(run.mean[-1], per_run[:, 2], rtol=0, atol=TOL)


# --- batching ---------------------------------------------------------------------------


@needs_data
def test_replicate_columns_are_independent_and_equal_to_a_single_run(eu):
    """Five identical columns give five identical trajectories, each equal to the one-column run."""
    single = _run(eu, rounds=10)
    cols = [np.repeat(a[:, None], 5, axis=1) for a in (eu.capability, eu.position, eu.salience)]
    batch = run_eum(*cols, rounds=10)
    for field in ("positions", "risk", "median", "mean"):
        many, one = getattr(batch, field), getattr(single, field)
        assert many.shape[-1] == 5
        assert np.array_equal(many, np.repeat(many[..., :1], 5, axis=-1)), field
        np.testing.assert_allclose(many, np.repeat(one, 5, axis=-1), rtol=0, atol=1e-12, err_msg=field)


@needs_data
@pytest.mark.parametrize("name", ["ExampleActors", "Sultan"])
def test_actor_order_does_not_matter(name):
    """Reversing the actors changes no position, exponent, median or mean by more than 1e-9."""
    actors = load_actors_csv(DATA / f"{name}.csv")
    fwd = _run(actors, rounds=10)
    rev = run_eum(actors.capability[::-1], actors.position[::-1], actors.salience[::-1], rounds=10)
    np.testing.assert_allclose(rev.positions[:, ::-1], fwd.positions, rtol=0, atol=TOL)
    np.testing.assert_allclose(rev.risk[:, ::-1], fwd.risk, rtol=0, atol=TOL)
    np.testing.assert_allclose(rev.median, fwd.median, rtol=0, atol=TOL)
    np.testing.assert_allclose(rev.mean, fwd.mean, rtol=0, atol=TOL)


@needs_data
def test_step_by_step_equals_run(eu):
    """Calling step_eum round by round with the initial range reproduces run_eum."""
    run = _run(eu, rounds=10)
    x = eu.position[:, None]
    c, s = eu.capability[:, None], eu.salience[:, None]
    for t in range(1, 11):
        x, risk = step_eum(x, c, s, np.ptp(eu.position))
        np.testing.assert_array_equal(x, run.positions[t])
        np.testing.assert_array_equal(risk, run.risk[t])


# --- Monte Carlo --------------------------------------------------------------------------


@needs_data
def test_monte_carlo_agrees_with_the_published_200_runs(eu):
    """Salience sd 0.05, 2000 runs: P(final median >= 8.5) and its mean agree with the published run."""
    ref = _json("mc_salience_sigma0.05_N200_summary.json")["summary"]
    n_pub = ref["N"]
    out = run_eum_monte_carlo(eu, np.random.default_rng(20110), 2000, salience_sd=0.05, rounds=10)
    ours = summarise_final_median(out.median, threshold=8.5)
    p_pub = ref["frac_final_median_ge_8.5"]
    se_pub = np.sqrt(p_pub * (1 - p_pub) / n_pub)
    assert abs(ours.frac_at_least - p_pub) < 3 * np.hypot(se_pub, ours.se_frac)
    se_mean_pub = ref["final_median_sd"] / np.sqrt(n_pub)
    assert abs(ours.mean - ref["final_median_mean"]) < 3 * np.hypot(se_mean_pub, ours.se_mean)


@needs_data
def test_chunk_size_does_not_change_results(eu):
    """The same generator state gives the same outcomes whatever the chunk size."""
    runs = [run_eum_monte_carlo(eu, np.random.default_rng(3), 300, salience_sd=0.05, capability_sd=0.01,
                                position_sd=0.5, rounds=4, chunk_size=k) for k in (300, 64, 7)]
    for other in runs[1:]:
        np.testing.assert_array_equal(other.median, runs[0].median)
        np.testing.assert_array_equal(other.mean, runs[0].mean)


@needs_data
def test_perturbed_inputs_stay_in_bounds(eu):
    """Perturbed salience stays in [0, 1], capability >= 0, positions in the initial range."""
    c, x, s = perturb_inputs(eu, np.random.default_rng(1), 5000, salience_sd=0.5, capability_sd=0.5,
                             position_sd=10)
    assert c.shape == x.shape == s.shape == (len(eu.names), 5000)
    assert s.min() >= 0 and s.max() <= 1 and c.min() >= 0
    assert x.min() >= eu.position.min() and x.max() <= eu.position.max()
    assert s.min() == 0 and s.max() == 1  # the clip was exercised


@needs_data
def test_zero_sd_leaves_inputs_unchanged(eu):
    """With every sd at 0 each replicate is the input itself."""
    c, x, s = perturb_inputs(eu, np.random.default_rng(1), 3)
    for got, want in ((c, eu.capability), (x, eu.position), (s, eu.salience)):
        assert np.array_equal(got, np.repeat(want[:, None], 3, axis=1))


@needs_data
@pytest.mark.parametrize("kw", [{"salience_sd": -0.1}, {"position_sd": float("nan")}, {"n": 0}])
def test_perturb_inputs_rejects_bad_arguments(eu, kw):
    """A negative or non-finite sd, or no replicates, is an InputError naming the argument."""
    args = {"n": 10} | kw
    with pytest.raises(InputError) as err:
        perturb_inputs(eu, np.random.default_rng(0), **args)
    assert err.value.problems[0].path == next(iter(kw))


# --- weighted median -----------------------------------------------------------------------


def test_weighted_median_known_answer():
    """The w-weighted median of 4/7/10 with weights .242/.099/.336 is 7, batched per column."""
    x = np.array([[4.0, 4.0], [7.0, 7.0], [10.0, 10.0]])
    w = np.array([[0.242, 0.5], [0.099, 0.1], [0.336, 0.1]])
    assert weighted_median(x, w).tolist() == [7.0, 4.0]


def test_weighted_median_tie_goes_to_the_first_actor():
    """Exact ties go to the candidate met first in input order (the replication's incumbent)."""
    x = np.array([[1.0], [2.0]])
    w = np.array([[1.0], [1.0]])
    assert weighted_median(x, w)[0] == 1.0
    assert weighted_median(x[::-1], w)[0] == 2.0


# --- properties of both variants ------------------------------------------------------------

actor_sets = st.integers(2, 7).flatmap(lambda n: st.tuples(
    st.lists(st.floats(0, 1), min_size=n, max_size=n),
    st.lists(st.sampled_from([0.0, 1.0, 2.5, 4.0, 7.0, 10.0]) | st.floats(0, 10), min_size=n, max_size=n),
    st.lists(st.floats(0, 1), min_size=n, max_size=n),
))


@settings(max_examples=60, deadline=None)
@given(actor_sets, st.sampled_from(["scholz", "paper"]))
def test_positions_stay_within_the_initial_range(data, variant):
    """Every position stays within the initial [min, max]; exponents stay in [0.5, 2]."""
    c, x, s = map(np.array, data)
    run = run_eum(c, x, s, rounds=6, variant=variant)
    assert run.positions.min() >= x.min() and run.positions.max() <= x.max()
    assert run.risk.min() >= 0.5 - 1e-12 and run.risk.max() <= 2 + 1e-12
    for t in range(run.median.shape[0]):
        assert run.median[t, 0] in run.positions[t, :, 0]


@pytest.mark.parametrize("variant", ["scholz", "paper"])
def test_actors_who_agree_never_move(variant):
    """When every actor holds the same position (R = 0) nothing moves and every exponent is 1."""
    run = run_eum([0.3, 0.5, 0.9], [5.0, 5.0, 5.0], [0.2, 1.0, 0.7], rounds=5, variant=variant)
    assert np.all(run.positions == 5.0) and np.all(run.risk == 1.0)
    assert np.all(run.median == 5.0) and np.allclose(run.mean, 5.0)


@needs_data
def test_paper_variant_is_deterministic_and_differs_from_scholz(eu):
    """Two paper runs are identical; the paper rules change the EU forecast."""
    a, b = _run(eu, variant="paper"), _run(eu, variant="paper")
    assert np.array_equal(a.positions, b.positions) and np.array_equal(a.median, b.median)
    assert not np.allclose(a.positions, _run(eu).positions)


@needs_data
def test_paper_variant_rounds_are_batched_exactly(sultan):
    """Paper variant: columns with different inputs evolve as they would alone."""
    rng = np.random.default_rng(5)
    c, x, s = perturb_inputs(sultan, rng, 4, salience_sd=0.05)
    batch = run_eum(c, x, s, rounds=5, variant="paper")
    for k in range(4):
        alone = run_eum(c[:, k], x[:, k], s[:, k], rounds=5, variant="paper")
        np.testing.assert_allclose(batch.positions[..., k], alone.positions[..., 0], rtol=0, atol=1e-12)


# --- input errors -------------------------------------------------------------------------------

BAD_FILES = [
    ("missing column", "Actor,Capability,Position\nA,1,4\nB,2,7\n", [("Salience", "missing column")]),
    ("two missing", "Actor,Position\nA,4\nB,7\n", [("Capability", "missing"), ("Salience", "missing")]),
    ("not a number", "Actor,Capability,Position,Salience\nA,1,4,0.5\nB,two,7,1\n",
     [("line 3.Capability", "number", "two")]),
    ("empty cell", "Actor,Capability,Position,Salience\nA,1,,0.5\nB,2,7,1\n", [("line 2.Position", "number", "")]),
    ("nan", "Actor,Capability,Position,Salience\nA,1,nan,0.5\nB,2,7,1\n", [("line 2.Position", "finite", "nan")]),
    ("salience above 1", "Actor,Capability,Position,Salience\nA,1,4,1.5\nB,2,7,1\n",
     [("line 2.Salience", "between 0 and 1", 1.5)]),
    ("salience below 0", "Actor,Capability,Position,Salience\nA,1,4,-0.1\nB,2,7,1\n",
     [("line 2.Salience", "between 0 and 1", -0.1)]),
    ("negative capability", "Actor,Capability,Position,Salience\nA,-1,4,0.5\nB,2,7,1\n",
     [("line 2.Capability", ">= 0", -1.0)]),
    ("one actor", "Actor,Capability,Position,Salience\nA,1,4,0.5\n", [("", "at least two", 1)]),
    ("no actors", "Actor,Capability,Position,Salience\n", [("", "at least two", 0)]),
    ("empty file", "", [("", "empty")]),
    ("several at once", "Actor,Capability,Position,Salience\nA,-1,4,2\nB,x,7,1\n",
     [("line 2.Capability", ">= 0", -1.0), ("line 2.Salience", "between", 2.0), ("line 3.Capability", "number", "x")]),
]


@pytest.mark.parametrize(("text", "expected"), [pytest.param(t, e, id=i) for i, t, e in BAD_FILES])
def test_bad_csv_is_an_input_error_naming_each_problem(tmp_path, text, expected):
    """Each bad file raises one InputError with one problem per fault, naming column, line and value."""
    path = tmp_path / "actors.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError) as err:
        load_actors_csv(path)
    problems = err.value.problems
    assert len(problems) == len(expected), [str(p) for p in problems]
    for problem, (where, words, *value) in zip(problems, expected):
        assert problem.source == str(path)
        assert problem.path == where
        assert words in problem.message
        if value:
            assert problem.has_value and problem.value == value[0]
        assert str(path) in str(err.value)


def test_unreadable_csv_is_an_input_error(tmp_path):
    """A file that does not exist, or is not text, is an InputError for that file."""
    for path in (tmp_path / "absent.csv", tmp_path / "binary.csv"):
        if path.name == "binary.csv":
            path.write_bytes(b"\xff\xfe\x00\x81\x00")
        with pytest.raises(InputError) as err:
            load_actors_csv(path)
        assert err.value.problems[0].source == str(path)
        assert "cannot be read" in err.value.problems[0].message


def test_csv_header_case_and_order_are_free(tmp_path):
    """Columns may come in any order and case, with blank lines and extra columns ignored."""
    path = tmp_path / "actors.csv"
    path.write_text(" salience ,POSITION,note,actor,Capability\n0.5,4,x,A,1\n\n1,7,y,B,2\n", encoding="utf-8")
    actors = load_actors_csv(path)
    assert actors.names == ("A", "B")
    assert actors.salience.tolist() == [0.5, 1.0] and actors.position.tolist() == [4.0, 7.0]
    assert actors.capability.tolist() == [1.0, 2.0]


@pytest.mark.parametrize(("kw", "where"), [
    ({"variant": "bdm"}, "variant"),
    ({"rounds": -1}, "rounds"),
    ({"salience": [0.5, 1.2]}, "salience"),
    ({"capability": [-1.0, 1.0]}, "capability"),
    ({"position": [1.0, float("inf")]}, "position"),
    ({"position": [1.0, 2.0, 3.0]}, ""),
])
def test_run_eum_rejects_bad_input(kw, where):
    """Bad arguments to run_eum raise an InputError naming the argument and the value."""
    args = {"capability": [1.0, 1.0], "position": [1.0, 2.0], "salience": [0.5, 0.5]} | kw
    with pytest.raises(InputError) as err:
        run_eum(**args)
    assert err.value.problems[0].path == where and err.value.problems[0].has_value
