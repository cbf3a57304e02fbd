"""One owner of a run's configuration: every var, resolved and validated once.

Both entry points call :func:`resolve`: the CLI's workflows check the same
values before they start dbt (:func:`check_given`), and the dbt Python model
``stg_run__resolved`` resolves them as the first node of every build (its
SQL twin ``stg_run_config`` turns a problem into the build's error).

Every var's name, type, default, bounds and doc are defined once, as a
column of the gate's contract (models/run/_run__models.yml, read by
:mod:`allocator.run_parameters`); the rules that tie vars together live
here. Every text a caller gives is refused if it holds braces, a control
character or (a path) a URL scheme, before it can reach dbt's renderer, a
format string or a reader. Text reaches SQL either after passing a rule here
(run ids, dates, modes) or quoted by :func:`sql_literal`; file paths must name
exactly one existing local file (no glob characters, which DuckDB would
expand).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from allocator import run_parameters
from allocator.governor_config import CADENCES, check_governor_config
from allocator.run_parameters import (
    ConfigProblem,
    check_local_path,
    check_text,
    check_value,
)

__all__ = [
    "ALLOCATOR_V1_KEYS",
    "CALIBRATIONS",
    "DEFAULT_CALIBRATION",
    "DEFAULTS",
    "INPUT_VARS",
    "MODES",
    "CADENCES",
    "MATERIALLY_SCALED_BELOW",
    "RUN_ID_PATTERN",
    "ConfigProblem",
    "ResolvedRun",
    "StoredRun",
    "resolve",
    "run_kind",
    "sql_literal",
]

# matched whole (fullmatch): `$` alone would accept a trailing newline
RUN_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
DATE_PATTERN = re.compile(r"\d{4}-\d{2}-\d{2}")
MODES = run_parameters.parameter("allocator_v1.mode").choices or ()
# DuckDB's readers expand these; a literal file name with one is refused
GLOB_CHARACTERS = frozenset("*?[]{}")
FILE_SUFFIXES = (".csv", ".parquet")
INPUT_VARS = ("prices_path", "benchmark_path", "weights_path", "portfolio_returns_path")
ALLOCATOR_V1_KEYS = (
    "enabled",
    "mode",
    "precomputed_run_id",
    "precomputed_scalar_filename",
    "apply_missing_scalar_as",
    "cadence",
    "calibration",
)
# Named calibrations: each is a set of rows in seeds/allocator_regime_rules.csv
# and seeds/allocator_regime_scalars.csv (column calibration) plus the
# defaults below, which the run's explicit vars override. The keys are the
# vars they default. benchmarks/governor_study measures both.
CALIBRATIONS: Mapping[str, Mapping[str, Any]] = {
    # the seeds' original governor: absolute corr_20d levels, a gentle map,
    # the previous rebalance's scalar (demo MaxDD -18.34%, Sharpe 0.770)
    "seeds_v1": {
        "cadence": "rebalance_lagged",
        "allocator_regime_min_days": 5,
        "allocator_risk_ewma_alpha": 0.25,
        "allocator_risk_scalar_floor": 0.25,
        "allocator_risk_scalar_cap": 1.0,
    },
    # correlation against the book's own history (corr_excess), a deeper map
    # delivered every session: the daily cadence earns the scalar one session
    # after the close it was decided at (the rebalance cadences wait up to a
    # month), which gives the smallest demo and S&P 500 drawdowns measured
    "scale_free_v1": {
        "cadence": "daily",
        "allocator_regime_min_days": 5,
        "allocator_risk_ewma_alpha": 0.5,
        "allocator_risk_scalar_floor": 0.10,
        "allocator_risk_scalar_cap": 1.0,
    },
    # the default: scale_free_v1's vol rules and map, with the drawdown read
    # from a trailing 504-session high (a long recovery releases STRESS; from
    # the all-time high it held STRESS for a decade on a synthetic book) and no
    # correlation rule. Chosen by the cross-universe protocol
    # (docs/governor_protocol.md: every criterion met on 5 of 11 universes out
    # of calibration, against 1 of 11 for scale_free_v1).
    "trailing_dd_v1": {
        "cadence": "daily",
        "allocator_regime_min_days": 5,
        "allocator_risk_ewma_alpha": 0.5,
        "allocator_risk_scalar_floor": 0.10,
        "allocator_risk_scalar_cap": 1.0,
    },
}
# The calibration name of a run whose governor comes from var governor_config.
GOVERNOR_CONFIG_CALIBRATION = "governor_config"
# The run vars a calibration gives a default to (allocator_v1.cadence apart).
CALIBRATED_VARS = (
    "allocator_regime_min_days",
    "allocator_risk_ewma_alpha",
    "allocator_risk_scalar_floor",
    "allocator_risk_scalar_cap",
)
# A scalar below this is a material cut of exposure: what the summary, the
# meta and the audit count as "scaled". The EWMA creeps back towards 1
# geometrically after a stress spell; 0.99 leaves that tail (a cut of under
# 1%) out of the count.
MATERIALLY_SCALED_BELOW = 0.99
# Settings that decide the unscaled book and its allocator layers: a scaled
# run may read its baseline's published layers only when these are equal.
UNSCALED_KEYS = (
    "strategy_profile",
    "profile",
    "rebalance_calendar",
    "start",
    "end",
    "portfolio_source",
    "inputs",
    "regime_calibration",
    "allocator_parameters",
)
#: Stage 6's option off: one scalar for the whole book (var sleeve_scalars).
SLEEVE_SCALARS_OFF = "off"
SLEEVE_CALIBRATION_PATTERN = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,63}")
# What a run id stands for; rebuilding it as something else needs replace_run.
#: The rebalance calendars (var rebalance_calendar, which has no default of
#: its own): a backtest's closes a period on its last session in the file; a
#: live run's needs a session's flag known at its close.
BACKTEST_CALENDAR = "sessions"
LIVE_CALENDAR = "weekdays"
IDENTITY_KEYS = ("kind", "strategy_profile", "start", "end", "inputs")
# Every run var's default, from its definition (run_parameters); None for
# the calibrated ones: the calibration's (CALIBRATIONS).
DEFAULTS: Mapping[str, Any] = run_parameters.defaults()
# The calibration of a run that names none: defined once, as the default of
# var allocator_v1.calibration in the gate's contract (models/run/_run__models.yml).
DEFAULT_CALIBRATION: str = DEFAULTS["allocator_v1"]["calibration"]


@dataclass(frozen=True)
class StoredRun:
    """What the published registry says about a run (the fields checks need)."""

    run_id: str
    allocator_mode: str
    config: Mapping[str, Any]
    scaled_runs: tuple[str, ...] = ()
    config_hash: str | None = None
    input_fingerprint: str | None = None


@dataclass(frozen=True)
class ResolvedRun:
    """A validated run: the registry's config_json and the typed settings."""

    run_id: str
    kind: str
    config: Mapping[str, Any]
    config_json: str
    config_hash: str
    precomputed_source_kind: str | None
    precomputed_source: str | None
    unscaled_layers_from_run_id: str | None
    replaces: str | None = None
    stale_scaled_runs: tuple[str, ...] = field(default_factory=tuple)
    baseline: StoredRun | None = None
    # every run parameter's checked value, by its gate column
    values: Mapping[str, Any] = field(default_factory=dict)


