"""The tuning grid's sleeve_scalars axis (Stage 6 in the sweep): every sleeve
on the configuration's own map prices the book-level configuration, every
sleeve at 1 the unscaled book, and the axis is refused where a run refuses
sleeve scalars. The integration test (tests/integration/test_tuning.py)
binds a seed calibration to a full run with var sleeve_scalars."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from tests.python.test_tuning import GOVERNOR, with_decisions

from allocator.metrics import daily_vols
from allocator.pricing import price_exposures
from allocator.regime import LEVELS
from allocator.tuning import (
    BaselineBook,
    grid_product,
    resolve_grid,
    session_plan,
    sweep_chunks,
)
from allocator.tuning_controls import configuration_controls

SLEEVES = ("core", "csmom", "trend")
COST_BPS = GOVERNOR.transaction_cost_bps


def _seed() -> pd.DataFrame:
    """Two calibrations: flat (every sleeve at 1) and a differential one."""
    maps = {
        "flat": {sleeve: (1.0, 1.0, 1.0, 1.0) for sleeve in SLEEVES},
        "steep": {
            "core": (1.0, 0.7, 0.35, 0.1),
            "csmom": (1.0, 0.6, 0.25, 0.1),
            "trend": (1.0, 0.85, 0.6, 0.4),
        },
    }
    return pd.DataFrame(
        [
            {"sleeve_calibration": name, "sleeve": sleeve, "regime": level, "target_scalar": t}
            for name, by_sleeve in maps.items()
            for sleeve, targets in by_sleeve.items()
            for level, t in zip(LEVELS, targets, strict=True)
        ]
    )


def _sleeve_book(rng: np.random.Generator, from_cash: bool, n: int = 150) -> BaselineBook:
    """A book of three sleeves sharing symbols, every session holding a
    rebalance; its weights, gross return and turnover are the sleeves' sums
    (as strategy_sleeve_weights, sleeve_returns and the simulation give)."""
    dates = pd.bdate_range("2020-01-01", periods=n + 1)
    rebalances = dates[:-1:13]
    sessions = dates[1:]
    held = pd.Series(sessions).map(lambda d: rebalances[rebalances < d].max())
    sleeve_weights = pd.DataFrame(
        [
            {"rebalance_date": r, "sleeve": sleeve, "symbol": s, "weight": rng.uniform(-0.4, 0.6)}
            for r in rebalances
            for sleeve in SLEEVES
            for s in rng.choice(["a", "b", "c", "d", "e"], size=3, replace=False)
        ]
    )
    weights = sleeve_weights.groupby(["rebalance_date", "symbol"], as_index=False)["weight"].sum()
    contributions = pd.DataFrame(
        [
            {"date": d, "sleeve": sleeve, "sleeve_return": rng.normal(0, 0.004)}
            for d in sessions
            for sleeve in SLEEVES
        ]
    )
    by_rebalance = {
        r: dict(zip(rows["symbol"], rows["weight"], strict=True))
        for r, rows in weights.groupby("rebalance_date")
    }
    turnover, previous = [], None
    for t, k in enumerate(held):
        new = by_rebalance[k]
        if t == 0:
            turnover.append(sum(abs(w) for w in new.values()) if from_cash else 0.0)
        else:
            old = by_rebalance[previous]
            turnover.append(sum(abs(new.get(s, 0) - old.get(s, 0)) for s in set(new) | set(old)))
        previous = k
    unscaled = pd.DataFrame(
        {
            "date": sessions,
            "held_rebalance_date": held,
            "gross_return": contributions.groupby("date")["sleeve_return"].sum().to_numpy(),
            "turnover": turnover,
        }
    )
    features = pd.DataFrame(
        {
            "date": sessions,
            "vol": np.abs(np.cumsum(rng.normal(0, 0.25, n))) + 0.5,
            "dd": -np.abs(np.cumsum(rng.normal(0, 0.2, n))),
            "port_rvol_20d": rng.uniform(0.05, 0.3, n),  # the vol-target control's
        }
    )
    return BaselineBook.from_frames(
        features,
        with_decisions(unscaled, pd.DataFrame({"rebalance_date": rebalances})),
        weights,
        sleeve_weights=sleeve_weights,
        sleeve_returns=contributions,
        sleeve_seed=_seed(),
    )


def _grid(sleeve_scalars: list[str]) -> pd.DataFrame:
    raw = grid_product(
        {
            "stress_multiplier": [1.0, 0.6],
            "min_days": [1, 4],
            "targets": [None, [1.0, 0.6, 0.3, 0.1]],
            "alpha": [0.3, 1.0],
            "cadence": ["rebalance_lagged", "rebalance", "daily"],
            "sleeve_scalars": sleeve_scalars,
        }
    )
    return resolve_grid(raw, GOVERNOR, ["flat", "steep"])


def _swept(book: BaselineBook, grid: pd.DataFrame) -> pd.DataFrame:
    return pd.concat(list(sweep_chunks(book, GOVERNOR, grid, chunk=9))).set_index(
        ["config_id", "date"]
    )


SETTINGS = ["stress_multiplier", "min_days", "target_elevated", "alpha", "cadence"]


@pytest.mark.parametrize(("seed", "from_cash"), [(1, True), (2, False)])
def test_every_sleeve_on_the_book_map_prices_the_book_level_configuration(
    seed: int, from_cash: bool
) -> None:
    book = _sleeve_book(np.random.default_rng(seed), from_cash)
    grid = _grid(["off", "book"])
    swept = _swept(book, grid)
    off = grid[grid["sleeve_scalars"] == "off"].set_index(SETTINGS)["config_id"]
    by_sleeve = grid[grid["sleeve_scalars"] == "book"].set_index(SETTINGS)["config_id"]
    assert len(by_sleeve) > 40  # (config 0, the defaults, is off only)
    levels = swept["regime_level"].astype(float).to_numpy()
    assert np.nanmax(levels) >= 2  # the paths reach STRESS: the maps matter
    for settings, config_id in by_sleeve.items():
        mine = swept.loc[config_id]
        expected = swept.loc[off[settings]]
        assert mine["turnover"].max() > 0
        for column in ("risk_scalar_used", "turnover", "net_return"):
            np.testing.assert_allclose(mine[column], expected[column], rtol=0, atol=1e-12)


@pytest.mark.parametrize(("seed", "from_cash"), [(3, True), (4, False)])
def test_every_sleeve_at_one_prices_the_unscaled_book(seed: int, from_cash: bool) -> None:
    book = _sleeve_book(np.random.default_rng(seed), from_cash)
    grid = _grid(["flat"])
    swept = _swept(book, grid).reset_index()
    swept = swept[swept["config_id"] > 0]  # config 0: the defaults, one scalar on the book
    unscaled = book.gross_return - book.turnover * COST_BPS / 10000.0
    assert (book.turnover > 0).sum() > 5
    for _, mine in swept.groupby("config_id"):
        np.testing.assert_allclose(mine["turnover"], book.turnover, rtol=0, atol=1e-12)
        np.testing.assert_allclose(mine["net_return"], unscaled, rtol=0, atol=1e-12)
        np.testing.assert_allclose(mine["risk_scalar_used"], 1.0, rtol=0, atol=1e-12)


def test_a_differential_calibration_scales_each_sleeve_by_its_own_map() -> None:
    """The steep map's sessions differ from the book level's, and its sleeves'
    positions change turnover inside a holding period (netted across sleeves)."""
    book = _sleeve_book(np.random.default_rng(5), True)
    grid = _grid(["book", "steep"])
    swept = _swept(book, grid)
    book_level = grid[grid["sleeve_scalars"] == "book"].set_index(SETTINGS)["config_id"]
    steep = grid[grid["sleeve_scalars"] == "steep"].set_index(SETTINGS)["config_id"]
    gaps = [
        np.abs(swept.loc[c, "net_return"] - swept.loc[book_level[s], "net_return"]).max()
        for s, c in steep.items()
    ]
    assert len(gaps) == len(steep) > 20 and min(gaps) > 1e-5
    # the effective scalar stays within the sleeves' range: [floor, cap]
    assert swept["risk_scalar_used"].between(GOVERNOR.floor, GOVERNOR.cap).all()


def test_the_axis_is_refused_without_the_strategy_sleeves() -> None:
    weights_book = dataclasses.replace(GOVERNOR, portfolio_source="weights_file")
    raw = pd.DataFrame([{"sleeve_scalars": "book"}])
    with pytest.raises(ValueError, match="grid axis sleeve_scalars needs the built-in"):
        resolve_grid(raw, weights_book, ["flat"])
    # off is the book as a whole: a weights book may give it
    assert len(resolve_grid(pd.DataFrame([{"sleeve_scalars": "off"}]), weights_book)) == 1


def test_an_unknown_or_incomplete_calibration_is_refused() -> None:
    with pytest.raises(ValueError, match="grid axis sleeve_scalars: 'nope'"):
        resolve_grid(pd.DataFrame([{"sleeve_scalars": "nope"}]), GOVERNOR, ["flat"])
    book = _sleeve_book(np.random.default_rng(6), True)
    partial = dataclasses.replace(book, sleeve_targets={"flat": {"core": (1.0,) * 4}})
    grid = resolve_grid(pd.DataFrame([{"sleeve_scalars": "flat"}]), GOVERNOR, ["flat"])
    with pytest.raises(ValueError, match="no complete map .* sleeve 'csmom'"):
        list(sweep_chunks(partial, GOVERNOR, grid))
    no_sleeves = dataclasses.replace(book, sleeves=())
    with pytest.raises(ValueError, match="grid axis sleeve_scalars: the baseline has no sleeves"):
        list(sweep_chunks(no_sleeves, GOVERNOR, grid))


def test_a_calibration_ignores_the_book_map_so_its_rows_count_once() -> None:
    """Under a seed calibration the targets axis changes nothing: those rows
    are one configuration (the deflated Sharpe counts distinct ones)."""
    grid = _grid(["off", "steep"])
    steep = grid[grid["sleeve_scalars"] == "steep"]
    off = grid[grid["sleeve_scalars"] == "off"]
    assert 2 * len(steep) == len(off) - 1  # config 0 is also off
    assert (steep["target_crisis"] == GOVERNOR.targets[3]).all()


def test_the_controls_match_the_vol_of_the_configuration_s_own_book() -> None:
    """Control (b)'s exposure is vol(configuration) / vol(book at 1): under a
    calibration, the vol of the book priced by sleeve, not of its book map."""
    book = _sleeve_book(np.random.default_rng(7), True)
    grid = _grid(["steep"])
    controls = configuration_controls(book, GOVERNOR, grid, chunk=9).set_index("config_id")
    swept = _swept(book, grid)
    whole = price_exposures(
        session_plan(book, COST_BPS).pricing, np.ones((book.session_dates.size, 1))
    ).net_return
    steep = grid.loc[grid["sleeve_scalars"] == "steep", "config_id"]
    for config_id in steep:
        net = swept.loc[config_id, "net_return"].to_numpy()[:, None]
        expected = daily_vols(net)[0] / daily_vols(whole)[0]
        assert abs(controls.loc[config_id, "vol_matched_exposure"] - expected) <= 1e-12
