"""Benchmarks of oscar-local; run ``python -m bench`` for the table."""
