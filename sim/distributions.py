"""Drawing the scenario's parameters as arrays: the engine-facing names.

A param (a number or a `schema` distribution) samples itself; these are the
functions the engine calls, so it never needs to know the distribution types.
"""

from .schema.params import is_random, sample, shift_param, support

__all__ = ["is_random", "sample", "shift_param", "support"]
