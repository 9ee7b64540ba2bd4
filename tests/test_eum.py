"""The EUM against the Scholz replication's recorded runs, to the bit, and its own invariants."""

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
    advance_eum,
    load_actors_csv,
    perturb_inputs,
    run_eum,
    run_eum_monte_carlo,
    step_eum,
    summarise_final_median,
    weighted_median,
)
from sim.eum.batch import run_batch
from sim.eum.run import HALF
from sim.randomness import BLOCK_SIZE, Blocks

TOL = 1e-9  # only for actor reordering, which changes the order of every sum
DATA = Path(__file__).resolve().parent / "data" / "eum"
SETS = ["ExampleActors", "Sultan"] + [f"order/pub{k}" for k in (10, 12, 18, 22, 26, 30, 38, 54)]


def _json(name: str) -> dict:
    return json.loads((DATA / name).read_text(encoding="utf-8"))


def recorded(name: str) -> list[dict]:
    """The replication's recorded rounds 0..10 for data set ``name``."""
    return _json(f"{Path(name).parent}/expected_{Path(name).name}_10rounds.json")["rounds"]


@pytest.fixture(scope="module")
def eu() -> Actors:
    return load_actors_csv(DATA / "ExampleActors.csv")


@pytest.fixture(scope="module")
def sultan() -> Actors:
    return load_actors_csv(DATA / "Sultan.csv")


def _run(actors: Actors, **kw):
    return run_eum(actors.capability, actors.position, actors.salience, **kw)


# --- exact reproduction ---------------------------------------------------------------


@pytest.mark.parametrize("replicates", [1, 3], ids=["single-run kernel", "batched kernel"])
@pytest.mark.parametrize("name", SETS)
def test_every_recorded_round_is_reproduced_with_zero_difference(name, replicates):
    """Positions, risk exponents, median and mean equal the replication's exactly (np.array_equal,
    no tolerance) in every recorded round, by both kernels (Sultan's record: rounds 0 and 10, no
    exponents; test_sultan_never_moves covers the rounds between)."""
    actors = load_actors_csv(DATA / f"{name}.csv")
    columns = [np.repeat(a[:, None], replicates, axis=1) for a in (actors.capability, actors.position,
                                                                   actors.salience)]
    run = run_eum(*columns, rounds=10)
    rounds = recorded(name)
    assert [rec["round"] for rec in rounds] == ([0, 10] if name == "Sultan" else list(range(11)))
    for rec in rounds:
        t, want = rec["round"], np.array([rec["positions"][a] for a in actors.names])
        assert np.array_equal(run.positions[t], np.repeat(want[:, None], replicates, axis=1)), t
        if "risk_r_used_this_round" in rec:
            want = np.array([rec["risk_r_used_this_round"][a] for a in actors.names])
            assert np.array_equal(run.risk[t], np.repeat(want[:, None], replicates, axis=1)), t
        assert np.array_equal(run.median[t], np.full(replicates, rec["median_position"])), t
        assert np.array_equal(run.mean[t], np.full(replicates, rec["mean_position"])), t


def test_the_200_published_monte_carlo_runs_are_reproduced_with_zero_difference(eu):
    """With the harness's own draws (random.Random(seed).normalvariate), every final median and mean
    of the 200 published runs is equal exactly (np.array_equal)."""
    per_run = np.array(_json("mc_salience_sigma0.05_N200_summary.json")["per_run_final"])
    sal = np.empty((len(eu.names), len(per_run)))
    for col, seed in enumerate(per_run[:, 0].astype(int)):
        draw = random.Random(int(seed))
        sal[:, col] = [min(1.0, max(0.0, s + draw.normalvariate(0, 0.05))) for s in eu.salience]
    run = run_eum(eu.capability, eu.position, sal, rounds=10)
    assert np.array_equal(run.median[-1], per_run[:, 1])
    assert np.array_equal(run.mean[-1], per_run[:, 2])


