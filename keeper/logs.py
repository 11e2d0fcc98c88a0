"""The keeper's structured logs: the relayer's record format (oracle.logs) under its own logger.

Every decision is one record: `event(log, "decision", action="bid-solvent", profit=..., ...)`.
`--log-format json` writes one JSON object per line (machines and tests), `text` writes
`event k=v ...` (people).
"""

from __future__ import annotations

import logging

from keel.client.logs import configure as _configure

LOGGER_NAME = "keel.keeper"


def get_logger() -> logging.Logger:
    return logging.getLogger(LOGGER_NAME)


def configure(level: str = "INFO", fmt: str = "json", stream=None) -> logging.Logger:
    """Sends the keeper's records to `stream` (stderr) in `fmt` ("json" or "text")."""
    return _configure(level, fmt, stream, logger_name=LOGGER_NAME)
