"""A user's input data, as they have it: files or pandas objects, wide or long.

dbt reads every input as a long file (date, symbol, close; date, symbol,
weight[, sleeve]; date, portfolio_return; models/staging validates it row by
row). This module meets the user before that:

* it takes a path (CSV or Parquet) or a pandas DataFrame / Series;
* it detects the layout: long (the contract's columns are there) or wide
  (a date column or a DatetimeIndex, then one column per symbol; for a
  returns book one value column), and says which in :meth:`InputTable.describe`;
* a long file on disk is handed to dbt as it is (dbt's messages then name
  the user's own file); anything else is written once, as a long Parquet
  file named after its source and content, to ``<results>/.allocator/inputs``;
* it reads the book's sessions, so the caller can give the valid window
  (:func:`valid_window`) before dbt starts.

Values are not judged here: staging's rules (assert_valid_input.sql) are the
one definition of a valid row, and `allocator check` runs them.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from allocator import validate
from allocator.errors import InputError

#: The input roles, as dbt vars, with the long layout's columns and the
#: column that holds the value (a missing value = no observation).
ROLES: Mapping[str, tuple[tuple[str, ...], str]] = {
    "prices_path": (("date", "symbol", "close"), "close"),
    "benchmark_path": (("date", "symbol", "close"), "close"),
    "weights_path": (("date", "symbol", "weight"), "weight"),
    "portfolio_returns_path": (("date", "portfolio_return"), "portfolio_return"),
    # annual risk-free rates by date (var risk_free_rate)
    "risk_free_path": (("date", "rate"), "rate"),
}
#: What each role is called in messages.
ROLE_NAMES = {
    "prices_path": "prices",
    "benchmark_path": "benchmark",
    "weights_path": "weights",
    "portfolio_returns_path": "portfolio returns",
    "risk_free_path": "risk-free rates",
}
#: Column names taken for the date column of a wide table.
DATE_NAMES = ("date", "dates", "datetime", "timestamp", "time", "day", "index", "")
#: Where converted inputs go, under the results directory.
CONVERTED_DIR = Path(".allocator") / "inputs"
#: The text staging reads as "no value" (macros/assert_valid_input.sql is_missing_text).
MISSING_TEXT = ("", "na", "nan", "null", "none")
_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9_.-]+")


@dataclass(frozen=True)
class InputTable:
    """One input, ready for dbt: the long file it reads, and what it holds."""

    role: str  # prices_path, benchmark_path, weights_path, portfolio_returns_path
    source: str  # the path given, or "DataFrame" / "Series"
    file_format: str  # csv, parquet or pandas
    layout: str  # long or wide
    path: Path  # the long file dbt reads (the source itself when it was long on disk)
    fingerprint: str  # sha256 of the source file's bytes or the frame's long rows, 12 hex
    rows: int
    symbols: int
    dates: tuple[dt.date, ...]  # sorted sessions with a value
    symbol_names: tuple[str, ...] = ()  # sorted
    shape: tuple[int, int] = (0, 0)  # the source's rows and columns, as given

    @property
    def name(self) -> str:
        """What the input is called: the file's name, or the pandas object's kind."""
        return Path(self.source).name if self.file_format != "pandas" else self.source

    @property
    def first_date(self) -> dt.date | None:
        return self.dates[0] if self.dates else None

    @property
    def last_date(self) -> dt.date | None:
        return self.dates[-1] if self.dates else None

    @property
    def converted(self) -> bool:
        return str(self.path) != self.source

    def describe(self) -> str:
        """One log line: what was read and how it was understood."""
        kind = ROLE_NAMES[self.role]
        what = "pandas" if self.file_format == "pandas" else self.file_format.upper()
        span = f"{self.first_date} to {self.last_date}" if self.dates else "no dates"
        symbols = (
            f", {self.symbols} symbol{'s' if self.symbols != 1 else ''}" if self.symbols else ""
        )
        line = (
            f"{kind}: {self.name} is a {self.layout} {what} table, {len(self.dates):,} dates "
            f"{span}{symbols} (sha256 {self.fingerprint})"
        )
        if self.converted:
            line += f"; written long to {self.path}"
        return line


# --------------------------------------------------------------------------
# reading
# --------------------------------------------------------------------------


def _literal(path: Path | str) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def _reader(path: Path) -> str:
    """The DuckDB table function of a file: CSV as text, so staging decides what is malformed."""
    if path.suffix.lower() == ".parquet":
        return f"read_parquet({_literal(path)})"
    return f"read_csv({_literal(path)}, all_varchar = true, header = true)"


def file_fingerprint(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:12]


def frame_fingerprint(frame: pd.DataFrame) -> str:
    hashed = pd.util.hash_pandas_object(frame, index=False).to_numpy()
    digest = hashlib.sha256(hashed.tobytes())
    digest.update(",".join(map(str, frame.columns)).encode())
    return digest.hexdigest()[:12]


def checked_path(text: str | Path, option: str, cwd: Path | None = None) -> Path:
    """An input file named literally: .csv or .parquet, existing, no glob
    characters (validate.input_file, the one check of a path a user gives)."""
    return Path(validate.input_file(str(text), option, cwd or Path.cwd()))


def _columns(con: duckdb.DuckDBPyConnection, path: Path, option: str) -> list[str]:
    try:
        return [d[0] for d in con.execute(f"select * from {_reader(path)} limit 0").description]
    except duckdb.Error as exc:
        raise InputError(f"{option} {path}: cannot read it as {path.suffix[1:]}: {exc}") from exc


def _is_long(columns: Sequence[str], role: str) -> bool:
    lowered = {str(c).strip().lower() for c in columns}
    return set(ROLES[role][0]) <= lowered


def _date_column(columns: Sequence[str]) -> str:
    for column in columns:
        if str(column).strip().lower() in DATE_NAMES or str(column).startswith("Unnamed: 0"):
            return column
    return columns[0]


def _melt(frame: pd.DataFrame, role: str, origin: str) -> pd.DataFrame:
    """A wide table (a date column, then one column per symbol) in the long layout."""
    columns = [c for c in frame.columns]
    if not columns:
        raise InputError(f"{origin} has no columns")
    date_column = _date_column(columns)
    values = [c for c in columns if c != date_column]
    long_columns, value = ROLES[role]
    if not values:
        raise InputError(
            f"{origin} has only a date column ({date_column!r}): a wide table has one column per "
            f"symbol after it, a long one the columns {', '.join(long_columns)}"
        )
    if role in ("portfolio_returns_path", "risk_free_path"):
        if len(values) != 1:
            raise InputError(
                f"{origin}: a returns book is one series: give the columns date, "
                f"portfolio_return (found {len(values)} value columns: "
                f"{', '.join(map(str, values[:5]))})"
            )
        out = pd.DataFrame({"date": frame[date_column], value: frame[values[0]]})
    else:
        out = frame.melt(
            id_vars=[date_column], value_vars=values, var_name="symbol", value_name=value
        )
        out = out.rename(columns={date_column: "date"})[["date", "symbol", value]]
        out["symbol"] = out["symbol"].astype(str).str.strip()
    # an empty cell of a wide table is no observation (staging drops it too)
    cell = out[value]
    text = cell.astype(str).str.strip().str.lower()
    return out[cell.notna() & ~text.isin(MISSING_TEXT)].reset_index(drop=True)


def _frame_of(data: pd.DataFrame | pd.Series, role: str) -> pd.DataFrame:
    """A pandas object as a table with a date column."""
    if isinstance(data, pd.Series):
        name = data.name if data.name not in (None, "") else None
        if role in ("portfolio_returns_path", "risk_free_path"):
            frame = data.rename(ROLES[role][1]).to_frame()
        else:
            frame = data.rename(str(name or ROLE_NAMES[role])).to_frame()
    else:
        frame = data.copy()
    has_date = any(str(c).strip().lower() == "date" for c in frame.columns)
    if not has_date and (
        isinstance(frame.index, pd.DatetimeIndex)
        or str(frame.index.name or "").lower() in DATE_NAMES[:-1]
    ):
        frame = frame.rename_axis("date").reset_index()
    frame.columns = [str(c) for c in frame.columns]
    return frame


def _long_frame(frame: pd.DataFrame, role: str) -> pd.DataFrame:
    """A long frame's contract columns (names matched without case), sleeve kept."""
    lowered = {str(c).strip().lower(): c for c in frame.columns}
    out = pd.DataFrame({c: frame[lowered[c]].to_numpy() for c in ROLES[role][0]})
    if role == "weights_path" and "sleeve" in lowered:
        out["sleeve"] = frame[lowered["sleeve"]].to_numpy()
    return out


