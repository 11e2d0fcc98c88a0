"""Keel: Python side of the on-chain cross-margining protocol (chain helpers, demo, benchmarks)."""
