"""Benchmarks; run from the repository root: `python -m benchmarks.performance`, `.profile`, `.classic_vs_joint`."""