def _dated(frame: pd.DataFrame) -> pd.DataFrame:
    """Dates as dates (a DatetimeIndex becomes midnight timestamps, which staging takes)."""
    if pd.api.types.is_datetime64_any_dtype(frame["date"]):
        frame = frame.assign(date=pd.to_datetime(frame["date"]).dt.tz_localize(None).dt.date)
    return frame


def _write_long(frame: pd.DataFrame, target: Path) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.is_file():  # same name, same content (the fingerprint is in the name)
        return target
    temp = target.with_name(f".{target.name}.tmp")
    con = duckdb.connect()
    try:
        con.register("long_input", frame)
        con.execute(f"copy (select * from long_input) to {_literal(temp)} (format parquet)")
    finally:
        con.close()
    temp.replace(target)
    return target


def _stem(name: str) -> str:
    return _UNSAFE_NAME.sub("_", name)[:40] or "input"


def _sessions(
    con: duckdb.DuckDBPyConnection, path: Path, role: str
) -> tuple[int, list[str], list[Any]]:
    """Rows, the symbols and the sorted dates with a value, as staging will read them."""
    _, value = ROLES[role]
    parsed_date = (
        "coalesce(try_cast(cast(date as varchar) as date), "
        "cast(try_cast(cast(date as varchar) as timestamp) as date))"
    )
    number = f"try_cast(cast({value} as varchar) as double)"
    (rows,) = con.execute(f"select count(*) from {_reader(path)}").fetchone()
    symbols = (
        [
            str(row[0])
            for row in con.execute(
                f"select distinct trim(cast(symbol as varchar)) as s from {_reader(path)} "
                "where symbol is not null order by s"
            ).fetchall()
        ]
        if "symbol" in ROLES[role][0]
        else []
    )
    dates = con.execute(
        f"select distinct {parsed_date} as d from {_reader(path)} "
        f"where {number} is not null and not isnan({number}) and {parsed_date} is not null "
        "order by d"
    ).fetchall()
    return int(rows), symbols, [row[0] for row in dates]