def test_sultan_never_moves(sultan):
    """No Sultan actor ever accepts an offer: median 13.9 and the same mean in every round."""
    run = _run(sultan, rounds=10)
    assert np.array_equal(run.positions, np.broadcast_to(run.positions[0], run.positions.shape))
    assert np.all(run.median == 13.9) and np.all(run.mean == 13.619912134884823)


# --- batching ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["ExampleActors", "Sultan"])
def test_actor_order_does_not_matter_beyond_rounding(name):
    """Reversing the actors reorders every sum, which moves no result by more than 1e-9."""
    actors = load_actors_csv(DATA / f"{name}.csv")
    fwd = _run(actors, rounds=10)
    rev = run_eum(actors.capability[::-1], actors.position[::-1], actors.salience[::-1], rounds=10)
    np.testing.assert_allclose(rev.positions[:, ::-1], fwd.positions, rtol=0, atol=TOL)
    np.testing.assert_allclose(rev.risk[:, ::-1], fwd.risk, rtol=0, atol=TOL)
    np.testing.assert_allclose(rev.median, fwd.median, rtol=0, atol=TOL)
    np.testing.assert_allclose(rev.mean, fwd.mean, rtol=0, atol=TOL)


@pytest.mark.parametrize("variant", ["scholz", "paper"])
def test_step_by_step_equals_run(eu, variant):
    """Calling step_eum round by round with the initial range reproduces run_eum exactly."""
    run = _run(eu, rounds=10, variant=variant)
    x = eu.position[:, None]
    c, s = eu.capability[:, None], eu.salience[:, None]
    for t in range(1, 11):
        x, risk = step_eum(x, c, s, np.ptp(eu.position), variant=variant)
        assert np.array_equal(x, run.positions[t]) and np.array_equal(risk, run.risk[t])
    assert np.array_equal(advance_eum(eu.position[:, None], c, s, np.ptp(eu.position), 10, variant=variant),
                          run.positions[10])


def test_positions_beyond_the_range_count_as_the_range_apart():
    """In the weekly engine positions may leave the initial range: distances are capped at R, so
    exponents stay in [0.5, 2], and 70 replicates (two tiles) move as one does."""
    c, s = np.array([1.0, 0.5, 0.8, 0.3]), np.array([0.9, 0.6, 0.4, 1.0])
    x = np.array([-0.5, 0.2, 0.6, 1.7])  # R = 1 given, positions 2.2 apart
    one = step_eum(x[:, None], c[:, None], s[:, None], 1.0)
    many = step_eum(np.repeat(x[:, None], 70, axis=1), np.repeat(c[:, None], 70, axis=1),
                    np.repeat(s[:, None], 70, axis=1), 1.0)
    assert np.all(np.isfinite(one[0])) and np.all((one[1] >= 0.5) & (one[1] <= 2))
    assert np.array_equal(many[0], np.repeat(one[0], 70, axis=1))


# --- Monte Carlo --------------------------------------------------------------------------


def test_monte_carlo_agrees_with_the_published_200_runs(eu):
    """Salience sd 0.05, 4000 runs at a fixed seed: P(final median >= 8.5) and its mean agree with the
    published 200 runs within 3 combined standard errors."""
    ref = _json("mc_salience_sigma0.05_N200_summary.json")["summary"]
    n_pub = ref["N"]
    out = run_eum_monte_carlo(eu, 20110, 4000, salience_sd=0.05, rounds=10)
    ours = summarise_final_median(out.median, threshold=8.5)
    p_pub = ref["frac_final_median_ge_8.5"]
    se_pub = np.sqrt(p_pub * (1 - p_pub) / n_pub)
    assert abs(ours.frac_at_least - p_pub) < 3 * np.hypot(se_pub, ours.se_frac)
    se_mean_pub = ref["final_median_sd"] / np.sqrt(n_pub)
    assert abs(ours.mean - ref["final_median_mean"]) < 3 * np.hypot(se_mean_pub, ours.se_mean)


