"""One owner of a run's configuration: every var, resolved and validated once.

The gate of every build calls :func:`resolve`: the dbt Python model
``stg_run__resolved`` (through allocator.gate) resolves the run's vars
(``stg_run__vars``) against the seeds and the published run registry, and its
SQL twin ``stg_run_config``, from which the run's models read their settings,
turns a problem into the build's error. The CLI does not call it: before it
starts dbt it checks its options with this module's patterns and constants
(allocator.validate), and leaves the rest to the gate. Every run var's default
is :data:`DEFAULTS` here; only the input files' defaults live in
``dbt_project.yml``'s ``vars:``, because dbt needs them while it parses the
sources.

Every text that reaches SQL either passes a rule here (run ids, dates,
modes) or is quoted by :func:`sql_literal`; file paths must name exactly one
existing file (no glob characters, since DuckDB would expand them).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from allocator.governor_config import CADENCES, check_governor_config

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

RUN_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
DATE_PATTERN = re.compile(r"^\d{4}-\d{2}-\d{2}$")
MODES = ("off", "compute", "precomputed")
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
}
DEFAULT_CALIBRATION = "scale_free_v1"
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
    "start",
    "end",
    "portfolio_source",
    "inputs",
    "regime_calibration",
    "allocator_parameters",
)
# What a run id stands for; rebuilding it as something else needs replace_run.
IDENTITY_KEYS = ("kind", "strategy_profile", "start", "end", "inputs")
# The one definition of every run var's default, except the input files'
# (dbt_project.yml's vars: dbt needs those while it parses the sources).
DEFAULTS: Mapping[str, Any] = {
    "run_id": "demo",
    "strategy_profile": "core_v1",
    "start": "2005-01-03",
    "end": "2022-12-28",
    "allocator_v1": {
        "enabled": False,
        "mode": "off",
        "precomputed_run_id": None,
        "precomputed_scalar_filename": "allocator_risk_v1_applied.csv",
        "apply_missing_scalar_as": 1.0,
        # None: the calibration's
        "cadence": None,
        "calibration": DEFAULT_CALIBRATION,
    },
    # Above this many held symbols the state's average correlation uses the
    # O(N) implied estimator instead of the O(N^2) exact pairwise mean.
    "correlation_exact_max_symbols": 50,
    # Observations a regime must last before it can be left downwards.
    # None here: the calibration's (CALIBRATIONS).
    "allocator_regime_min_days": None,
    # Risk scalar = EWMA(alpha) of the regime's target, clipped to [floor, cap].
    "allocator_risk_ewma_alpha": None,
    "allocator_risk_scalar_floor": None,
    "allocator_risk_scalar_cap": None,
    # Read the stored baseline's unscaled layers instead of recomputing them.
    "reuse_baseline_layers": False,
    # Rebuild a stored run id as a different run (kind, profile, window, inputs).
    "replace_run": False,
    # Build and test without storing the run (a dry run, or a partial build).
    "publish_run": True,
    # One governor's whole settings (python/allocator/governor_config.py, e.g.
    # the file `allocator tune` writes): they replace the calibration's rules
    # and map and the vars they name, and enter the config hash.
    "governor_config": None,
}


class ConfigProblem(ValueError):
    """A var that cannot be used, with what would be right."""


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
    if not RUN_ID_PATTERN.match(text):
        raise _fail(
            var,
            f"{text!r} is not a valid run id: use 1-64 letters, digits, '_', '.' or '-', "
            "starting with a letter or digit (e.g. core_v1_base)",
        )
    return text


def _date(value: object, var: str) -> dt.date:
    text = "" if value is None else str(value)
    if not DATE_PATTERN.match(text):
        raise _fail(var, f"{text!r} is not a date: use YYYY-MM-DD, e.g. 2005-01-03")
    try:
        return dt.date.fromisoformat(text)
    except ValueError as exc:
        raise _fail(var, f"{text!r} is not a calendar date ({exc})") from exc


def _number(value: object, var: str, low: float, high: float, low_open: bool) -> float:
    """A finite number in (low, high] or [low, high]."""
    interval = f"{'(' if low_open else '['}{low:g}, {high:g}]"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        try:
            value = float(str(value))
        except ValueError:
            raise _fail(var, f"{value!r} is not a number: use one in {interval}") from None
    number = float(value)
    below = number <= low if low_open else number < low
    if not math.isfinite(number) or below or number > high:
        raise _fail(var, f"{value!r} is out of range: use a number in {interval}")
    return number


def _integer(value: object, var: str, minimum: int) -> int:
    if isinstance(value, bool):
        raise _fail(var, f"{value!r} is not an integer: use one >= {minimum}")
    try:
        number = float(str(value))
    except ValueError:
        raise _fail(var, f"{value!r} is not an integer: use one >= {minimum}") from None
    if not number.is_integer() or number < minimum:
        raise _fail(var, f"{value!r} is not valid: use an integer >= {minimum}")
    return int(number)


def _flag(value: object, var: str) -> bool:
    if isinstance(value, bool):
        return value
    if str(value).lower() in ("true", "false"):
        return str(value).lower() == "true"
    raise _fail(var, f"{value!r} is not valid: use true or false")


def check_path(value: object, var: str, file_exists: Callable[[str], bool]) -> str:
    """An input file named literally: exists, .csv or .parquet, no glob characters."""
    text = "" if value is None else str(value)
    if not text:
        raise _fail(var, "is empty: name a .csv or .parquet file")
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
    block["apply_missing_scalar_as"] = _number(
        block["apply_missing_scalar_as"], "allocator_v1.apply_missing_scalar_as", 0, 1, True
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
    parameters = {
        "correlation_exact_max_symbols": _integer(
            given.get("correlation_exact_max_symbols"), "correlation_exact_max_symbols", 2
        ),
        "regime_min_days": _integer(
            given.get("allocator_regime_min_days"), "allocator_regime_min_days", 1
        ),
        "risk_ewma_alpha": _number(
            given.get("allocator_risk_ewma_alpha"), "allocator_risk_ewma_alpha", 0, 1, True
        ),
        "risk_scalar_floor": _number(
            given.get("allocator_risk_scalar_floor"), "allocator_risk_scalar_floor", 0, 1, True
        ),
        "risk_scalar_cap": _number(
            given.get("allocator_risk_scalar_cap"), "allocator_risk_scalar_cap", 0, 1, True
        ),
    }
    if parameters["risk_scalar_floor"] > parameters["risk_scalar_cap"]:
        raise _fail(
            "allocator_risk_scalar_floor",
            f"{parameters['risk_scalar_floor']:g} is above allocator_risk_scalar_cap "
            f"{parameters['risk_scalar_cap']:g}: the floor must not exceed the cap",
        )
    reuse = _flag(given.get("reuse_baseline_layers", False), "reuse_baseline_layers")
    replace_run = _flag(given.get("replace_run", False), "replace_run")
    _flag(given.get("publish_run", True), "publish_run")

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