def read_input(
    data: str | Path | pd.DataFrame | pd.Series,
    role: str,
    work_dir: Path,
    option: str | None = None,
    cwd: Path | None = None,
) -> InputTable:
    """One input as dbt will read it: detected, converted if need be, and measured.

    ``work_dir``: the results directory (converted inputs go to
    ``<work_dir>/.allocator/inputs``). ``option``: how the input is named in
    messages (default: the role's CLI option).
    """
    from allocator.validate import INPUT_OPTIONS

    option = option or INPUT_OPTIONS.get(role, "--risk-free-rate")
    con = duckdb.connect()
    try:
        if isinstance(data, (pd.DataFrame, pd.Series)):
            kind = "Series" if isinstance(data, pd.Series) else "DataFrame"
            frame = _frame_of(data, role)
            layout = "long" if _is_long(frame.columns, role) else "wide"
            origin = f"{option} ({kind})"
            if not len(frame):
                raise InputError(f"{origin} is empty")
            shape = (len(data), 1 if isinstance(data, pd.Series) else len(data.columns))
            long = _long_frame(frame, role) if layout == "long" else _melt(frame, role, origin)
            long = _dated(long)
            fingerprint = frame_fingerprint(long)
            label = str(getattr(data, "name", None) or data.attrs.get("name") or ROLE_NAMES[role])
            target = (
                work_dir
                / CONVERTED_DIR
                / f"{_stem(label.replace(' ', '_'))}__{fingerprint}.parquet"
            )
            path = _write_long(long, target)
            source, file_format = kind, "pandas"
        else:
            source_path = checked_path(data, option, cwd)
            fingerprint = file_fingerprint(source_path)
            columns = _columns(con, source_path, option)
            layout = "long" if _is_long(columns, role) else "wide"
            file_format = source_path.suffix.lower()[1:]
            source = str(source_path)
            if layout == "long":
                path = source_path
                shape = (-1, len(columns))  # rows counted below
            else:
                frame = con.execute(f"select * from {_reader(source_path)}").df()
                shape = frame.shape
                long = _melt(frame, role, f"{option} {source_path.name}")
                target = (
                    work_dir / CONVERTED_DIR / f"{_stem(source_path.stem)}__{fingerprint}.parquet"
                )
                path = _write_long(_dated(long), target)
        rows, symbols, dates = _sessions(con, path, role)
    finally:
        con.close()
    shape = (rows if shape[0] < 0 else shape[0], shape[1])
    return InputTable(
        role,
        source,
        file_format,
        layout,
        path,
        fingerprint,
        rows,
        len(symbols),
        tuple(dates),
        tuple(symbols),
        (int(shape[0]), int(shape[1])),
    )


