"""The scenario file's schema: params and dates (`params`), the models
(`scenario`) and the cross-field rules (`rules`). Reading files is `sim.loading`."""

from .outcome import AllOf, AnyOf, Condition, Level, Observed, Outcome, Signed, condition_leaves
from .params import (
                     Beta,
                     DateParam,
                     DateTriangular,
                     DateUniform,
                     Dist,
                     Fixed,
                     Name,
                     NonNegative,
                     Normal,
                     Param,
                     Probability,
                     Shift,
                     Triangular,
                     Uniform,
                     Unit,
                     date_range,
                     is_random,
                     mean_of,
                     sample,
                     shift_param,
                     support,
)
from .scenario import (
                     DESCRIPTIVE,
                     Agent,
                     Alliance,
                     Calendar,
                     Dynamics,
                     Effect,
                     Election,
                     Event,
                     Incident,
                     Issue,
                     MonteCarlo,
                     Relations,
                     Scenario,
                     Stance,
                     Trust,
                     scenario_hash,
)
from .summit import Bargaining, Cancellation, Mediator, Roles, Summit

__all__ = [
    "Agent", "AllOf", "Alliance", "AnyOf", "Bargaining", "Beta", "Calendar", "Cancellation", "Condition", "DateParam",
    "DateTriangular", "DateUniform", "Dist", "Dynamics", "Effect", "Election", "Event", "Fixed", "Incident", "Issue",
    "Level", "Mediator", "MonteCarlo", "Name", "NonNegative", "Normal", "Observed", "Outcome", "Param", "Probability",
    "Relations", "Roles", "Scenario", "Shift", "Signed", "Stance", "Summit", "Triangular", "Trust", "Uniform", "Unit",
    "DESCRIPTIVE", "condition_leaves", "date_range", "is_random", "mean_of", "sample", "scenario_hash",
    "shift_param", "support",
]
