"""Benchmark scripts (each a module with a plain `main()`; results go to reports/)."""
