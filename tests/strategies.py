"""Hypothesis strategies for scenarios; they live in `sim.strategies` so users can import them."""

from sim.strategies import *  # noqa: F401,F403
from sim.strategies import __all__  # noqa: F401
