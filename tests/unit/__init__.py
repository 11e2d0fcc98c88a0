"""Unit tests that need no chain."""
