"""Benchmarks run by hand against the shared dev sets (not part of the test suite)."""
