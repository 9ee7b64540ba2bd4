"""Bueno de Mesquita's expected-utility model (EUM), batched over Monte Carlo replicates.

Actors bargain over one issue; each round every actor weighs the offers of every other
actor and moves.  Arrays are ``(n_actors, n_replicates)``, replicate axis last; the cost
is O(n_actors^3) per replicate per round.  w_a = c_a s_a; R = range of the initial
positions; v_a(p, q) = w_a [(|x_a - q| / R)^r_a - (|x_a - p| / R)^r_a], a's vote for p
over q; e_ij = EU_i(i -> j) and e_ji = EU_i(j -> i), both as i sees them (exponent r_i).
Two variants, side by side:

=================  ==============================  ===================================
rule               ``scholz`` (the replication)    ``paper`` (our reading of the
                                                   papers)
=================  ==============================  ===================================
P(x_i over x_j)    sum_a max(0, v_a(x_i, x_j)) /   sum_a max(0, v_a(x_i, x_j)) /
                   sum_a sum_b sum_c |v_a(x_b,     sum_a |v_a(x_i, x_j)|, so
                   x_c)| (all triples: tiny        P_ij + P_ji = 1; 1/2 when nobody
                   probabilities)                  cares (the sum is 0)
capitulation       never (its condition, e_ji <    e_ji > 0 > e_ij, e_ji < |e_ij|:
                   |e_ji|, is always false)        i moves all the way to x_j
compromise chosen  the one minimising (|e_ij| x_i  the one needing the smallest move
                   + |e_ji| x_j)/(|e_ij|+|e_ji|)   |x_i - new position|
median reported    scan in CPython set order, the  the first minimiser of
                   incumbent kept unless beaten    sum_a w_a |x_a - p| in input order
arithmetic         compiled, the replication's     numpy, vectorised (sums pairwise)
                   order: bit-for-bit identical
=================  ==============================  ===================================

Shared by both: the risk exponents (recomputed each round from every actor's danger,
with all exponents at 1 and the variant's own probability), the utilities, confrontation
(e_ji > e_ij > 0: move to x_j, the nearest x_j wins), the priority confrontation >
compromise > capitulation, and simultaneous moves.  ``scholz`` is the replication of
Scholz, Calbert & Smith (2011) by J. McKibben-Sanders, quirks included, bit for bit
(``replication.py``, ``batch.py``; the model stated exactly in shared/data/eum/README.md;
data in tests/data/eum).  ``paper`` (``paper.py``) applies what the replication's own
comments say Scholz et al. (2011) and BDM (1994) intend.

Cases the replication leaves undefined (it divides by zero): R = 0 (all actors agree)
gives no move and r = 1; equal dangers for every actor give r = 1; no weight at all
gives probability 0 (``scholz``) and an unweighted mean.  Ties among offers go to the
first actor in input order, as in the replication.
"""

from .actors import COLUMNS, MAGNITUDE, Actors, load_actors_csv
from .paper import weighted_median
from .run import (
    VARIANTS,
    MedianSummary,
    Outcomes,
    Trajectory,
    advance_eum,
    default_chunk_size,
    perturb_inputs,
    run_eum,
    run_eum_monte_carlo,
    step_eum,
    summarise_final_median,
)

__all__ = [
    "COLUMNS", "MAGNITUDE", "VARIANTS", "Actors", "MedianSummary", "Outcomes", "Trajectory", "advance_eum",
    "default_chunk_size", "load_actors_csv", "perturb_inputs", "run_eum", "run_eum_monte_carlo", "step_eum",
    "summarise_final_median", "weighted_median",
]
