"""Hypothesis strategies for scenarios, for property tests of `sim` and of your own scenarios.

`scenario_dicts()` draws plain data (what `yaml.safe_load` returns) that the schema
accepts; `scenarios()` validates it into `Scenario` objects; `mutated_scenario_dicts()`
breaks one thing in a valid dict, for fuzzing the loader (`parse_scenario(d)`
loads it or raises `InputError`), and `mutations_of(scenario)` in your own scenario. They
draw `convergence` scenarios without `summit.weights` or `observed` unless asked:
`engines=("convergence", "eum")`, `weights=True`, `observed=True` (`scenario_dicts`).
Needs `hypothesis`. The first `sim.run` in a process loads the compiled kernels (about
half a second), past hypothesis's default deadline of 200 ms, so a test that runs the
model wants `deadline=None`; ask for few runs, each
example then takes milliseconds:

    import math

    from hypothesis import given, settings
    from sim import run
    from sim.strategies import scenarios

    @settings(deadline=None)
    @given(scenarios())
    def test_the_classes_sum_to_one(scenario):
        result = run(scenario, runs=500, seed=1)
        assert math.isclose(sum(e.p for e in result.estimates().values()), 1.0)
"""

from .mutations import MUTATIONS, mutated_scenario_dicts, mutations_of
from .scenarios import effects, names, params, scenario_dicts, scenarios

__all__ = ["MUTATIONS", "effects", "mutated_scenario_dicts", "mutations_of", "names", "params", "scenario_dicts",
           "scenarios"]