def sql_literal(value: object) -> str:
    """A SQL string literal holding ``value``'s text (the one quoting helper
    for Python-built SQL; macros/quoting.sql is its dbt twin)."""
    return "'" + str(value).replace("'", "''") + "'"


def run_kind(mode: str) -> str:
    """A run that applies another run's scalars is 'scaled'; others are baselines."""
    return "scaled" if mode == "precomputed" else "baseline"


def _fail(var: str, message: str) -> ConfigProblem:
    return ConfigProblem(f"var {var}: {message}")


def _run_id(value: object, var: str) -> str:
    text = "" if value is None else str(value)
    check_text(text, var)
    if not RUN_ID_PATTERN.fullmatch(text):
        raise _fail(
            var,
            f"{text!r} is not a valid run id: use 1-64 letters, digits, '_', '.' or '-', "
            "starting with a letter or digit (e.g. core_v1_base)",
        )
    return text


def _date(value: object, var: str) -> dt.date:
    text = "" if value is None else str(value)
    check_text(text, var)
    if not DATE_PATTERN.fullmatch(text):
        raise _fail(var, f"{text!r} is not a date: use YYYY-MM-DD, e.g. 2005-01-03")
    try:
        return dt.date.fromisoformat(text)
    except ValueError as exc:
        raise _fail(var, f"{text!r} is not a calendar date ({exc})") from exc