def test_chunk_size_and_run_count_do_not_change_a_replicate(eu):
    """The same seed gives each replicate the same outcome whatever the chunk size or the number of runs."""
    kw = {"salience_sd": 0.05, "capability_sd": 0.01, "position_sd": 0.5, "rounds": 4}
    runs = [run_eum_monte_carlo(eu, 3, 2 * BLOCK_SIZE + 5, chunk_size=k, **kw) for k in (5000, BLOCK_SIZE, 37)]
    for other in runs[1:]:
        assert np.array_equal(other.median, runs[0].median) and np.array_equal(other.mean, runs[0].mean)
    fewer = run_eum_monte_carlo(eu, 3, 100, **kw)
    assert np.array_equal(fewer.median, runs[0].median[:, :100])
    assert not np.array_equal(run_eum_monte_carlo(eu, 4, 100, **kw).median, fewer.median)


def test_each_quantity_draws_its_own_noise(eu):
    """Adding position noise leaves the salience noise of every replicate as it was."""
    blocks = Blocks(11, 2, 1)
    _, x0, s0 = perturb_inputs(eu, blocks, salience_sd=0.1)
    _, x1, s1 = perturb_inputs(eu, blocks, salience_sd=0.1, position_sd=1.0)
    assert np.array_equal(s0, s1) and not np.array_equal(x0, x1)
    assert np.array_equal(x0, np.repeat(eu.position[:, None], BLOCK_SIZE, axis=1))


def test_perturbed_inputs_stay_in_bounds(eu):
    """Perturbed salience stays in [0, 1], capability >= 0, positions in the initial range."""
    c, x, s = perturb_inputs(eu, Blocks(1, 0, 5), salience_sd=0.5, capability_sd=0.5, position_sd=10)
    assert c.shape == x.shape == s.shape == (len(eu.names), 5 * BLOCK_SIZE)
    assert s.min() >= 0 and s.max() <= 1 and c.min() >= 0
    assert x.min() >= eu.position.min() and x.max() <= eu.position.max()
    assert s.min() == 0 and s.max() == 1  # the clip was exercised


def test_a_huge_sd_sends_every_value_to_a_bound_without_a_warning(eu, recwarn):
    """sd 1e308 overflows to +-inf before the clip: each value lands on a bound, silently."""
    c, x, s = perturb_inputs(eu, Blocks(1, 0, 1), salience_sd=1e308, capability_sd=1e308, position_sd=1e308)
    assert np.isin(s, [0.0, 1.0]).all() and np.isin(x, [eu.position.min(), eu.position.max()]).all()
    assert not np.isnan(c).any() and len(recwarn) == 0


def test_zero_sd_leaves_inputs_unchanged(eu):
    """With every sd at 0 each replicate is the input itself."""
    c, x, s = perturb_inputs(eu, Blocks(1, 0, 1))
    for got, want in ((c, eu.capability), (x, eu.position), (s, eu.salience)):
        assert np.array_equal(got, np.repeat(want[:, None], BLOCK_SIZE, axis=1))


@pytest.mark.parametrize("kw", [{"salience_sd": -0.1}, {"position_sd": float("nan")}, {"capability_sd": np.inf}])
def test_perturb_inputs_rejects_bad_arguments(eu, kw):
    """A negative or non-finite sd is an InputError naming the argument."""
    with pytest.raises(InputError) as err:
        perturb_inputs(eu, Blocks(0, 0, 1), **kw)
    assert err.value.problems[0].path == next(iter(kw))


@pytest.mark.parametrize(("kw", "where"), [({"n": 0}, "n"), ({"chunk_size": 0}, "chunk_size")])
def test_monte_carlo_rejects_bad_counts(eu, kw, where):
    """No replicates, or chunks of none, is an InputError naming the argument."""
    with pytest.raises(InputError) as err:
        run_eum_monte_carlo(eu, 0, **({"n": 10} | kw))
    assert err.value.problems[0].path == where


