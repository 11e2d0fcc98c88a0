"""Structured logs of every Keel process: each decision is one record with an event name and fields.

`event(logger, "push-decision", feed=1, push=True, reason="deviation")` logs a record whose
`event` and `fields` attributes survive to the formatter: `--log-format json` writes one JSON object
per line (for machines and tests), `text` writes `event k=v ...` (for people).
"""

from __future__ import annotations

import json
import logging
import sys
import time

LOGGER_NAME = "keel.client"  # the SDK's; the relayer logs as keel.relayer, the keepers keel.keeper


def get_logger(name: str = LOGGER_NAME) -> logging.Logger:
    return logging.getLogger(name)


def event(logger: logging.Logger, name: str, level: int = logging.INFO, **fields) -> None:
    logger.log(level, name, extra={"event": name, "fields": fields})


def _jsonable(v):
    if isinstance(v, bytes):
        return "0x" + v.hex()
    if isinstance(v, (set, frozenset, tuple)):
        return [_jsonable(x) for x in v]
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_jsonable(x) for x in v]
    if isinstance(v, (int, float, str, bool)) or v is None:
        return v
    return str(v)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out = {
            "ts": round(record.created, 3),
            "level": record.levelname,
            "logger": record.name,
            "event": getattr(record, "event", record.getMessage()),
        }
        out.update(_jsonable(getattr(record, "fields", {})))
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, sort_keys=False)


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        fields = getattr(record, "fields", {})
        kv = " ".join(f"{k}={_jsonable(v)}" for k, v in fields.items())
        line = f"{ts}Z {record.levelname:<7} {getattr(record, 'event', record.getMessage())} {kv}"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line.rstrip()


def configure(
    level: str = "INFO", fmt: str = "text", stream=None, logger_name: str = LOGGER_NAME
) -> logging.Logger:
    """Sends logger `logger_name`'s records to `stream` (stderr) in `fmt` ("text" or "json")."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    logger = logging.getLogger(logger_name)
    logger.handlers[:] = [handler]
    logger.setLevel(level.upper())
    logger.propagate = False
    return logger
