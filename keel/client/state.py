"""The one state-file format of every process that sends transactions (relayer, keepers, SDK).

A JSON object with a "version", written atomically (temp file, fsync, rename: a kill -9 leaves the
old file or the new one, never half of one). `TxState` is the sender's part: the transaction in
flight (`pending`, written before it is broadcast) and how many were sent.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field, fields
from pathlib import Path

STATE_VERSION = 1


class StateFileError(ValueError):
    """A state file that cannot be read: say which and why, never start from a guess."""


def write_json_atomic(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w") as fh:
        json.dump(data, fh, indent=1)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def read_json(path: Path, version: int = STATE_VERSION) -> dict | None:
    """The state in `path` (None when there is none yet); StateFileError when unreadable."""
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise StateFileError(f"{path}: not JSON ({exc.msg})") from None
    if not isinstance(data, dict) or data.get("version") != version:
        raise StateFileError(f"{path}: unsupported state version {data.get('version')!r}")
    return data


@dataclass
class TxState:
    """A sender's state: the transaction in flight (None: none) and the count sent.

    A process that keeps more beside it (the relayer: its chain, cursor and last rounds) subclasses
    it with more fields: every field but `path` and `extra` is saved and loaded by name, so there is
    one state-file format. Keys the class does not know are kept in `extra` and written back."""

    path: Path | None = None
    pending: dict | None = None
    sent: int = 0
    extra: dict = field(default_factory=dict)  # what the owning process keeps beside it

    @classmethod
    def _saved_fields(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls) if f.name not in ("path", "extra"))

    @classmethod
    def load(cls, path: Path | None):
        data = read_json(path) if path is not None else None
        if data is None:
            return cls(path)
        names = cls._saved_fields()
        known = {name: data[name] for name in names if name in data}
        extra = {k: v for k, v in data.items() if k not in names and k != "version"}
        return cls(path=path, extra=extra, **known)

    def save(self) -> None:
        """Atomic write (temp file, fsync, rename): a kill -9 leaves the old or the new file."""
        if self.path is not None:
            saved = {name: getattr(self, name) for name in self._saved_fields()}
            write_json_atomic(self.path, {"version": STATE_VERSION, **saved, **self.extra})