# --- weighted median (the paper variant's) -------------------------------------------------


def test_weighted_median_known_answer():
    """The w-weighted median of 4/7/10 with weights .242/.099/.336 is 7, batched per column."""
    x = np.array([[4.0, 4.0], [7.0, 7.0], [10.0, 10.0]])
    w = np.array([[0.242, 0.5], [0.099, 0.1], [0.336, 0.1]])
    assert weighted_median(x, w).tolist() == [7.0, 4.0]


def test_weighted_median_tie_goes_to_the_first_actor():
    """Exact ties go to the candidate met first in input order."""
    x = np.array([[1.0], [2.0]])
    w = np.array([[1.0], [1.0]])
    assert weighted_median(x, w)[0] == 1.0
    assert weighted_median(x[::-1], w)[0] == 2.0


def test_scholz_median_ties_go_to_the_first_in_cpython_set_order():
    """The replication's median breaks exact ties by set order: {6.0, 4.0} iterates 4.0 first."""
    for x in ([6.0, 4.0], [4.0, 6.0]):
        assert run_eum([1.0, 1.0], x, [0.25, 0.25], rounds=0).median[0, 0] == 4.0


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


def _pow_calls(c, x, s, rounds):
    """The C library pow calls of the batched kernel, for benchmarks/bench_eum.py's floor."""
    c, x, s = (np.ascontiguousarray(np.asarray(a, dtype=float)) for a in (c, x, s))
    none = np.empty((0,) + x.shape)
    span = x.max(axis=0) - x.min(axis=0)
    return run_batch(c, s, x.copy(), span, rounds, 1.0, HALF, none, none, none[:, 0], none[:, 0])


def test_the_pow_calls_the_benchmark_counts_add_up_over_replicates(eu):
    """Counted per replicate: a batch makes the sum of its replicates' calls; agreeing actors
    make only the status-quo pow of each actor in round 1, then sit at a fixed point."""
    blocks = Blocks(2011, 0, 1)
    c, x, s = (a[:, :70] for a in perturb_inputs(eu, blocks, salience_sd=0.05))
    whole = _pow_calls(c, x, s, 4)
    assert whole == sum(_pow_calls(c[:, k:k + 1], x[:, k:k + 1], s[:, k:k + 1], 4) for k in range(70))
    assert whole > 70 * 4 * len(eu.names)  # more than the status-quo pows alone
    agree = np.full((3, 5), 2.0)
    assert _pow_calls(np.ones((3, 5)), agree, np.ones((3, 5)), 6) == 3 * 5


def test_no_weight_gives_no_probability_and_the_plain_mean():
    """With every salience 0 the scholz probabilities are 0 and the mean is the plain mean."""
    run = run_eum([1.0, 2.0, 3.0], [0.0, 3.0, 9.0], [0.0, 0.0, 0.0], rounds=3)
    assert np.all(run.mean == 4.0) and np.all(np.isfinite(run.positions))


def test_paper_variant_is_deterministic_and_differs_from_scholz(eu):
    """Two paper runs are identical; the paper rules change the EU forecast."""
    a, b = _run(eu, variant="paper"), _run(eu, variant="paper")
    assert np.array_equal(a.positions, b.positions) and np.array_equal(a.median, b.median)
    assert not np.allclose(a.positions, _run(eu).positions)


def test_paper_variant_rounds_are_batched_exactly(sultan):
    """Paper variant: columns with different inputs evolve as they would alone."""
    c, x, s = perturb_inputs(sultan, Blocks(5, 0, 1), salience_sd=0.05)
    batch = run_eum(c[:, :4], x[:, :4], s[:, :4], rounds=5, variant="paper")
    for k in range(4):
        alone = run_eum(c[:, k], x[:, k], s[:, k], rounds=5, variant="paper")
        np.testing.assert_allclose(batch.positions[..., k], alone.positions[..., 0], rtol=0, atol=1e-12)


