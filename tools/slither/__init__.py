"""Static analysis with slither, checked against a committed triage (see run.py)."""
