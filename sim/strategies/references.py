"""Where a scenario names an agent or an issue: `sim.schema.references`, here for the property
tests that rename (`rename`) or break (`sim.strategies.mutations`) one reference."""

from ..schema.references import DEFINITIONS, NOT_REFERENCES, REFERENCES, Site, name_sites, rename, rename_at

__all__ = ["DEFINITIONS", "NOT_REFERENCES", "REFERENCES", "Site", "name_sites", "rename", "rename_at"]