# --------------------------------------------------------------------------
# the valid window
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class ValidWindow:
    """The dates a run on this book may start and end on, and why."""

    earliest_start: dt.date
    latest_start: dt.date
    last_date: dt.date
    first_date: dt.date
    reason: str  # why the earliest start is what it is

    def text(self) -> str:
        return f"start {self.earliest_start} to {self.latest_start}, end up to {self.last_date}"


def history_needed(profile: Mapping[str, Any]) -> int:
    """Sessions the built-in sleeves need before start: the longest signal
    lookback plus the sleeve vol window (int_run_coverage.sql's
    strategy_history_needed)."""
    return int(
        max(float(profile["trend_lookback_days"]), float(profile["csmom_lookback_days"]))
        + float(profile["sleeve_vol_lookback_days"])
    )


def valid_window(
    book: InputTable, portfolio_source: str, profile: Mapping[str, Any] | None
) -> ValidWindow:
    """The window rules of int_run_coverage.sql, on the book's sessions: at
    least two sessions in the window; a book with holdings needs a session
    before start; the built-in sleeves need their history before start."""
    dates = book.dates
    name = f"{ROLE_NAMES[book.role]} {book.name}"
    if len(dates) < 2:
        raise InputError(
            f"{name} holds {len(dates)} date(s) with a value: a run needs at least 2 "
            "(a return needs two closes)"
        )
    if portfolio_source == "returns_file":
        needed, reason = 0, "the first date of the returns"
    elif portfolio_source == "weights_file":
        needed, reason = 1, "one session after the first date, where the opening weights are set"
    else:
        needed = history_needed(profile or {})
        reason = (
            f"{needed} sessions after the first date: the profile's longest signal lookback "
            "+ the sleeve vol window"
        )
    if needed + 1 >= len(dates):
        raise InputError(
            f"{name} covers {len(dates):,} sessions ({dates[0]} to {dates[-1]}); the strategy "
            f"needs {needed} before start and 2 in the window: give more history, or your own "
            "weights (--weights) or returns (--portfolio-returns)"
        )
    return ValidWindow(dates[needed], dates[-2], dates[-1], dates[0], reason)


def check_window(
    window: ValidWindow, start: dt.date | None, end: dt.date | None, name: str
) -> tuple[dt.date, dt.date]:
    """The run's window: defaults from the data, a date outside it refused with the valid range."""
    start = start or window.earliest_start
    end = end or window.last_date
    valid = f"valid for {name}: {window.text()}"
    if start < window.earliest_start:
        raise InputError(
            f"start {start} is too early ({window.earliest_start} is the earliest: "
            f"{window.reason}); {valid}"
        )
    if start > window.latest_start:
        raise InputError(f"start {start} leaves fewer than 2 sessions of the data; {valid}")
    if end > window.last_date:
        raise InputError(f"end {end} is after the data's last date {window.last_date}; {valid}")
    if end < start:
        raise InputError(f"end {end} is before start {start}: the window must run forward; {valid}")
    return start, end
