"""Tests for allocator.tuning: a configuration's book from the vectorised sweep
equals a plain, one-configuration, session-by-session reading of the SQL
rules (allocator_scalars_daily.sql, price_exposure.sql) built from the scalar
classifier and smoother; the grid and the governor-config file."""

from __future__ import annotations

import json

import duckdb
import numpy as np
import pandas as pd
import pytest

from allocator.regime import LEVELS, RegimeRule, classify_regimes
from allocator.risk import smooth_risk_scalar
from allocator.sql_macros import macro_library
from allocator.tuning import (
    BaselineBook,
    Governor,
    configuration_rules,
    governor_document,
    governor_from_config_json,
    grid_product,
    resolve_grid,
    sweep_chunks,
)

RULES = (
    RegimeRule("vol", "ELEVATED", "above", 1.2, 1.0),
    RegimeRule("dd", "STRESS", "below", -1.0, -0.8),
    RegimeRule("vol", "CRISIS", "above", 2.0, 1.6),
)
GOVERNOR = Governor(
    rules=RULES,
    targets=(1.0, 0.8, 0.5, 0.2),
    min_days=3,
    alpha=0.4,
    floor=0.2,
    cap=1.0,
    cadence="rebalance_lagged",
    apply_missing_scalar_as=1.0,
    transaction_cost_bps=7.0,
)


def _book(
    rng: np.random.Generator, n: int = 160, warmup: int = 12, opens_held: bool = False
) -> BaselineBook:
    """A weights book: monthly-ish rebalances, 3 symbols, features from session `warmup`.

    ``opens_held``: the window opens inside a holding period (the first
    session already holds a rebalance's weights) instead of before any.
    """
    dates = pd.bdate_range("2020-01-01", periods=n)
    rebalances = dates[::17]
    held = pd.Series(dates).map(lambda d: rebalances[rebalances < d].max())
    weights = pd.DataFrame(
        [
            {"rebalance_date": r, "symbol": s, "weight": rng.uniform(-0.5, 0.8)}
            for r in rebalances
            for s in rng.choice(["a", "b", "c", "d"], size=3, replace=False)
        ]
    )
    vol = np.abs(np.cumsum(rng.normal(0, 0.25, n - warmup))) + 0.5
    dd = -np.abs(np.cumsum(rng.normal(0, 0.2, n - warmup)))
    dd[rng.choice(n - warmup, 5, replace=False)] = np.nan
    features = pd.DataFrame({"date": dates[warmup:], "vol": vol, "dd": dd})
    start = 3 if opens_held else 0
    dates, held = dates[start:], held[start:].reset_index(drop=True)
    n -= start
    sessions = pd.DataFrame(
        {
            "date": dates,
            "held_rebalance_date": held,
            "gross_return": rng.normal(0, 0.01, n),
            "turnover": rng.uniform(0, 0.5, n),
        }
    )
    return BaselineBook.from_frames(
        features,
        with_decisions(sessions, pd.DataFrame({"rebalance_date": rebalances})),
        weights,
    )


def with_decisions(sessions: pd.DataFrame, rebalances: pd.DataFrame) -> pd.DataFrame:
    """The sessions with each cadence's decision close, by the macro
    (macros/scalar_delivery.sql), as model tuning_baseline_sessions adds them."""
    con = duckdb.connect()
    try:
        con.register("sessions", sessions[["date", "held_rebalance_date"]])
        con.register("rebalances", rebalances)
        decisions = con.execute(
            macro_library().render(
                "with {{ allocator.scalar_decisions('sessions', 'rebalances') }} "
                "select * exclude (held_rebalance_date) from scalar_decisions"
            )
        ).df()
    finally:
        con.close()
    return sessions.merge(decisions.assign(date=pd.to_datetime(decisions["date"])), on="date")


