"""Parallelism strategies applied to plain models, registered by name."""
