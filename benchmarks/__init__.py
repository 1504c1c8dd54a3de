"""Benchmarks: they measure and report (JSON + a table); they are not pass/fail tests."""
