"""Benchmarks (run with PYTHONPATH=. python -m bench.<name>)."""