def _checked(var: str, value: object) -> Any:
    """A value as its definition types and bounds it (models/run/_run__models.yml)."""
    return check_value(run_parameters.parameter(var), value)


def _flag(value: object, var: str) -> bool:
    return bool(_checked(var, value))


def check_given(given: Mapping[str, Any]) -> None:
    """Refuse any given text that could run as code or name a non-local file.

    Every string at any depth of every var: braces (a Jinja template or a
    format field), control characters; and a URL or other scheme in a path
    var. Pure and fast: the CLI calls it before dbt starts, the gate first.
    """
    for var, value in given.items():
        check_text(str(var), "(a var name)")
        check_text(value, str(var))
    for var in (*INPUT_VARS, "allocator_v1.precomputed_scalar_filename"):
        block, _, key = var.partition(".")
        value = given.get(block)
        if key:
            value = value.get(key) if isinstance(value, Mapping) else None
        if isinstance(value, str):
            check_local_path(value, var)


def check_path(value: object, var: str, file_exists: Callable[[str], bool]) -> str:
    """An input file named literally: local, exists, .csv or .parquet, no glob characters."""
    text = "" if value is None else str(value)
    if not text:
        raise _fail(var, "is empty: name a .csv or .parquet file")
    check_text(text, var)
    check_local_path(text, var)
    wildcards = sorted(GLOB_CHARACTERS.intersection(text))
    if wildcards:
        raise _fail(
            var,
            f"'{text}' contains {' '.join(wildcards)}, which DuckDB would expand as a "
            "pattern and so read other files: name one file without these characters "
            "(rename it or link it)",
        )
    if not text.lower().endswith(FILE_SUFFIXES):
        raise _fail(var, f"'{text}' is not a .csv or .parquet file")
    if not file_exists(text):
        raise _fail(var, f"'{text}' does not exist (relative paths start at the dbt project)")
    return text


def _calibration(value: object, known: Sequence[str]) -> str:
    """A calibration both defined here (CALIBRATIONS) and present in the seeds."""
    name = "" if value is None else str(value)
    if name not in known:
        raise _fail(
            "allocator_v1.calibration",
            f"{name!r} is not a known calibration: use {', '.join(known)} (the rows of "
            "seeds/allocator_regime_rules.csv and allocator_regime_scalars.csv whose "
            "defaults are in run_config.CALIBRATIONS)",
        )
    return name


def _allocator_block(
    given: object, defaults: Mapping[str, Any], calibrations: Sequence[str]
) -> dict[str, Any]:
    if not isinstance(given, Mapping):
        raise _fail(
            "allocator_v1",
            f"{given!r} is not a mapping: use e.g. "
            "{enabled: true, mode: precomputed, precomputed_run_id: base}",
        )
    unknown = sorted(set(given) - set(ALLOCATOR_V1_KEYS))
    if unknown:
        raise _fail(
            "allocator_v1",
            f"unknown setting(s) {', '.join(unknown)}; known: {', '.join(ALLOCATOR_V1_KEYS)}",
        )
    block = {**{k: defaults.get(k) for k in ALLOCATOR_V1_KEYS}, **given}
    mode = str(block["mode"]).lower()
    if mode not in MODES:
        raise _fail("allocator_v1.mode", f"{block['mode']!r} is not valid: use {', '.join(MODES)}")
    enabled = _flag(block["enabled"], "allocator_v1.enabled")
    if enabled and mode == "off":
        raise _fail(
            "allocator_v1.enabled",
            "is true but mode is off: set mode to compute or precomputed (or enabled: false)",
        )
    if not enabled and mode != "off":
        raise _fail(
            "allocator_v1.mode",
            f"is {mode} but enabled is false: set enabled: true to apply scalars, or mode: off",
        )
    block["mode"], block["enabled"] = mode, enabled
    block["calibration"] = _calibration(block["calibration"], calibrations)
    if block["cadence"] in ("", None):
        from_file = mode == "precomputed" and block["precomputed_run_id"] in ("", None)
        # a scalar file holds only the seeds' lagged scalars at rebalances
        block["cadence"] = (
            "rebalance_lagged" if from_file else CALIBRATIONS[block["calibration"]]["cadence"]
        )
    if block["cadence"] not in CADENCES:
        raise _fail(
            "allocator_v1.cadence",
            f"{block['cadence']!r} is not valid: use {', '.join(CADENCES)}",
        )
    block["apply_missing_scalar_as"] = _checked(
        "allocator_v1.apply_missing_scalar_as", block["apply_missing_scalar_as"]
    )
    if block["precomputed_run_id"] in ("", None):
        block["precomputed_run_id"] = None
    else:
        block["precomputed_run_id"] = _run_id(
            block["precomputed_run_id"], "allocator_v1.precomputed_run_id"
        )
    return block


