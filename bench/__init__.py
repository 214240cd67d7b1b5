"""Benchmarks: each module has ``main()`` printing figures and ratios against a baseline
measured in the same run. ``make bench`` (``python -m bench``) runs them all; ``python -m
bench NAME...`` runs some. Timings live here, never as assertions in tests."""