def _reference(book: BaselineBook, row: pd.Series) -> pd.DataFrame:
    """One configuration, session by session, from the scalar functions."""
    rules = configuration_rules(GOVERNOR, row)
    feature_rows = [
        {name: (None if np.isnan(v[i]) else float(v[i])) for name, v in book.features.items()}
        for i in range(book.feature_dates.size)
    ]
    steps = classify_regimes(feature_rows, rules, int(row["min_days"]))
    targets = [float(row[f"target_{s.regime.lower()}"]) for s in steps]
    risk = dict(
        zip(
            book.feature_dates,
            smooth_risk_scalar(
                targets, float(row["alpha"]), float(row["floor"]), float(row["cap"])
            ),
            strict=True,
        )
    )
    rebalances = list(book.weight_dates)  # every rebalance has weights here
    missing = GOVERNOR.apply_missing_scalar_as
    weights = {
        d: dict(zip(range(book.weights.shape[1]), w, strict=True))
        for d, w in zip(book.weight_dates, book.weights, strict=True)
    }
    rows, previous_held, previous_exposure = [], None, None
    for t in range(book.session_dates.size):
        held = (
            book.held[t]
            if not np.isnat(book.held[t])
            else (book.session_dates[t - 1] if t else None)
        )
        if row["cadence"] == "daily":
            exposure = risk.get(book.session_dates[t - 1], missing) if t else missing
        elif held in rebalances:
            k = rebalances.index(held)
            if row["cadence"] == "rebalance":
                exposure = risk.get(held, missing)
            else:
                exposure = risk.get(rebalances[k - 1], missing) if k else missing
        else:
            exposure = missing
        if np.isnat(book.held[t]):
            # no weights held: priced as a returns-only book, gross exposure 1
            turnover = abs(
                exposure - (exposure if previous_exposure is None else previous_exposure)
            )
        elif previous_held is None:
            # the book's first session: the unscaled book's own entry, scaled
            turnover = exposure * book.turnover[t]
        elif held != previous_held:
            new = weights.get(held, {})
            old = weights.get(previous_held, {})
            turnover = sum(
                abs(exposure * new.get(s, 0.0) - (previous_exposure or 0.0) * old.get(s, 0.0))
                for s in set(new) | set(old)
            )
        elif held is not None:
            turnover = abs(exposure - previous_exposure) * sum(
                abs(w) for w in weights.get(held, {}).values()
            )
        else:
            turnover = 0.0
        gross = book.gross_return[t] * exposure
        rows.append(
            (exposure, turnover, gross - turnover * GOVERNOR.transaction_cost_bps / 10000.0)
        )
        previous_held, previous_exposure = held, exposure
    return pd.DataFrame(rows, columns=["risk_scalar_used", "turnover", "net_return"])


@pytest.mark.parametrize(("seed", "opens_held"), [(1, False), (2, True), (3, True)])
def test_every_configuration_equals_the_one_at_a_time_reading(seed: int, opens_held: bool) -> None:
    rng = np.random.default_rng(seed)
    book = _book(rng, opens_held=opens_held)
    raw = grid_product(
        {
            "elevated_multiplier": [0.9, 1.1],
            "stress_multiplier": [1.0, 1.3],
            "min_days": [1, 4],
            "targets": [None, [1.0, 0.6, 0.3, 0.1]],
            "alpha": [0.3, 1.0],
            "cadence": ["rebalance_lagged", "rebalance", "daily"],
        }
    )
    grid = resolve_grid(raw, GOVERNOR)
    frames = pd.concat(list(sweep_chunks(book, GOVERNOR, grid, chunk=7)))
    assert frames["config_id"].nunique() == len(grid)
    for config_id in rng.choice(len(grid), 12, replace=False):
        mine = frames[frames["config_id"] == config_id].reset_index(drop=True)
        expected = _reference(book, grid.iloc[config_id])
        for column in ("risk_scalar_used", "turnover", "net_return"):
            np.testing.assert_allclose(mine[column], expected[column], rtol=0, atol=1e-15)