def _profile(name: str, profiles: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    known = sorted(str(row["strategy_profile"]) for row in profiles)
    for row in profiles:
        if str(row["strategy_profile"]) == name:
            return {
                k: (float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else v)
                for k, v in row.items()
            }
    raise _fail(
        "strategy_profile",
        f"'{name}' is not defined in seeds/strategy_profiles.csv; "
        f"known profiles: {', '.join(known)}",
    )


def _differences(old: Mapping[str, Any], new: Mapping[str, Any], keys: Sequence[str]) -> list[str]:
    return [
        f"{key} {json.dumps(old.get(key), sort_keys=True)} -> "
        f"{json.dumps(new.get(key), sort_keys=True)}"
        for key in keys
        if old.get(key) != new.get(key)
    ]


def _risk_free(given: Mapping[str, Any], file_exists: Callable[[str], bool]) -> dict[str, Any]:
    """The risk-free rate: {"rate": annual} or {"path": file of annual rates}; {} for none."""
    rate, path = given.get("risk_free_rate"), given.get("risk_free_path")
    if path not in (None, ""):
        if rate not in (None, 0, 0.0):
            raise _fail("risk_free_path", "and risk_free_rate are both set: set one of them")
        return {"path": check_path(path, "risk_free_path", file_exists)}
    if rate in (None, 0, 0.0):
        return {}
    return {"rate": _checked("risk_free_rate", rate)}


def _governor(given: Mapping[str, Any]) -> dict[str, Any] | None:
    """The governor_config var's canonical settings, or None; refuses a var it contradicts."""
    content = given.get("governor_config")
    if content is None:
        return None
    try:
        governor = check_governor_config(content)
    except ValueError as exc:
        raise _fail("governor_config", str(exc)) from exc
    block = given.get("allocator_v1") if isinstance(given.get("allocator_v1"), Mapping) else {}
    clashes = [
        f"{var} {given[var]!r}"
        for var in CALIBRATED_VARS
        if given.get(var) is not None and given[var] != governor[var]
    ]
    if block.get("cadence") not in (None, "", governor["cadence"]):
        clashes.append(f"allocator_v1.cadence {block['cadence']!r}")
    # the default calibration is what a block without one holds: not a choice
    if block.get("calibration") not in (None, "", DEFAULT_CALIBRATION):
        clashes.append(f"allocator_v1.calibration {block['calibration']!r}")
    if clashes:
        raise _fail(
            "governor_config",
            "sets the whole governor, but these vars are given too: "
            + ", ".join(clashes)
            + "; drop them or edit the governor config",
        )
    return governor


def resolve(
    given: Mapping[str, Any],
    *,
    profiles: Sequence[Mapping[str, Any]],
    regime_rules: Mapping[str, Sequence[Sequence[Any]]],
    regime_scalars: Mapping[str, Mapping[str, float]],
    stored_runs: Mapping[str, StoredRun],
    file_exists: Callable[[str], bool],
) -> ResolvedRun:
    """Resolve and validate one run's vars; raise ConfigProblem naming the var.

    ``given``: the vars as given (None or absent = the default in DEFAULTS,
    or the calibration's in CALIBRATIONS; the input files' defaults are
    already merged in by dbt or the CLI). A partial allocator_v1 block is
    merged over its defaults.
    ``regime_rules`` / ``regime_scalars``: the seeds' rows per calibration
    (rule = feature, level, direction, enter, exit; regime -> target).
    ``stored_runs``: the published registry, for run-id reuse and baselines.
    """
    check_given(given)
    calendar = _rebalance_calendar(given)
    given = {**DEFAULTS, **{k: v for k, v in given.items() if v is not None}}
    run_id = _run_id(given.get("run_id"), "run_id")
    start = _date(given.get("start"), "start")
    end = _date(given.get("end"), "end")
    if end < start:
        raise _fail("end", f"{end} is before start {start}: the window must run forward")
    profile_name = str(given.get("strategy_profile") or "")
    profile = _profile(profile_name, profiles)
    known = [name for name in CALIBRATIONS if name in regime_rules and name in regime_scalars]
    block = _allocator_block(given.get("allocator_v1"), DEFAULTS["allocator_v1"], known)
    governor = _governor(given)
    if governor is not None:
        # a whole governor: the calibration it replaces names nothing any more
        block["calibration"] = GOVERNOR_CONFIG_CALIBRATION
        block["cadence"] = governor["cadence"]
        for var in CALIBRATED_VARS:
            given[var] = governor[var]
    calibration = block["calibration"]
    for var in CALIBRATED_VARS:
        if given.get(var) is None:
            given[var] = CALIBRATIONS[calibration][var]

    inputs = {var: str(given.get(var) or "") for var in INPUT_VARS}
    if inputs["weights_path"] and inputs["portfolio_returns_path"]:
        raise _fail("weights_path", "and portfolio_returns_path are both set: set one of them")
    for var in INPUT_VARS:
        if var == "prices_path" or inputs[var]:
            inputs[var] = check_path(inputs[var], var, file_exists)
    portfolio_source = (
        "weights_file"
        if inputs["weights_path"]
        else "returns_file"
        if inputs["portfolio_returns_path"]
        else "strategy"
    )
    # every parameter of the group, typed and bounded by its definition
    parameters = {
        item.column: _checked(item.var, given.get(item.var))
        for item in run_parameters.parameters()
        if item.group == "allocator_parameters"
    }
    if parameters["risk_scalar_floor"] > parameters["risk_scalar_cap"]:
        raise _fail(
            "allocator_risk_scalar_floor",
            f"{parameters['risk_scalar_floor']:g} is above allocator_risk_scalar_cap "
            f"{parameters['risk_scalar_cap']:g}: the floor must not exceed the cap",
        )
    reuse = _flag(given.get("reuse_baseline_layers", False), "reuse_baseline_layers")
    replace_run = _flag(given.get("replace_run", False), "replace_run")
    publish_run = _flag(given.get("publish_run", True), "publish_run")

    source_kind, source = _precomputed_source(run_id, block, stored_runs, file_exists)
    config = {
        "kind": run_kind(block["mode"]),
        "strategy_profile": profile_name,
        "profile": profile,
        "start": start.isoformat(),
        "end": end.isoformat(),
        "allocator_v1": block,
        "portfolio_source": portfolio_source,
        "inputs": inputs,
        "precomputed_source": {"source_kind": source_kind, "source": source},
        "regime_calibration": {
            "name": calibration,
            "rules": [
                list(rule)
                for rule in (governor or {}).get("regime_rules", regime_rules.get(calibration))
            ],
            "target_scalars": dict(
                (governor or {}).get("target_scalars", regime_scalars.get(calibration))
            ),
        },
        "allocator_parameters": parameters,
    }
    if calendar != BACKTEST_CALENDAR:  # absent by default: hashes as before
        config["rebalance_calendar"] = calendar
    sleeve_scalars = _sleeve_scalars(
        given.get("sleeve_scalars"),
        portfolio_source,
        source_kind,
        reuse=reuse,
        live=_flag(given.get("live"), "live") or _flag(given.get("live_update"), "live_update"),
    )
    if sleeve_scalars != SLEEVE_SCALARS_OFF:  # absent when off: hashes as before
        config["sleeve_scalars"] = sleeve_scalars
    if source_kind == "run" and source:
        check_same_window(config, stored_runs[source])
    risk_free = _risk_free(given, file_exists)
    if risk_free:  # absent when zero: the hash of such runs is as before
        config["risk_free"] = risk_free
    unscaled_from = None
    if reuse:
        unscaled_from = _reusable_baseline(run_id, block, config, stored_runs)
    replaces, stale = _identity_check(run_id, config, stored_runs, replace_run)
    config_json = json.dumps(config, sort_keys=True)
    return ResolvedRun(
        run_id=run_id,
        kind=config["kind"],
        config=config,
        config_json=config_json,
        config_hash=hashlib.md5(config_json.encode()).hexdigest(),
        precomputed_source_kind=source_kind,
        precomputed_source=source,
        unscaled_layers_from_run_id=unscaled_from,
        replaces=replaces,
        stale_scaled_runs=stale,
        baseline=stored_runs.get(source) if source_kind == "run" and source else None,
        values={
            "run_id": run_id,
            "strategy_profile": profile_name,
            "reuse_baseline_layers": reuse,
            "replace_run": replace_run,
            "publish_run": publish_run,
            "rebalance_calendar": calendar,
            "sleeve_scalars": sleeve_scalars,
            # a live run's start and update (python/allocator/live.py, the gate)
            "live": _flag(given.get("live"), "live"),
            "live_update": _flag(given.get("live_update"), "live_update"),
            "restate_from": (
                _date(given["restate_from"], "restate_from").isoformat()
                if given.get("restate_from")
                else None
            ),
            "governor_config_json": json.dumps(governor, sort_keys=True) if governor else None,
            "risk_free_rate": config.get("risk_free", {}).get("rate", 0.0),
            "risk_free_path": config.get("risk_free", {}).get("path", ""),
        },
    )


def _precomputed_source(
    run_id: str,
    block: Mapping[str, Any],
    stored_runs: Mapping[str, StoredRun],
    file_exists: Callable[[str], bool],
) -> tuple[str | None, str | None]:
    """Where a precomputed run's scalars come from: a stored baseline or a file."""
    if block["mode"] != "precomputed":
        return None, None
    baseline = block["precomputed_run_id"]
    if baseline is None:
        if block["cadence"] != "rebalance_lagged":
            raise _fail(
                "allocator_v1.cadence",
                f"{block['cadence']} needs the baseline's risk series, and a scalar file holds "
                "only the scalars applied at rebalances: give precomputed_run_id (a stored "
                "baseline), or cadence rebalance_lagged",
            )
        path = check_path(
            block["precomputed_scalar_filename"],
            "allocator_v1.precomputed_scalar_filename",
            file_exists,
        )
        return "file", path
    if baseline == run_id:
        raise _fail(
            "allocator_v1.precomputed_run_id",
            f"'{baseline}' is the run being built: name the baseline run whose scalars to apply",
        )
    stored = stored_runs.get(baseline)
    if stored is None:
        known = ", ".join(sorted(stored_runs)) or "none"
        raise _fail(
            "allocator_v1.precomputed_run_id",
            f"'{baseline}' is not a stored run in this database (stored runs: {known}); "
            "build it first, or give an exported scalar file with "
            "allocator_v1.precomputed_scalar_filename and no precomputed_run_id",
        )
    if run_kind(stored.allocator_mode) != "baseline":
        raise _fail(
            "allocator_v1.precomputed_run_id",
            f"'{baseline}' is a scaled run (mode {stored.allocator_mode}): a scaled run cannot "
            "serve as a baseline; name a run built with mode off",
        )
    return "run", baseline


def check_same_window(config: Mapping[str, Any], stored: StoredRun) -> None:
    """A scaled run applies its baseline's scalars over the baseline's own
    window and rebalance calendar: any other would compare two different books."""
    window = (config["start"], config["end"])
    stored_window = (stored.config.get("start"), stored.config.get("end"))
    if window != stored_window:
        raise _fail(
            "allocator_v1.precomputed_run_id",
            f"baseline '{stored.run_id}' covers {stored_window[0]} to {stored_window[1]}, this "
            f"run {window[0]} to {window[1]}: a scaled run uses its baseline's window (set start "
            "and end to the baseline's, or build a baseline for this window first)",
        )
    calendar, stored_calendar = (
        run.get("rebalance_calendar", BACKTEST_CALENDAR) for run in (config, stored.config)
    )
    if calendar != stored_calendar:
        raise _fail(
            "rebalance_calendar",
            f"baseline '{stored.run_id}' rebalances on the {stored_calendar} calendar, this run "
            f"on {calendar}: a scaled run uses its baseline's calendar (set rebalance_calendar: "
            f"{stored_calendar})",
        )


def _sleeve_scalars(
    value: object, portfolio_source: str, source_kind: str | None, *, reuse: bool, live: bool
) -> str:
    """Stage 6's option: off, book, or a sleeve calibration's name (its seed
    rows are checked by int_exposure_sleeve_targets). Only the built-in
    strategy has sleeves the run prices one by one, a scalar file holds the
    book's scalars only, and the sleeve layers are rebuilt whole (no live
    update, no reuse of a baseline's layers) in this first version."""
    name = SLEEVE_SCALARS_OFF if value in (None, "") else str(value)
    if not SLEEVE_CALIBRATION_PATTERN.fullmatch(name):
        raise _fail(
            "sleeve_scalars",
            f"{name!r} is not valid: use off, book or a sleeve_calibration of "
            "seeds/allocator_sleeve_scalars.csv (letters, digits, '_')",
        )
    if name == SLEEVE_SCALARS_OFF:
        return name
    if portfolio_source != "strategy":
        book = portfolio_source.replace("_", " ")
        raise _fail(
            "sleeve_scalars",
            f"{name!r} needs the built-in strategy's sleeves; a {book} book is scaled as a "
            "whole: drop sleeve_scalars (or set it to off)",
        )
    if source_kind == "file":
        raise _fail(
            "sleeve_scalars",
            f"{name!r} cannot apply a scalar file, which holds the book's scalars only: use "
            "mode compute or a stored baseline (precomputed_run_id)",
        )
    for given, var in ((reuse, "reuse_baseline_layers"), (live, "live")):
        if given:
            raise _fail(
                "sleeve_scalars",
                f"{name!r} is not yet supported with {var}: build the run whole, or set "
                "sleeve_scalars to off",
            )
    return name


def _rebalance_calendar(given: Mapping[str, Any]) -> str:
    """The run's rebalance calendar: sessions by default, weekdays for a live
    run, which appends one close at a time and so cannot know its file's next
    session (models/strategy/intermediate/int_rebalance_calendar.sql)."""
    live = _flag(given.get("live", False), "live")
    value = given.get("rebalance_calendar")
    if value is None:
        return LIVE_CALENDAR if live else BACKTEST_CALENDAR
    calendar = str(_checked("rebalance_calendar", value))
    if live and calendar != LIVE_CALENDAR:
        raise _fail(
            "rebalance_calendar",
            f"{calendar!r}: a live run appends one close at a time and cannot know its file's "
            f"next session; use {LIVE_CALENDAR} (a live run's default)",
        )
    return calendar


def _reusable_baseline(
    run_id: str,
    block: Mapping[str, Any],
    config: Mapping[str, Any],
    stored_runs: Mapping[str, StoredRun],
) -> str:
    baseline = block["precomputed_run_id"]
    if block["mode"] != "precomputed" or baseline is None:
        raise _fail(
            "reuse_baseline_layers",
            f"run '{run_id}' is not a scaled run of a stored baseline (it needs "
            "allocator_v1.mode precomputed with a precomputed_run_id)",
        )
    differing = _differences(stored_runs[baseline].config, config, UNSCALED_KEYS)
    if differing:
        raise _fail(
            "reuse_baseline_layers",
            f"baseline '{baseline}' was built with another configuration "
            f"({'; '.join(differing)}): build without reuse_baseline_layers",
        )
    return baseline


def _identity_check(
    run_id: str,
    config: Mapping[str, Any],
    stored_runs: Mapping[str, StoredRun],
    replace_run: bool,
) -> tuple[str | None, tuple[str, ...]]:
    """A stored run id is rebuilt only as the same kind of run on the same book,
    unless replace_run says to replace it."""
    stored = stored_runs.get(run_id)
    if stored is None:
        return None, ()
    old = {**stored.config, "kind": run_kind(stored.allocator_mode)}
    differing = _differences(old, config, IDENTITY_KEYS)
    if not differing:
        return run_id, ()
    users = (
        f" It is the baseline of scaled run(s) {', '.join(stored.scaled_runs)}."
        if (stored.scaled_runs)
        else ""
    )
    if not replace_run:
        raise _fail(
            "run_id",
            f"'{run_id}' is already stored as a different run ({'; '.join(differing)}).{users} "
            "Choose another run id, or replace it with replace_run: true "
            "(allocator --replace)" + (", which marks their comparisons stale" if users else ""),
        )
    return run_id, stored.scaled_runs
