"""Stage 7 tuning: many governor configurations priced on one stored baseline.

A configuration changes only the governor (regime thresholds, ``min_days``,
the regime-to-scalar map, the EWMA alpha, floor, cap and the overlay cadence),
never the unscaled book or the allocator's state features. So a sweep reads
the baseline's published state, unscaled book and weights once and prices
every configuration on them:

* the regime and EWMA recursions run for all configurations side by side
  (:mod:`allocator.sweep`);
* the scalar on the book each session is the one decided at the close that
  macros/scalar_delivery.sql names for the configuration's cadence (the
  baseline's sessions carry all three, model tuning_baseline_sessions);
* the pricing is macros/price_exposure.sql's, in its whole-array form
  (:mod:`allocator.pricing`, the one Python pricing, which the controls use
  too);
* a configuration with sleeve scalars (grid axis ``sleeve_scalars``: off, book
  or a sleeve calibration of seeds/allocator_sleeve_scalars.csv, as the run
  var) maps its regime path through each sleeve's targets, smooths each by
  the configuration's EWMA, floor and cap, delivers each by its cadence and
  prices the book by sleeve (int_exposure_sleeve_scaled_book.sql's rule).

So a configuration's net returns equal those of a full run with the same
settings (the tests check it to 1e-12).  Metrics, constraints and the
walk-forward selection are SQL over the long table this module produces.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from allocator import progress, run_parameters
from allocator.governor_config import CADENCES
from allocator.pricing import (
    PricingBook,
    positions,
    price_exposures,
    pricing_book,
    sleeve_book,
    sleeve_weights_tensor,
    weights_matrix,
)
from allocator.regime import LEVELS, RegimeRule
from allocator.sweep import classify_regimes_many, smooth_many, targets_many

__all__ = [
    "CADENCES",
    "GRID_COLUMNS",
    "Governor",
    "BaselineBook",
    "governor_document",
    "governor_from_config_json",
    "grid_product",
    "load_grid",
    "read_baseline",
    "resolve_grid",
    "sweep_chunks",
]

TARGET_COLUMNS: tuple[str, ...] = tuple(f"target_{level.lower()}" for level in LEVELS)
MULTIPLIER_COLUMNS: tuple[str, ...] = tuple(f"{level.lower()}_multiplier" for level in LEVELS[1:])
#: A grid row: blanks take the baseline's value (multipliers 1).
GRID_COLUMNS: tuple[str, ...] = (
    *MULTIPLIER_COLUMNS,
    "min_days",
    *TARGET_COLUMNS,
    "alpha",
    "floor",
    "cap",
    "cadence",
    "sleeve_scalars",
)
#: The grid's sleeve_scalars value for one scalar on the whole book (as the run var).
SLEEVES_OFF = "off"
#: The grid's sleeve_scalars value for every sleeve on the configuration's own map.
SLEEVES_BOOK = "book"
#: Configurations per chunk: bounds the (n_sessions, chunk) float arrays in memory.
DEFAULT_CHUNK = 500


@dataclass(frozen=True)
class Governor:
    """A baseline's governor settings: the defaults a grid's blanks stand for."""

    rules: tuple[RegimeRule, ...]
    targets: tuple[float, float, float, float]
    min_days: int
    alpha: float
    floor: float
    cap: float
    cadence: str
    apply_missing_scalar_as: float
    transaction_cost_bps: float
    portfolio_source: str = "strategy"
    sleeve_scalars: str = SLEEVES_OFF


def governor_from_config_json(config_json: str) -> Governor:
    """The governor a published run was built with (marts.runs.config_json)."""
    config = json.loads(config_json)
    calibration = config["regime_calibration"]
    parameters = config["allocator_parameters"]
    block = config["allocator_v1"]
    rules = tuple(
        RegimeRule(feature, level, direction, enter, exit_)
        for feature, level, direction, enter, exit_ in calibration["rules"]
    )
    targets = calibration["target_scalars"]
    return Governor(
        rules=rules,
        targets=tuple(float(targets[level]) for level in LEVELS),  # type: ignore[arg-type]
        min_days=int(parameters["regime_min_days"]),
        alpha=float(parameters["risk_ewma_alpha"]),
        floor=float(parameters["risk_scalar_floor"]),
        cap=float(parameters["risk_scalar_cap"]),
        cadence=str(block.get("cadence", "rebalance_lagged")),
        apply_missing_scalar_as=float(block["apply_missing_scalar_as"]),
        transaction_cost_bps=float(config["profile"]["transaction_cost_bps"]),
        portfolio_source=str(config.get("portfolio_source", "strategy")),
        sleeve_scalars=str(config.get("sleeve_scalars", SLEEVES_OFF)),
    )


# --- grids -------------------------------------------------------------------------------


def grid_product(axes: Mapping[str, Sequence[Any]]) -> pd.DataFrame:
    """Every combination of the axes' values, one row each (a JSON grid's ``product``).

    An axis named ``targets`` holds four-value lists (NORMAL..CRISIS): the
    regime-to-scalar map moves as one, since its levels only make sense
    together.
    """
    names = list(axes)
    rows = []
    for values in itertools.product(*(axes[name] for name in names)):
        row: dict[str, Any] = {}
        for name, value in zip(names, values, strict=True):
            if name == "targets":
                if value is not None:
                    row.update(dict(zip(TARGET_COLUMNS, value, strict=True)))
            else:
                row[name] = value
        rows.append(row)
    return pd.DataFrame(rows)


def _too_many(path: Path, count: int, limit: int | None) -> None:
    if limit is not None and count > limit:
        raise ValueError(
            f"grid file {str(path)!r} holds {count:,} configurations, above the limit of "
            f"{limit:,} (var tuning_max_configurations): each configuration's book is stored "
            "for every session while the tuning runs (10,000 on the demo: about 2.5 minutes and "
            "1.7 GB); sample the grid, or lift the limit with allocator tune --override-limits "
            "(var tuning_override_limits: true)"
        )


def load_grid(path: str | Path, max_configurations: int | None = None) -> pd.DataFrame:
    """A grid file: CSV rows, or JSON ``{"product": {axis: values}}`` / ``{"rows": [...]}``.

    ``max_configurations``: refuse a larger grid before building it (a
    product's size is counted from its axes).
    """
    file = Path(path)
    if not file.is_file():
        raise ValueError(f"grid file {str(file)!r} does not exist")
    if file.suffix.lower() == ".json":
        document = json.loads(file.read_text())
        if not isinstance(document, dict):
            raise ValueError(f"grid file {str(file)!r}: give 'product' (axes) or 'rows'")
        if "product" in document:
            axes = document["product"]
            if not isinstance(axes, dict) or not all(isinstance(v, list) for v in axes.values()):
                raise ValueError(f"grid file {str(file)!r}: 'product' maps each axis to a list")
            _too_many(file, math.prod(len(values) for values in axes.values()), max_configurations)
            frame = grid_product(axes)
        elif "rows" in document:
            frame = pd.DataFrame(document["rows"])
        else:
            raise ValueError(f"grid file {str(file)!r}: give 'product' (axes) or 'rows'")
    elif file.suffix.lower() == ".csv":
        frame = pd.read_csv(file)
    else:
        raise ValueError(f"grid file {str(file)!r}: use .csv or .json")
    _too_many(file, len(frame), max_configurations)
    unknown = sorted(set(frame.columns) - set(GRID_COLUMNS) - {"config_id"})
    if unknown:
        raise ValueError(
            f"grid file {str(file)!r}: unknown column(s) {unknown}; use {GRID_COLUMNS}"
        )
    return frame.drop(columns=["config_id"], errors="ignore")


def _default_row(governor: Governor) -> dict[str, Any]:
    return {
        **dict.fromkeys(MULTIPLIER_COLUMNS, 1.0),
        "min_days": governor.min_days,
        **dict(zip(TARGET_COLUMNS, governor.targets, strict=True)),
        "alpha": governor.alpha,
        "floor": governor.floor,
        "cap": governor.cap,
        "cadence": governor.cadence,
        "sleeve_scalars": governor.sleeve_scalars,
    }


def resolve_grid(
    raw: pd.DataFrame,
    governor: Governor,
    sleeve_calibrations: Sequence[str] = (),
) -> pd.DataFrame:
    """The grid with blanks filled from the baseline, the defaults as config 0, validated.

    ``sleeve_calibrations``: the names of seeds/allocator_sleeve_scalars.csv a
    ``sleeve_scalars`` value may give besides off and book; the axis is
    refused on a baseline without the built-in strategy's sleeves.

    Duplicate configurations are dropped (the first kept), so the number of
    configurations tried, which the deflated Sharpe ratio needs, counts
    distinct ones only.
    """
    default = _default_row(governor)
    frame = raw.reindex(columns=list(GRID_COLUMNS))
    for column, value in default.items():
        frame[column] = frame[column].where(frame[column].notna(), value)
    frame = pd.concat([pd.DataFrame([default]), frame], ignore_index=True)
    labels = ("cadence", "sleeve_scalars")
    numeric = [column for column in GRID_COLUMNS if column not in labels]
    frame[numeric] = frame[numeric].astype(float)
    for column in labels:
        frame[column] = frame[column].astype(str)
    # a sleeve calibration's seed maps replace the book map, which then
    # changes nothing: the baseline's, so such rows differing only there are one
    calibrated = ~frame["sleeve_scalars"].isin((SLEEVES_OFF, SLEEVES_BOOK))
    frame.loc[calibrated, list(TARGET_COLUMNS)] = list(governor.targets)
    frame = frame.round(12).drop_duplicates(subset=list(GRID_COLUMNS), keep="first")
    _check_grid(frame.reset_index(drop=True))
    _check_sleeve_axis(frame, governor, sleeve_calibrations)
    # a configuration whose multipliers swap two levels' thresholds is one a
    # run's gate refuses (governor_config.levels_out_of_order): not tried
    frame = frame[_levels_in_order(frame, governor) | (frame.index == 0)]
    frame = frame.reset_index(drop=True)
    frame["min_days"] = frame["min_days"].astype(np.int64)
    frame.insert(0, "config_id", np.arange(len(frame), dtype=np.int64))
    frame["is_default"] = frame["config_id"] == 0
    return frame


def _levels_in_order(frame: pd.DataFrame, governor: Governor) -> pd.Series:
    """Per configuration: every feature's levels still need more extreme values
    as they rise once the multipliers are applied (vectorised
    governor_config.levels_out_of_order)."""
    order = {level: position for position, level in enumerate(LEVELS)}
    ok = np.ones(len(frame), dtype=bool)
    rules = sorted(governor.rules, key=lambda r: (r.feature, r.direction, order[r.level]))
    for low, high in itertools.combinations(rules, 2):
        if (low.feature, low.direction) != (high.feature, high.direction):
            continue
        low_value = low.enter_threshold * frame[f"{low.level.lower()}_multiplier"].to_numpy()
        high_value = high.enter_threshold * frame[f"{high.level.lower()}_multiplier"].to_numpy()
        ok &= high_value >= low_value if low.direction == "above" else high_value <= low_value
    return pd.Series(ok, index=frame.index)


def _check_grid(frame: pd.DataFrame) -> None:
    """Refuse a configuration a run's gate would refuse, naming its row."""

    def fail(mask: pd.Series, message: str) -> None:
        if mask.any():
            row = int(np.flatnonzero(mask.to_numpy())[0])
            raise ValueError(f"grid configuration {row}: {message}")

    for column in MULTIPLIER_COLUMNS:
        fail(~(frame[column] > 0), f"{column} must be > 0")
    fail(
        (frame["min_days"] < 1) | (frame["min_days"] != np.floor(frame["min_days"])),
        "min_days must be an integer >= 1",
    )
    fail(~((frame["alpha"] > 0) & (frame["alpha"] <= 1)), "alpha must satisfy 0 < alpha <= 1")
    fail(~((frame["floor"] > 0) & (frame["floor"] <= frame["cap"])), "need 0 < floor <= cap")
    fail(frame["cap"] > 1, "cap must be <= 1")
    for column in TARGET_COLUMNS:
        fail(~((frame[column] >= 0) & (frame[column] <= 1)), f"{column} must be in [0, 1]")
    for calmer, stressed in itertools.pairwise(TARGET_COLUMNS):
        fail(frame[stressed] > frame[calmer], f"{stressed} must not exceed {calmer}")
    fail(~frame["cadence"].isin(CADENCES), f"cadence must be one of {CADENCES}")


def _check_sleeve_axis(
    frame: pd.DataFrame, governor: Governor, calibrations: Sequence[str]
) -> None:
    """Refuse a sleeve_scalars value a run's gate or its seed check would refuse."""
    names = (SLEEVES_OFF, SLEEVES_BOOK, *calibrations)
    unknown = frame.loc[~frame["sleeve_scalars"].isin(names), "sleeve_scalars"]
    if len(unknown):
        raise ValueError(
            f"grid axis sleeve_scalars: {unknown.iloc[0]!r} is not off, book or a "
            f"sleeve_calibration of seeds/allocator_sleeve_scalars.csv ({sorted(calibrations)})"
        )
    if governor.portfolio_source != "strategy" and (frame["sleeve_scalars"] != SLEEVES_OFF).any():
        book = governor.portfolio_source.replace("_", " ")
        raise ValueError(
            f"grid axis sleeve_scalars needs the built-in strategy's sleeves; the baseline is a "
            f"{book} book, scaled as a whole: drop the axis (or give only off)"
        )


def configuration_rules(governor: Governor, row: Mapping[str, Any]) -> tuple[RegimeRule, ...]:
    """The absolute rules of one grid row: each level's thresholds times its multiplier."""
    return tuple(
        RegimeRule(
            rule.feature,
            rule.level,
            rule.direction,
            rule.enter_threshold * float(row[f"{rule.level.lower()}_multiplier"]),
            rule.exit_threshold * float(row[f"{rule.level.lower()}_multiplier"]),
        )
        for rule in governor.rules
    )


def governor_document(governor: Governor, row: Mapping[str, Any]) -> dict[str, Any]:
    """The governor-config file of one configuration: absolute settings a run applies."""
    return {
        "regime_rules": [
            [rule.feature, rule.level, rule.direction, rule.enter_threshold, rule.exit_threshold]
            for rule in configuration_rules(governor, row)
        ],
        "target_scalars": {
            level: float(row[column]) for level, column in zip(LEVELS, TARGET_COLUMNS, strict=True)
        },
        "allocator_regime_min_days": int(row["min_days"]),
        "allocator_risk_ewma_alpha": float(row["alpha"]),
        "allocator_risk_scalar_floor": float(row["floor"]),
        "allocator_risk_scalar_cap": float(row["cap"]),
        "cadence": str(row["cadence"]),
    }


# --- the baseline book --------------------------------------------------------------------


@dataclass(frozen=True)
class BaselineBook:
    """What a sweep reads from the baseline, as arrays in date order.

    ``feature_dates`` and ``features`` are the classified (ready) dates and
    the regime input columns; ``session_dates``, ``held`` (the unscaled book's
    held_rebalance_date, NaT for a returns-only book), ``gross_return`` and
    ``turnover`` the unscaled book; ``decided_at`` (one row per cadence of
    CADENCES) the close each session's scalar is decided at under that cadence
    (macros/scalar_delivery.sql, NaT: none); ``weights`` a dense (rebalance,
    symbol) matrix whose rows follow ``weight_dates``.

    By sleeve (read only when the grid has a sleeve_scalars value other than
    off): ``sleeves`` the book's sleeves (strategy_sleeve_weights),
    ``sleeve_weight_dates`` / ``sleeve_weights`` a dense (rebalance, sleeve,
    symbol) tensor, ``sleeve_returns`` each sleeve's contribution per session
    (sleeve_returns) and ``sleeve_targets`` each calibration's map per sleeve
    (seeds/allocator_sleeve_scalars.csv).
    """

    feature_dates: NDArray[np.datetime64]
    features: Mapping[str, NDArray[np.float64]]
    session_dates: NDArray[np.datetime64]
    held: NDArray[np.datetime64]
    gross_return: NDArray[np.float64]
    turnover: NDArray[np.float64]
    decided_at: NDArray[np.datetime64]
    weight_dates: NDArray[np.datetime64]
    weights: NDArray[np.float64]
    sleeves: tuple[str, ...] = ()
    sleeve_weight_dates: NDArray[np.datetime64] | None = None
    sleeve_weights: NDArray[np.float64] | None = None
    sleeve_returns: NDArray[np.float64] | None = None
    sleeve_held: NDArray[np.bool_] | None = None
    sleeve_targets: Mapping[str, Mapping[str, tuple[float, ...]]] | None = None

    @classmethod
    def from_frames(
        cls,
        regime_input: pd.DataFrame,
        sessions: pd.DataFrame,
        weights: pd.DataFrame,
        sleeve_weights: pd.DataFrame | None = None,
        sleeve_returns: pd.DataFrame | None = None,
        sleeve_seed: pd.DataFrame | None = None,
    ) -> BaselineBook:
        """From the baseline's published rows (date-keyed frames, any order):
        the regime input, tuning_baseline_sessions and weights_raw; for the
        sleeve axis strategy_sleeve_weights (rebalance_date, sleeve, symbol,
        weight), sleeve_returns (date, sleeve, sleeve_return) and the sleeve
        calibrations' seed rows (sleeve_calibration, sleeve, regime,
        target_scalar)."""
        regime_input = regime_input.sort_values("date")
        sessions = sessions.sort_values("date")
        weight_dates, matrix = weights_matrix(weights)
        by_sleeve: dict[str, Any] = {}
        if sleeve_weights is not None and sleeve_returns is not None and len(sleeve_weights):
            sleeves = tuple(sorted(sleeve_weights["sleeve"].astype(str).unique()))
            dates, tensor = sleeve_weights_tensor(sleeve_weights, sleeves)
            contributions = (
                sleeve_returns.pivot_table(
                    index="date", columns="sleeve", values="sleeve_return", aggfunc="sum"
                )
                .reindex(index=pd.to_datetime(sessions["date"]), columns=list(sleeves))
                .fillna(0.0)
            )
            held = (
                pd.crosstab(sleeve_weights["rebalance_date"], sleeve_weights["sleeve"].astype(str))
                .reindex(columns=list(sleeves), fill_value=0)
                .sort_index()
            )
            by_sleeve = {
                "sleeves": sleeves,
                "sleeve_held": held.to_numpy() > 0,
                "sleeve_weight_dates": dates,
                "sleeve_weights": tensor,
                "sleeve_returns": contributions.to_numpy(dtype=np.float64),
                "sleeve_targets": sleeve_calibrations(sleeve_seed),
            }
        return cls(
            feature_dates=_dates(regime_input["date"]),
            features={
                column: regime_input[column].to_numpy(dtype=np.float64, na_value=np.nan)
                for column in regime_input.columns
                if column != "date"
            },
            session_dates=_dates(sessions["date"]),
            held=_dates(sessions["held_rebalance_date"]),
            gross_return=sessions["gross_return"].to_numpy(dtype=np.float64),
            turnover=sessions["turnover"].to_numpy(dtype=np.float64),
            decided_at=np.stack(
                [_dates(sessions[f"decided_at_{cadence}"]) for cadence in CADENCES]
            ).reshape(len(CADENCES), len(sessions)),
            weight_dates=weight_dates,
            weights=matrix,
            **by_sleeve,
        )


def read_baseline(grid: pd.DataFrame, *relations: Any) -> BaselineBook:
    """The baseline from the sweep's relations (objects with ``.df()``: the
    regime input, tuning_baseline_sessions, weights, then the sleeve weights,
    sleeve returns and the sleeve calibrations' seed), the last three read only
    when the grid has a sleeve_scalars value other than off."""
    regime_input, sessions, weights, *sleeves = relations
    by_sleeve = bool(_sleeve_columns(grid).any())
    sleeve_weights, sleeve_returns, sleeve_seed = (
        relation.df() if by_sleeve else None for relation in sleeves
    )
    return BaselineBook.from_frames(
        regime_input.df(),
        sessions.df(),
        weights.df(),
        sleeve_weights=sleeve_weights,
        sleeve_returns=sleeve_returns,
        sleeve_seed=sleeve_seed,
    )


def sleeve_calibrations(
    seed: pd.DataFrame | None,
) -> dict[str, dict[str, tuple[float, ...]]]:
    """Calibration -> sleeve -> targets NORMAL..CRISIS from the seed's rows
    (a sleeve missing a regime is left out: the sweep refuses it by name)."""
    calibrations: dict[str, dict[str, tuple[float, ...]]] = {}
    if seed is None:
        return calibrations
    for (name, sleeve), rows in seed.groupby(["sleeve_calibration", "sleeve"]):
        by_regime = dict(zip(rows["regime"].astype(str), rows["target_scalar"], strict=True))
        if all(level in by_regime for level in LEVELS) and len(rows) == len(LEVELS):
            targets = tuple(float(by_regime[level]) for level in LEVELS)
            calibrations.setdefault(str(name), {})[str(sleeve)] = targets
    return calibrations


def _dates(values: pd.Series) -> NDArray[np.datetime64]:
    return pd.to_datetime(values).to_numpy(dtype="datetime64[D]")


@dataclass(frozen=True)
class SessionPlan:
    """Per session: where each cadence reads its scalar, and the book's pricing."""

    source: NDArray[np.intp]  # (3, n_sessions) index into the risk series, -1 = missing
    feature_row: NDArray[np.intp]  # the classified date of each session, -1 = none
    pricing: PricingBook


def session_plan(book: BaselineBook, cost_bps: float) -> SessionPlan:
    """The cadences' decision closes as rows of the risk series, and the book to
    price (split by sleeve when the baseline's sleeves were read)."""
    pricing = pricing_book(
        book.session_dates,
        book.held,
        book.gross_return,
        book.turnover,
        book.weight_dates,
        book.weights,
        cost_bps,
    )
    if book.sleeves:
        assert book.sleeve_weight_dates is not None and book.sleeve_weights is not None
        assert book.sleeve_returns is not None
        sleeves = sleeve_book(
            book.held,
            book.sleeves,
            book.sleeve_weight_dates,
            book.sleeve_weights,
            book.sleeve_returns,
        )
        pricing = dataclasses.replace(pricing, sleeves=sleeves)
    return SessionPlan(
        source=positions(book.decided_at, book.feature_dates),
        feature_row=positions(book.session_dates, book.feature_dates),
        pricing=pricing,
    )


def sweep_chunks(
    book: BaselineBook,
    governor: Governor,
    grid: pd.DataFrame,
    chunk: int = DEFAULT_CHUNK,
) -> Iterator[pd.DataFrame]:
    """Each configuration's sessions, ``chunk`` configurations at a time (long frames).

    Columns: config_id, date, regime_level (null on a session with no
    classified date), risk_scalar_used, turnover, net_return.  Chunking keeps
    memory to a few (n_sessions, chunk) arrays whatever the grid's size.
    """
    plan = session_plan(book, governor.transaction_cost_bps)
    n_sessions = book.session_dates.size
    for start in range(0, len(grid), chunk):
        part = grid.iloc[start : start + chunk]
        levels, exposure, turnover, net = configuration_books(book, governor, part, plan)
        session_levels = (
            np.where(plan.feature_row[:, None] >= 0, levels[np.maximum(plan.feature_row, 0)], -1)
            if levels.shape[0]
            else np.full(exposure.shape, -1)
        )
        n_configs = len(part)
        frame = pd.DataFrame(
            {
                "config_id": np.repeat(part["config_id"].to_numpy(np.int64), n_sessions),
                "date": np.tile(book.session_dates, n_configs),
                "regime_level": pd.array(session_levels.T.ravel(), dtype="Int8"),
                "risk_scalar_used": exposure.T.ravel(),
                "turnover": turnover.T.ravel(),
                "net_return": net.T.ravel(),
            }
        )
        frame.loc[frame["regime_level"] < 0, "regime_level"] = pd.NA
        yield frame


def configuration_books(
    book: BaselineBook,
    governor: Governor,
    grid: pd.DataFrame,
    plan: SessionPlan,
) -> tuple[NDArray[np.int8], NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Each configuration's book, ``(n_sessions, C)`` arrays: its regime levels
    (per classified date), the scalar on the book (the effective one under
    sleeve scalars), turnover and net return. The sweep and the controls (the
    configuration's vol) read it, so both price a configuration one way."""
    levels, exposure = configuration_paths(book, governor, grid, plan)
    turnover, net = np.empty_like(exposure), np.empty_like(exposure)
    by_sleeve = _sleeve_columns(grid)
    whole = ~by_sleeve
    if whole.any():
        priced = price_exposures(plan.pricing, exposure[:, whole])
        turnover[:, whole], net[:, whole] = priced.turnover, priced.net_return
    if by_sleeve.any():
        paths = sleeve_paths(book, governor, grid[by_sleeve], levels[:, by_sleeve], plan)
        priced = price_exposures(plan.pricing, paths)
        turnover[:, by_sleeve], net[:, by_sleeve] = priced.turnover, priced.net_return
        exposure[:, by_sleeve] = effective_scalars(book, plan, paths)
    return levels, exposure, turnover, net


def configuration_paths(
    book: BaselineBook,
    governor: Governor,
    grid: pd.DataFrame,
    plan: SessionPlan | None = None,
) -> tuple[NDArray[np.int8], NDArray[np.float64]]:
    """Regime levels (n_feature_dates, C) and the scalar on the book (n_sessions, C)."""
    plan = plan or session_plan(book, governor.transaction_cost_bps)
    multipliers = grid[[f"{rule.level.lower()}_multiplier" for rule in governor.rules]].to_numpy()
    enter = np.array([rule.enter_threshold for rule in governor.rules]) * multipliers
    exit_ = np.array([rule.exit_threshold for rule in governor.rules]) * multipliers
    levels = classify_regimes_many(
        book.features, governor.rules, enter, exit_, grid["min_days"].to_numpy(np.int64)
    )
    risk = smooth_many(
        targets_many(levels, grid[list(TARGET_COLUMNS)].to_numpy(np.float64)),
        grid["alpha"].to_numpy(np.float64),
        grid["floor"].to_numpy(np.float64),
        grid["cap"].to_numpy(np.float64),
    )
    missing = np.full((1, len(grid)), governor.apply_missing_scalar_as)
    extended = np.vstack([risk, missing])  # row -1: the missing-scalar fill
    cadence = grid["cadence"].map({name: i for i, name in enumerate(CADENCES)}).to_numpy()
    source = plan.source[cadence].T  # (n_sessions, C)
    exposure = extended[source, np.arange(len(grid))]
    return levels, exposure


def _sleeve_columns(grid: pd.DataFrame) -> NDArray[np.bool_]:
    """Per configuration: True where it scales the book by sleeve."""
    if "sleeve_scalars" not in grid.columns:
        return np.zeros(len(grid), dtype=bool)
    return (grid["sleeve_scalars"].astype(str) != SLEEVES_OFF).to_numpy()


def sleeve_maps(book: BaselineBook, grid: pd.DataFrame) -> NDArray[np.float64]:
    """Each configuration's targets NORMAL..CRISIS per sleeve, ``(C, S, 4)``:
    its own map for every sleeve under book, else its calibration's seed rows."""
    if not book.sleeves:
        raise ValueError(
            "grid axis sleeve_scalars: the baseline has no sleeves (strategy_sleeve_weights): "
            "a weights or returns file is scaled as a whole; give only off"
        )
    own = grid[list(TARGET_COLUMNS)].to_numpy(np.float64)
    maps = np.repeat(own[:, None, :], len(book.sleeves), axis=1)
    calibrations = book.sleeve_targets or {}
    for row, name in enumerate(grid["sleeve_scalars"].astype(str)):
        if name == SLEEVES_BOOK:
            continue
        calibration = calibrations.get(name, {})
        for index, sleeve in enumerate(book.sleeves):
            if sleeve not in calibration:
                raise ValueError(
                    f"grid axis sleeve_scalars: {name!r} gives no complete map (4 regimes) for "
                    f"the baseline's sleeve {sleeve!r}: use off, book or a sleeve_calibration "
                    "of seeds/allocator_sleeve_scalars.csv listing every regime of every sleeve"
                )
            maps[row, index] = calibration[sleeve]
    return maps


def sleeve_paths(
    book: BaselineBook,
    governor: Governor,
    grid: pd.DataFrame,
    levels: NDArray[np.int8],
    plan: SessionPlan,
) -> NDArray[np.float64]:
    """The scalar on each sleeve each session, ``(n_sessions, C, S)``: the
    configuration's regime levels through each sleeve's map, smoothed and
    clipped by its alpha, floor and cap, delivered by its cadence (as
    allocator_risk_v1_sleeve_scalars and allocator_sleeve_scalars_daily)."""
    maps = sleeve_maps(book, grid)
    alpha = grid["alpha"].to_numpy(np.float64)
    floor = grid["floor"].to_numpy(np.float64)
    cap = grid["cap"].to_numpy(np.float64)
    cadence = grid["cadence"].map({name: i for i, name in enumerate(CADENCES)}).to_numpy()
    source = plan.source[cadence].T  # (n_sessions, C)
    missing = np.full((1, len(grid)), governor.apply_missing_scalar_as)
    paths = np.empty((source.shape[0], len(grid), len(book.sleeves)))
    for index in range(len(book.sleeves)):
        risk = smooth_many(targets_many(levels, maps[:, index]), alpha, floor, cap)
        paths[:, :, index] = np.vstack([risk, missing])[source, np.arange(len(grid))]
    return paths


def effective_scalars(
    book: BaselineBook, plan: SessionPlan, paths: NDArray[np.float64]
) -> NDArray[np.float64]:
    """The book's scalar under sleeve scalars, ``(n_sessions, C)``: the held
    sleeves' scalars weighted by their gross exposures, kept within their
    range; 1 on a session holding no sleeve (int_exposure_sleeve_scaled_book's
    effective_scalar)."""
    sleeves = plan.pricing.sleeves
    assert sleeves is not None
    gross = np.abs(sleeves.weights).sum(axis=-1)[sleeves.held]  # (n_sessions, S)
    assert book.sleeve_held is not None
    held = np.vstack([book.sleeve_held, np.zeros((1, len(book.sleeves)), dtype=bool)])
    held = held[sleeves.held][:, None, :]
    total = gross.sum(axis=1)[:, None]
    weighted = (paths * gross[:, None, :]).sum(axis=2)
    high = np.where(held, paths, -np.inf).max(axis=2)
    low = np.where(held, paths, np.inf).min(axis=2)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(total > 0, weighted / np.where(total > 0, total, 1.0), high)
    return np.where(held.any(axis=2), np.maximum(np.minimum(mean, high), low), 1.0)


def is_close(a: float, b: float) -> bool:
    """Equal within float noise (for grid values compared with a baseline's)."""
    return math.isclose(a, b, rel_tol=0.0, abs_tol=1e-12)


# --- the tuning's own settings ------------------------------------------------------------

#: Every tuning var is defined once (type, default, bounds, doc) as a column
#: of stg_tuning_config in models/run/_run__models.yml.
TUNING_MODEL = run_parameters.TUNING_MODEL
OBJECTIVES: tuple[str, ...] = (
    run_parameters.parameter("tuning_objective", TUNING_MODEL).choices or ()
)
TUNING_DEFAULTS: Mapping[str, Any] = run_parameters.defaults(TUNING_MODEL)


def _years(config: Mapping[str, Any]) -> float:
    start, end = (np.datetime64(str(config[key])[:10]) for key in ("start", "end"))
    return float((end - start).astype(int)) / 365.25


def resolve_tuning(
    given: Mapping[str, Any],
    baseline_config_json: str | None,
    file_exists: Callable[[str], bool] = os.path.isfile,
) -> dict[str, Any]:
    """The tuning's validated settings, or ValueError naming the var to fix.

    Every value is typed and bounded by its definition; any given text with
    braces, a control character or (the grid path) a URL scheme is refused,
    and the grid must be an existing local .csv or .json file
    (``file_exists``: relative paths start at the dbt project).
    """
    from allocator.run_config import RUN_ID_PATTERN

    for name, value in given.items():
        run_parameters.check_text(value, str(name))
    settings = {**TUNING_DEFAULTS, **{k: v for k, v in given.items() if v is not None}}
    for name in ("tuning_id", "tuning_baseline_run_id"):
        text = str(settings.get(name) or "")
        if not text:
            raise ValueError(f"var {name} is required for a tuning build")
        if not RUN_ID_PATTERN.fullmatch(text):
            raise ValueError(
                f"var {name}: {text!r} is not valid: use 1-64 letters, digits, '_', '.' or '-', "
                "starting with a letter or digit"
            )
    override = bool(
        run_parameters.check_value(
            run_parameters.parameter("tuning_override_limits", TUNING_MODEL),
            settings["tuning_override_limits"],
        )
    )
    values = {
        item.column: run_parameters.check_value(item, settings.get(item.var), override)
        for item in run_parameters.parameters(TUNING_MODEL)
        if item.var not in ("tuning_id", "tuning_baseline_run_id")
    }
    grid_path = values["grid_path"]
    run_parameters.check_local_path(grid_path, "tuning_grid_path")
    if not grid_path.lower().endswith((".csv", ".json")) or not file_exists(grid_path):
        raise ValueError(
            f"var tuning_grid_path: {grid_path!r} is not an existing .csv or .json grid file "
            "(relative paths start at the dbt project)"
        )
    if values["pbo_splits"] % 2:
        raise ValueError(
            f"var tuning_pbo_splits: {values['pbo_splits']} is odd: CSCV splits the sessions into "
            "an even number of blocks (e.g. 16)"
        )
    if baseline_config_json is None:
        raise ValueError(
            f"var tuning_baseline_run_id: no published run {settings['tuning_baseline_run_id']!r} "
            "(allocator runs lists the stored runs)"
        )
    baseline = json.loads(baseline_config_json)
    if baseline.get("kind") != "baseline":
        raise ValueError(
            f"var tuning_baseline_run_id: {settings['tuning_baseline_run_id']!r} is a "
            f"{baseline.get('kind')} run: a tuning sweeps a baseline's unscaled book (mode off "
            "or compute); name the baseline it was scaled from"
        )
    years = _years(baseline)
    if years < values["min_train_years"] + 1:
        raise ValueError(
            f"var tuning_min_train_years: {values['min_train_years']} training year(s) leave no "
            f"year to test in baseline {settings['tuning_baseline_run_id']!r}, which covers "
            f"{years:.1f} years ({baseline['start']} to {baseline['end']}): use at most "
            f"{max(int(years) - 1, 0)}, or a longer baseline"
        )
    return {
        "tuning_id": str(settings["tuning_id"]),
        "baseline_run_id": str(settings["tuning_baseline_run_id"]),
        **values,
        "baseline_config_json": baseline_config_json,
    }


def sweep_relation(
    session: Any, book: BaselineBook, governor: Governor, grid: pd.DataFrame, table: str
) -> Any:
    """The sweep's long table, written to ``table`` in ``session`` chunk by chunk.

    Chunks are appended to a table of the database (not a temporary one,
    which DuckDB keeps in memory) and committed one by one: rows a
    transaction has not committed stay in memory, 2.7 GB for 10,000
    configurations instead of 1 GB. ``table`` is a scratch table of the
    build schema, so committing it early publishes nothing; a transaction is
    left open for the caller (dbt) to close.
    """
    session.execute(f"drop table if exists {table}")
    try:
        _write_chunks(session, book, governor, grid, table)
    except BaseException:
        # a failed sweep frees its scratch rows (committed chunk by chunk)
        session.execute(f"drop table if exists {table}")
        _commit_and_continue(session)
        raise
    return session.table(table)


def _write_chunks(
    session: Any, book: BaselineBook, governor: Governor, grid: pd.DataFrame, table: str
) -> None:
    swept = progress.steps("tune: configurations swept", 0 if grid is None else len(grid))
    for index, frame in enumerate(sweep_chunks(book, governor, grid)):
        session.register("tuning_sweep_chunk", frame)
        if index == 0:
            session.execute(
                f"create table {table} as select cast(config_id as integer) as config_id, "
                "cast(date as date) as date, cast(regime_level as tinyint) as regime_level, "
                "risk_scalar_used, turnover, net_return from tuning_sweep_chunk"
            )
        else:
            session.execute(f"insert into {table} select * from tuning_sweep_chunk")
        session.unregister("tuning_sweep_chunk")
        del frame
        _commit_and_continue(session)
        swept.advance(min((index + 1) * DEFAULT_CHUNK, swept.total))


def _commit_and_continue(session: Any) -> None:
    """Commit what the session wrote and open a new transaction (if one was open)."""
    try:
        session.execute("commit")
    except Exception:  # noqa: BLE001 - autocommit: nothing to commit, the rows are written
        return
    session.execute("begin transaction")


# --- selection bias -----------------------------------------------------------------------


def returns_matrix(
    sessions: Any, n_configs: int, chunk: int = DEFAULT_CHUNK
) -> NDArray[np.float64]:
    """Every configuration's daily net returns as a (T, N) matrix, config ``c`` in column ``c``.

    ``sessions`` is the sweep's relation (config_id, date, net_return, ...);
    it is read ``chunk`` configurations at a time so that only the matrix
    itself, not a sorted copy of the whole table, is held in memory.
    """
    matrix: NDArray[np.float64] | None = None
    for start in range(0, n_configs, chunk):
        stop = min(start + chunk, n_configs)
        part = (
            sessions.filter(f"config_id >= {start} and config_id < {stop}")
            .order("config_id, date")
            .project("net_return")
            .fetchnumpy()["net_return"]
        )
        block = np.asarray(part, dtype=np.float64).reshape(stop - start, -1)
        if matrix is None:
            matrix = np.empty((block.shape[1], n_configs))
        matrix[:, start:stop] = block.T
    return matrix if matrix is not None else np.empty((0, 0))


def selection_bias(
    returns: NDArray[np.float64], chosen: int, n_splits: int
) -> dict[str, float | int]:
    """Deflated Sharpe of the chosen column and the PBO of the sweep's selection.

    ``returns`` is ``(T, N)``: every configuration's daily net returns on the
    same sessions.  The DSR's trials are the N configurations and the
    variance is the sample variance (ddof 1) of their per-day Sharpe ratios;
    the PBO is CSCV on per-day Sharpe ratios with ``n_splits`` blocks
    (:mod:`allocator.overfitting`).
    """
    from allocator.overfitting import (
        deflated_sharpe_ratio,
        probability_of_backtest_overfitting,
        sharpe_ratios,
    )

    n_configs = returns.shape[1]
    sharpes = sharpe_ratios(returns)
    finite = sharpes[np.isfinite(sharpes)]
    variance = float(np.var(finite, ddof=1)) if finite.size > 1 else 0.0
    dsr = deflated_sharpe_ratio(returns[:, chosen], n_trials=n_configs, sharpe_variance=variance)
    pbo = (
        probability_of_backtest_overfitting(returns, n_splits=n_splits).pbo
        if n_configs > 1
        else float("nan")
    )
    return {
        "configurations_tried": n_configs,
        "sharpe_variance": variance,
        "deflated_sharpe": dsr.probability,
        "chosen_daily_sharpe": dsr.sharpe,
        "expected_max_daily_sharpe": dsr.expected_max_sharpe,
        "pbo": pbo,
        "pbo_splits": n_splits,
    }