def test_paper_variant_needs_memory_quadratic_not_cubic_in_the_actors():
    """One paper round of 150 actors peaks well below the 27 MB of an (n, n, n) array (it took
    8 n^3 bytes: 216 GB for 3,000 actors), and its probabilities are, to the bit, those of
    summing |v_a(x_i, x_j)| over every actor at once."""
    import tracemalloc

    from sim.eum.paper import _probabilities

    rng = np.random.default_rng(3)
    n = 150
    c, x, s = rng.uniform(0, 1, n), rng.integers(1, 8, n).astype(float), rng.uniform(0, 1, n)
    tracemalloc.start()
    try:
        run_eum(c, x, s, rounds=1, variant="paper")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8 * n**3 / 4
    for size in (1, 7, 64):
        x, w, r = rng.uniform(-3, 3, (9, size)), rng.uniform(0, 1, (9, size)), rng.uniform(0.5, 2, (9, size))
        dn = np.minimum(np.abs(x[:, None] - x[None]) / (x.max(0) - x.min(0)), 1.0)
        wd = w[:, None, :] * dn ** r[:, None, :]
        pairwise = np.abs(wd[:, None, :, :] - wd[:, :, None, :]).sum(axis=0)
        support = wd.sum(axis=0)
        num = np.maximum(0.5 * ((support[None] - support[:, None]) + pairwise), 0.0)
        expected = np.divide(num, pairwise, out=np.full_like(num, 0.5), where=pairwise > 0)  # 1/2 if 0/0
        assert np.array_equal(_probabilities(dn, w, r), expected)


def test_a_paper_monte_carlo_keeps_no_positions(eu):
    """A paper Monte Carlo of 300 rounds keeps only medians and means (1.2 MB for 256 replicates),
    not every actor's position and exponent of every round (12 MB here, 28 GB at 10,000 rounds
    of the default chunk), and its medians and means are those of run_eum on the same inputs."""
    import tracemalloc

    blocks = Blocks(2, 0, 1)
    tracemalloc.start()
    try:
        out = run_eum_monte_carlo(eu, 2, 256, salience_sd=0.1, rounds=300, variant="paper")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 9e6  # the step's (n_actors, n_actors, 256) arrays take about 5 MB
    c, x, s = perturb_inputs(eu, blocks, salience_sd=0.1)
    run = run_eum(c[:, :16], x[:, :16], s[:, :16], rounds=300, variant="paper")
    assert np.array_equal(out.median[:, :16], run.median) and np.array_equal(out.mean[:, :16], run.mean)


@pytest.mark.parametrize(("kw", "where"), [
    ({"variant": "bdm"}, "variant"),
    ({"rounds": -1}, "rounds"),
    ({"q": 1.5}, "q"),
    ({"salience": [0.5, 1.2]}, "salience"),
    ({"capability": [-1.0, 1.0]}, "capability"),
    ({"capability": [1e101, 1.0]}, "capability"),
    ({"position": [1.0, float("inf")]}, "position"),
    ({"position": [1.0, -1e308]}, "position"),
    ({"position": [1.0, 2.0, 3.0]}, ""),
])
def test_run_eum_rejects_bad_input(kw, where):
    """Bad arguments to run_eum raise an InputError naming the argument and the value."""
    args = {"capability": [1.0, 1.0], "position": [1.0, 2.0], "salience": [0.5, 0.5]} | kw
    with pytest.raises(InputError) as err:
        run_eum(**args)
    assert err.value.problems[0].path == where and err.value.problems[0].has_value


def test_the_command_line_offers_every_variant():
    """The CLI names the variants without importing the kernels; the names must stay the library's."""
    from sim.cli.eum import VARIANT_NAMES
    from sim.eum import VARIANTS

    assert VARIANT_NAMES == VARIANTS
