"""The shared price-file format, read in one place for every tool that replays or tests on prices.

Format (data/README.md): a header with a `date` column and one column per price (`btc_usd`,
`eth_usd` by default; found by name, extra columns ignored), then one row per day: the date as
YYYY-MM-DD, strictly increasing (gaps are allowed), every price a finite number > 0 [USD].

Readers: the relayer's replay source (`oracle.sources.CsvReplaySource`), the simulation and the
demo (`window`: where a replay starts and whether the file covers it) and the reports
(`keel.reports.prices.load_prices`). A file that breaks the format is refused whole, with one line
naming the file, the line and the value at fault (`PriceFileError`): dates are parsed and compared
as dates, never as text.
"""

from __future__ import annotations

import csv
import math
import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_PRICE_FILE = ROOT / "data" / "btc_eth_daily_2016_2019.csv"
DATE_COLUMN = "date"
PRICE_COLUMNS = ("btc_usd", "eth_usd")
_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


class PriceFileError(ValueError):
    """The price file is missing or not in the shared format; the message is one line."""


def parse_day(text: str) -> date:
    """A YYYY-MM-DD date; ValueError naming the text otherwise."""
    text = str(text).strip()
    if _ISO_DAY.fullmatch(text):
        try:
            return date.fromisoformat(text)
        except ValueError:
            pass
    raise ValueError(f"{text!r} is not a date (YYYY-MM-DD)")


@dataclass(frozen=True)
class PriceFile:
    """A price file's rows: `prices[i]` are the closes of `dates[i]`, in `columns` order [USD]."""

    path: Path
    columns: tuple[str, ...]
    dates: tuple[date, ...]
    prices: tuple[tuple[float, ...], ...]

    def __len__(self) -> int:
        return len(self.dates)

    def window(self, start: date, rows: int) -> int:
        """Index of the first row dated `start` or later, checking that `rows` rows follow from
        there (that row included): a replay of `rows` days must not run out of prices."""
        first, last = self.dates[0], self.dates[-1]
        if start < first or start > last:
            raise PriceFileError(
                f"{self.path}: start {start} is outside the file's dates {first} to {last}"
            )
        i = next(i for i, d in enumerate(self.dates) if d >= start)
        if len(self) - i < rows:
            raise PriceFileError(
                f"{self.path}: {len(self) - i} row(s) from {self.dates[i]} to {last}, {rows} needed"
            )
        return i


def read_price_file(
    path: str | Path, columns: tuple[str, ...] = PRICE_COLUMNS, *, min_rows: int = 1
) -> PriceFile:
    """Reads and checks a price file (see the module docstring); PriceFileError otherwise."""
    path = Path(path)
    try:
        return _read(path, columns, min_rows)
    except FileNotFoundError:
        raise PriceFileError(f"{path}: no such file") from None
    except OSError as exc:
        raise PriceFileError(f"{path}: cannot read it ({exc.strerror})") from None
    except (UnicodeDecodeError, csv.Error) as exc:
        raise PriceFileError(f"{path}: not a CSV text file ({exc})") from None


def _read(path: Path, columns: tuple[str, ...], min_rows: int) -> PriceFile:
    with open(path, newline="", encoding="utf-8-sig") as fh:  # -sig: a spreadsheet's BOM
        reader = csv.DictReader(fh)
        header = reader.fieldnames or []
        missing = [c for c in (DATE_COLUMN, *columns) if c not in header]
        if missing:
            raise PriceFileError(
                f"{path}: missing column(s) {', '.join(missing)}; "
                f"the header is {','.join(header) or '(empty)'}"
            )
        dates: list[date] = []
        prices: list[tuple[float, ...]] = []
        for row in reader:
            line = reader.line_num  # the file's line (blank lines are skipped, not counted)
            try:
                day = parse_day(row[DATE_COLUMN] or "")
            except ValueError as exc:
                raise PriceFileError(f"{path}:{line}: {DATE_COLUMN} {exc}") from None
            if dates and day <= dates[-1]:
                raise PriceFileError(
                    f"{path}:{line}: date {day} is not after {dates[-1]} (dates must increase)"
                )
            closes = []
            for col in columns:
                text = (row[col] or "").strip()
                try:
                    value = float(text)
                except ValueError:
                    raise PriceFileError(f"{path}:{line}: {col} {text!r} is not a number") from None
                # a replayed zero or negative close would be a report the Oracle refuses
                if not (math.isfinite(value) and value > 0):
                    raise PriceFileError(
                        f"{path}:{line}: {col} {text} is not a price (finite and > 0)"
                    )
                closes.append(value)
            dates.append(day)
            prices.append(tuple(closes))
    if len(dates) < min_rows:
        raise PriceFileError(
            f"{path}: need at least {min_rows} row(s) of prices, found {len(dates)}"
        )
    return PriceFile(path, tuple(columns), tuple(dates), tuple(prices))


def replay_start(path: str | Path, start: str, rows: int, why: str) -> int:
    """Where a replay of `rows` rows from the date `start` begins in the price file at `path`
    (`PriceFile.window`); PriceFileError otherwise, a window's error ending with `why` (the options
    that asked for it)."""
    prices = read_price_file(path)
    try:
        return prices.window(parse_day(start), rows)
    except (PriceFileError, ValueError) as exc:
        raise PriceFileError(f"{exc} ({why})") from None
