"""Hypothesis strategies for scenarios, for property tests of `sim` and of your own scenarios.

`scenario_dicts()` draws plain data (what `yaml.safe_load` returns) that the schema
accepts; `scenarios()` validates it into `Scenario` objects; `mutated_scenario_dicts()`
breaks one thing in a valid dict, for fuzzing the loader. Needs `hypothesis`.

    from hypothesis import given
    from sim.strategies import scenarios

    @given(scenarios())
    def test_my_invariant(scenario): ...
"""

from .mutations import MUTATIONS, mutated_scenario_dicts
from .scenarios import effects, names, params, scenario_dicts, scenarios

__all__ = ["MUTATIONS", "effects", "mutated_scenario_dicts", "names", "params", "scenario_dicts", "scenarios"]
