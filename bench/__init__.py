"""Benchmarks of oscar-local and the client; ``python -m bench`` prints the table."""
