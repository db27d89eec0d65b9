"""Benchmarks that print figures and ratios from one run (`make bench`, `python -m bench.run`)."""
