"""The assessment engine: three-valued conditions, staged rules, pure ``assess``."""
