"""Stage 6, sleeve-level scalars: the per-sleeve risk series reuses the book
scalar's recursion and clip (allocator.layers.sleeve_risk_frame over
allocator.risk), and the resolver's option sleeve_scalars (off by default,
out of the config hash; refused on books without sleeves)."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from tests.python.test_run_config import resolved

from allocator.controls import solve_vol_target_k
from allocator.layers import risk_frame, sleeve_risk_frame, sleeve_targets_from_records
from allocator.pricing import book_from_frames, price_exposure
from allocator.run_config import ConfigProblem

SEEDS = Path(__file__).resolve().parents[2] / "seeds"
BOOK = {"NORMAL": 1.0, "ELEVATED": 0.7, "STRESS": 0.35, "CRISIS": 0.1}
REGIMES = pd.DataFrame(
    {
        "date": pd.date_range("2020-01-01", periods=8, freq="D"),
        "regime": [
            "NORMAL",
            "ELEVATED",
            "STRESS",
            "CRISIS",
            "CRISIS",
            "STRESS",
            "ELEVATED",
            "NORMAL",
        ],
    }
)


def test_a_sleeve_with_the_book_targets_is_the_book_scalar_exactly() -> None:
    book = risk_frame(REGIMES, BOOK, alpha=0.5, floor=0.1, cap=1.0)
    sleeves = sleeve_risk_frame(REGIMES, {"core": BOOK, "trend": BOOK}, 0.5, 0.1, 1.0)
    for _, frame in sleeves.groupby("sleeve"):
        assert frame["risk_scalar"].tolist() == book["risk_scalar"].tolist()
        assert frame["ewma_state"].tolist() == book["ewma_state"].tolist()


def test_flat_targets_give_a_scalar_of_one_everywhere() -> None:
    flat = dict.fromkeys(BOOK, 1.0)
    sleeves = sleeve_risk_frame(REGIMES, {"csmom": flat}, alpha=0.25, floor=0.25, cap=1.0)
    assert sleeves["risk_scalar"].tolist() == [1.0] * len(REGIMES)


def test_each_sleeve_is_its_own_series_in_sleeve_then_date_order() -> None:
    soft = {"NORMAL": 1.0, "ELEVATED": 0.9, "STRESS": 0.6, "CRISIS": 0.4}
    hard = {"NORMAL": 1.0, "ELEVATED": 0.6, "STRESS": 0.25, "CRISIS": 0.1}
    sleeves = sleeve_risk_frame(REGIMES, {"trend": soft, "csmom": hard}, 0.5, 0.1, 1.0)
    assert list(sleeves.columns) == [
        "date",
        "sleeve",
        "regime",
        "target_scalar",
        "risk_scalar",
        "ewma_state",
    ]
    assert sleeves["sleeve"].tolist() == ["csmom"] * 8 + ["trend"] * 8
    csmom, trend = (
        sleeves[sleeves["sleeve"] == s]["risk_scalar"].tolist() for s in ("csmom", "trend")
    )
    assert all(h <= s for h, s in zip(csmom, trend, strict=True))
    assert min(csmom) < min(trend)


def test_the_option_off_gives_an_empty_frame_with_the_columns() -> None:
    frame = sleeve_risk_frame(REGIMES, {}, alpha=0.5, floor=0.1, cap=1.0)
    assert frame.empty
    assert list(frame.columns) == [
        "date",
        "sleeve",
        "regime",
        "target_scalar",
        "risk_scalar",
        "ewma_state",
    ]


def test_a_sleeve_missing_a_regime_is_refused_by_name() -> None:
    records = [{"sleeve": "trend", "regime": r, "target_scalar": 1.0} for r in ("NORMAL", "STRESS")]
    with pytest.raises(ValueError, match="sleeve 'trend'"):
        sleeve_targets_from_records(records)


def test_every_seed_calibration_maps_every_regime_of_every_sleeve() -> None:
    with (SEEDS / "allocator_sleeve_scalars.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    for name in {row["sleeve_calibration"] for row in rows}:
        targets = sleeve_targets_from_records(r for r in rows if r["sleeve_calibration"] == name)
        assert sorted(targets) == ["core", "csmom", "trend"]
    stage6 = sleeve_targets_from_records(r for r in rows if r["sleeve_calibration"] == "stage6_v1")
    # the seeds' intent: trend de-risks less than the book, the crash-prone sleeve harder
    assert stage6["trend"]["STRESS"] > BOOK["STRESS"] > stage6["csmom"]["STRESS"]


def test_sleeve_scalars_are_off_by_default_and_out_of_the_config_hash() -> None:
    default = resolved({})
    explicit_off = resolved({"sleeve_scalars": "off"})
    assert default.values["sleeve_scalars"] == "off"
    assert "sleeve_scalars" not in default.config
    assert default.config_hash == explicit_off.config_hash
    on = resolved({"sleeve_scalars": "stage6_v1"})
    assert on.config["sleeve_scalars"] == "stage6_v1"
    assert on.config_hash != default.config_hash


@pytest.mark.parametrize(
    ("given", "says"),
    [
        ({"weights_path": "w.csv"}, "weights file"),
        ({"portfolio_returns_path": "r.csv"}, "returns file"),
        (
            {
                "allocator_v1": {
                    "enabled": True,
                    "mode": "precomputed",
                    "precomputed_scalar_filename": "s.csv",
                }
            },
            "scalar file",
        ),
        ({"live": True}, "live"),
    ],
)
def test_books_without_sleeves_refuse_the_option_in_one_line(given, says) -> None:
    with pytest.raises(ConfigProblem) as problem:
        resolved({"sleeve_scalars": "stage6_v1", **given})
    message = str(problem.value)
    assert "sleeve_scalars" in message and says in message and "\n" not in message


def test_a_sleeve_calibration_name_is_a_plain_identifier() -> None:
    with pytest.raises(ConfigProblem, match="sleeve_scalars"):
        resolved({"sleeve_scalars": "x'; drop table runs; --"})


def test_the_vol_target_control_matches_returns_one_exposure_cannot_price() -> None:
    """With sleeve scalars the governor is not one exposure on the book: the
    vol target is matched to the governor's own returns."""
    rng = np.random.default_rng(7)
    n = 300
    sessions = pd.DataFrame(
        {
            "date": pd.bdate_range("2020-01-01", periods=n),
            "held_rebalance_date": pd.NaT,
            "gross_return": rng.normal(0.0003, 0.01, n),
        }
    )
    book = book_from_frames(
        sessions, pd.DataFrame(columns=["rebalance_date", "symbol", "weight"]), 5
    )
    rvol = np.where(np.arange(n) < 60, np.nan, rng.uniform(0.08, 0.3, n))
    exposure = np.where(np.arange(n) % 50 < 10, 0.4, 1.0)
    governor_returns = price_exposure(book, exposure) * 0.9  # what one exposure does not give
    scale = solve_vol_target_k(book, rvol, exposure, 1.0, governor_returns)
    assert scale.target_daily_vol == pytest.approx(np.std(governor_returns, ddof=1), rel=1e-15)
    assert scale.matched_daily_vol == pytest.approx(scale.target_daily_vol, rel=1e-12)
    assert scale.target_daily_vol != pytest.approx(
        solve_vol_target_k(book, rvol, exposure, 1.0).target_daily_vol, rel=1e-6
    )