def test_grid_fills_blanks_from_the_baseline_and_keeps_the_defaults_first() -> None:
    raw = pd.DataFrame(
        [
            {"alpha": 0.5},
            {"alpha": 0.5},  # duplicate: dropped
            {"cadence": "rebalance_lagged"},  # equals the defaults: dropped
            {"stress_multiplier": 1.2, "floor": 0.1},
        ]
    )
    grid = resolve_grid(raw, GOVERNOR)
    assert list(grid["config_id"]) == [0, 1, 2]
    assert grid.loc[0, "is_default"] and not grid.loc[1:, "is_default"].any()
    assert grid.loc[1, "alpha"] == 0.5 and grid.loc[1, "min_days"] == 3
    assert grid.loc[2, "stress_multiplier"] == 1.2 and grid.loc[2, "target_crisis"] == 0.2


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({"alpha": 0.0}, "alpha"),
        ({"floor": 0.9, "cap": 0.5}, "floor"),
        ({"cadence": "weekly"}, "cadence"),
        ({"min_days": 0}, "min_days"),
        ({"elevated_multiplier": -1.0}, "elevated_multiplier"),
    ],
)
def test_grid_refuses_what_a_run_would_refuse(row: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        resolve_grid(pd.DataFrame([row]), GOVERNOR)


def test_governor_document_scales_each_level_and_round_trips() -> None:
    row = {
        "elevated_multiplier": 1.1,
        "stress_multiplier": 0.9,
        "crisis_multiplier": 1.0,
        "min_days": 4,
        "target_normal": 1.0,
        "target_elevated": 0.7,
        "target_stress": 0.4,
        "target_crisis": 0.1,
        "alpha": 0.5,
        "floor": 0.1,
        "cap": 1.0,
        "cadence": "daily",
    }
    document = json.loads(json.dumps(governor_document(GOVERNOR, row)))
    assert document["regime_rules"][0] == ["vol", "ELEVATED", "above", 1.2 * 1.1, 1.0 * 1.1]
    assert document["regime_rules"][1] == ["dd", "STRESS", "below", -1.0 * 0.9, -0.8 * 0.9]
    assert document["target_scalars"] == dict(zip(LEVELS, (1.0, 0.7, 0.4, 0.1), strict=True))
    assert document["cadence"] == "daily" and document["allocator_regime_min_days"] == 4


def test_governor_from_a_published_config_json() -> None:
    config = {
        "regime_calibration": {
            "rules": [["vol", "ELEVATED", "above", 1.2, 1.0]],
            "target_scalars": {"NORMAL": 1.0, "ELEVATED": 0.8, "STRESS": 0.5, "CRISIS": 0.2},
        },
        "allocator_parameters": {
            "regime_min_days": 5,
            "risk_ewma_alpha": 0.25,
            "risk_scalar_floor": 0.25,
            "risk_scalar_cap": 1.0,
        },
        "allocator_v1": {"apply_missing_scalar_as": 1.0, "cadence": "daily"},
        "profile": {"transaction_cost_bps": 5.0},
    }
    governor = governor_from_config_json(json.dumps(config))
    assert governor.targets == (1.0, 0.8, 0.5, 0.2)
    assert governor.cadence == "daily" and governor.transaction_cost_bps == 5.0


# --- controls (b) and (c) per configuration ---------------------------------------------


def _decision_dates(book: BaselineBook, cadence: str) -> list:
    """The close each session's scalar is decided at (allocator_scalars_daily.sql), or None."""
    rebalances = list(book.weight_dates)  # every rebalance has weights here
    dates = []
    for t in range(book.session_dates.size):
        held = book.held[t] if not np.isnat(book.held[t]) else book.session_dates[t - 1]
        if cadence == "daily":
            dates.append(book.session_dates[t - 1] if t else None)
        elif t and held in rebalances:
            k = rebalances.index(held)
            lagged = rebalances[k - 1] if k else None
            dates.append(held if cadence == "rebalance" else lagged)
        elif held in rebalances:
            k = rebalances.index(held)
            dates.append(held if cadence == "rebalance" else (rebalances[k - 1] if k else None))
        else:
            dates.append(None)
    return dates


def _metrics(returns: np.ndarray) -> tuple[float, float]:
    """Sharpe and MaxDD as macros/book_metrics.sql defines them, in pandas."""
    series = pd.Series(returns)
    sharpe = series.mean() / series.std(ddof=1) * np.sqrt(252)
    wealth = (1 + series).cumprod()
    drawdown = wealth / np.maximum(1.0, wealth.cummax()) - 1
    return float(sharpe), float(drawdown.min())


@pytest.mark.parametrize("seed", [4, 5, 6])
def test_vectorised_controls_equal_the_single_book_functions(seed: int) -> None:
    # a window opening inside a holding period, as a published baseline's does
    # (the synthetic book's returns-only first session has no SQL counterpart)
    from dataclasses import replace

    from allocator.controls import daily_vol, solve_vol_target_k, vol_target_exposure
    from allocator.pricing import book_from_frames, price_exposure
    from allocator.tuning_controls import configuration_controls

    rng = np.random.default_rng(seed)
    book = _book(rng, opens_held=True)
    rvol20 = rng.uniform(0.002, 0.03, book.feature_dates.size)
    rvol20[rng.choice(rvol20.size, 4, replace=False)] = np.nan
    book = replace(book, features={**book.features, "port_rvol_20d": rvol20})
    raw = grid_product(
        {
            "elevated_multiplier": [0.9, 1.1],
            "min_days": [1, 4],
            "targets": [None, [1.0, 0.6, 0.3, 0.1]],
            "cadence": ["rebalance_lagged", "rebalance", "daily"],
        }
    )
    grid = resolve_grid(raw, GOVERNOR)
    controls = configuration_controls(book, GOVERNOR, grid, chunk=5).set_index("config_id")
    sessions = pd.concat(list(sweep_chunks(book, GOVERNOR, grid)))
    weights = pd.DataFrame(
        [
            {"rebalance_date": pd.Timestamp(d), "symbol": s, "weight": w}
            for d, row in zip(book.weight_dates, book.weights, strict=True)
            for s, w in enumerate(row)
        ]
    )
    single = book_from_frames(
        pd.DataFrame(
            {
                "date": pd.to_datetime(book.session_dates),
                "held_rebalance_date": pd.to_datetime(book.held),
                "gross_return": book.gross_return,
                "turnover": book.turnover,
            }
        ),
        weights,
        GOVERNOR.transaction_cost_bps,
    )
    whole = price_exposure(single, np.ones(book.session_dates.size))
    rv_at = dict(zip(book.feature_dates, rvol20, strict=True))
    solved = 0
    for config_id, row in grid.set_index("config_id").iterrows():
        mine = controls.loc[config_id]
        governor_exposure = sessions.loc[sessions["config_id"] == config_id, "risk_scalar_used"]
        governor_net = price_exposure(single, governor_exposure.to_numpy())
        c = daily_vol(governor_net) / daily_vol(whole)
        assert mine["vol_matched_exposure"] == pytest.approx(c, rel=0, abs=1e-12)
        sharpe, max_drawdown = _metrics(c * whole)
        assert mine["vol_matched_sharpe"] == pytest.approx(sharpe, rel=0, abs=1e-12)
        assert mine["vol_matched_max_drawdown"] == pytest.approx(max_drawdown, rel=0, abs=1e-12)

        rvol = np.array(
            [
                np.nan if d is None else rv_at.get(d, np.nan)
                for d in _decision_dates(book, row["cadence"])
            ]
        )
        scale = solve_vol_target_k(
            single, rvol, governor_exposure.to_numpy(), GOVERNOR.apply_missing_scalar_as
        )
        if scale.k is None:
            assert np.isnan(mine["vol_target_k"])
            continue
        solved += 1
        assert mine["vol_target_k"] == pytest.approx(scale.k, rel=0, abs=1e-12)
        control = price_exposure(
            single, vol_target_exposure(rvol, scale.k, GOVERNOR.apply_missing_scalar_as)
        )
        sharpe, max_drawdown = _metrics(control)
        assert mine["vol_target_sharpe"] == pytest.approx(sharpe, rel=0, abs=1e-12)
        assert mine["vol_target_max_drawdown"] == pytest.approx(max_drawdown, rel=0, abs=1e-12)
    assert solved > len(grid) // 2
