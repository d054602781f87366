"""Schema, strict loader and consistency checks for the knowledge base in ``spinecds/kb``."""
