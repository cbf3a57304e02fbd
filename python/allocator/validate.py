"""Cheap checks of CLI input, done before dbt starts (dbt's gate would reject
the same values, but only after a few seconds of parsing).

The rules are run_config's (the one owner of a run's configuration); this
module only words them as CLI options.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

from allocator.errors import InputError
from allocator.run_config import FILE_SUFFIXES, GLOB_CHARACTERS, MODES, RUN_ID_PATTERN

# matched whole (fullmatch): `$` alone would accept a trailing newline
TAG_PATTERN = re.compile(r"[A-Za-z0-9_.-]{1,32}")


def plain(text: object) -> str:
    """A value for a one-line message: as given, or escaped (repr) when it
    holds a newline or another character that is not printable."""
    value = str(text)
    return value if value.isprintable() else repr(value)


def quoted(text: object) -> str:
    """A value in quotes for a one-line message (escaped when not printable)."""
    value = str(text)
    return f"'{value}'" if value.isprintable() else repr(value)


def parse_date(text: str, option: str) -> dt.date:
    """A YYYY-MM-DD date, or an error naming the option and the expected form."""
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text or ""):
        raise InputError(f"{option} {quoted(text)} is not a date: use YYYY-MM-DD, e.g. 2005-01-03")
    try:
        return dt.date.fromisoformat(text)
    except ValueError as exc:
        raise InputError(
            f"{option} {quoted(text)} is not a valid calendar date ({exc}): use YYYY-MM-DD"
        ) from exc


def check_window(start: dt.date, end: dt.date) -> None:
    """The window must run forward."""
    if end < start:
        raise InputError(
            f"--end {end} is before --start {start}: the window must run forward "
            f"(e.g. --start {end} --end {start})"
        )


def check_run_id(run_id: str, option: str = "--run-id") -> str:
    """A run id dbt accepts (it also becomes a folder name under reports/runs)."""
    if not RUN_ID_PATTERN.fullmatch(run_id or ""):
        raise InputError(
            f"{option} {quoted(run_id)} is not valid: use 1-64 letters, digits, '_', '.' or '-', "
            "starting with a letter or digit (e.g. core_v1_base)"
        )
    return run_id


def check_tag(tag: str) -> str:
    """A suffix appended to generated run ids."""
    if not TAG_PATTERN.fullmatch(tag or ""):
        raise InputError(
            f"--tag {quoted(tag)} is not valid: use 1-32 letters, digits, '_', '.' or '-' "
            "(e.g. q4_review)"
        )
    return tag


def resolve_mode(mode: str | None, precomputed_run_id: str | None) -> str:
    """The allocator mode; --precomputed-run-id alone implies precomputed."""
    resolved = mode or ("precomputed" if precomputed_run_id else "off")
    if resolved not in MODES:
        raise InputError(f"--mode {quoted(mode)} is not valid: use one of {', '.join(MODES)}")
    if precomputed_run_id and resolved != "precomputed":
        raise InputError(
            f"--precomputed-run-id is only used with --mode precomputed (got --mode {resolved}): "
            "drop one of them"
        )
    if resolved == "precomputed" and not precomputed_run_id:
        raise InputError(
            "--mode precomputed needs --precomputed-run-id: the baseline run whose scalars to apply"
        )
    if precomputed_run_id:
        check_run_id(precomputed_run_id, "--precomputed-run-id")
    return resolved


def run_label(text: str) -> str:
    """A readable name for run ids (a file stem, a tuning id): letters, digits,
    '_', '.' and '-' only, at most 40 characters."""
    label = re.sub(r"[^A-Za-z0-9_.-]+", "_", str(text)).strip("_.-")[:40]
    return label or "run"


def default_run_id(
    label: str,
    start: dt.date,
    end: dt.date,
    suffix: str,
    tag: str | None = None,
) -> str:
    """Deterministic run id, so re-running the same request replaces its own rows.

    ``label`` says what the run is: the profile for the bundled data, the
    file's stem for your own (my_closes_20100104_20201231_base). A stored id
    is never silently rebuilt as another book (run_config's identity check
    refuses it and asks for --tag, --run-id or --replace).
    """
    parts = [run_label(label), f"{start:%Y%m%d}", f"{end:%Y%m%d}", suffix]
    if tag:
        parts.append(tag)
    return check_run_id("_".join(parts)[:64], "generated run id")


# The input-file vars of dbt_project.yml and the CLI option that sets each.
INPUT_OPTIONS = {
    "prices_path": "--prices",
    "benchmark_path": "--benchmark",
    "weights_path": "--weights",
    "portfolio_returns_path": "--portfolio-returns",
}


def input_file(text: str, option: str, cwd: Path) -> str:
    """An input file given on the command line, as an absolute path (dbt runs
    in the project directory, not where the user typed the command)."""
    path = Path(text).expanduser()
    path = path if path.is_absolute() else cwd / path
    if path.suffix.lower() not in FILE_SUFFIXES:
        raise InputError(f"{option} {plain(text)}: use a .csv or .parquet file (wide or long)")
    if not path.is_file():
        raise InputError(f"{option} {plain(text)}: no such file ({plain(path)})")
    wildcards = sorted(GLOB_CHARACTERS.intersection(str(path.resolve())))
    if wildcards:
        raise InputError(
            f"{option} {plain(text)}: the path contains {' '.join(wildcards)}, which DuckDB would "
            "expand as a pattern and so read other files: name one file without these "
            "characters (rename it or link it)"
        )
    return str(path.resolve())


def input_vars(given: dict[str, str | None], cwd: Path) -> dict[str, str]:
    """dbt vars of the input files given on the command line; '' switches the
    benchmark off (--benchmark none)."""
    if given.get("weights_path") and given.get("portfolio_returns_path"):
        raise InputError("give --weights or --portfolio-returns, not both")
    resolved = {}
    for var, text in given.items():
        if text is None:
            continue
        if var == "benchmark_path" and text.lower() == "none":
            resolved[var] = ""
        else:
            resolved[var] = input_file(text, INPUT_OPTIONS[var], cwd)
    return resolved
