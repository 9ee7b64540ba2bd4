"""The scenario file's schema: params and dates (`params`), the models
(`scenario`) and the cross-field rules (`rules`). Reading files is `sim.loading`."""

from .params import (Beta, DateParam, DateTriangular, DateUniform, Dist, Fixed, Name, NonNegative, Normal, Param,
                     Probability, Shift, Triangular, Uniform, Unit, date_range, is_random, mean_of, sample,
                     shift_param, support)
from .scenario import (Agent, Alliance, Calendar, Cancellation, Condition, Dynamics, Effect, Election, Event,
                       Incident, Issue, MonteCarlo, Observed, Outcome, Relations, Scenario, Stance, Summit, Trust,
                       scenario_hash)

__all__ = [
    "Agent", "Alliance", "Beta", "Calendar", "Cancellation", "Condition", "DateParam", "DateTriangular",
    "DateUniform", "Dist", "Dynamics", "Effect", "Election", "Event", "Fixed", "Incident", "Issue", "MonteCarlo",
    "Name", "NonNegative", "Normal", "Observed", "Outcome", "Param", "Probability", "Relations", "Scenario",
    "Shift", "Stance", "Summit", "Triangular", "Trust", "Uniform", "Unit", "date_range", "is_random", "mean_of",
    "sample", "scenario_hash", "shift_param", "support",
]
