"""Tests for the synthetic market generator used by the scale benchmark."""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from allocator import synthetic
from allocator.synthetic import generate_market, main, simulate_market, write_market

SMALL = (30, 600)
# Seed 5 gives 650 crisis days in 8 spells over 3000 days: plenty for stable
# regime statistics (seed-dependent, but the generator is deterministic).
REGIME_SIZE = (40, 3000, 5)


@pytest.fixture(scope="module")
def small() -> tuple[pd.DataFrame, pd.DataFrame]:
    return generate_market(*SMALL, seed=11)


def regime_stats(prices: pd.DataFrame, regimes: pd.DataFrame) -> dict[str, tuple[float, float]]:
    """(mean annualised vol, mean pairwise correlation) of daily returns per regime."""
    wide = prices.pivot(index="date", columns="symbol", values="close")
    rets = wide.pct_change().iloc[1:]
    crisis = (regimes.set_index("date")["regime"] == "crisis").reindex(rets.index)
    out = {}
    for name, mask in (("calm", ~crisis), ("crisis", crisis)):
        sub = rets[mask.to_numpy()]
        corr = sub.corr().to_numpy()
        n = corr.shape[0]
        out[name] = (
            float((sub.std() * np.sqrt(252)).mean()),
            float((corr.sum() - n) / (n * (n - 1))),
        )
    return out


def test_deterministic_and_seed_sensitive(small: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    prices, regimes = small
    again_prices, again_regimes = generate_market(*SMALL, seed=11)
    pd.testing.assert_frame_equal(prices, again_prices)
    pd.testing.assert_frame_equal(regimes, again_regimes)
    other, _ = generate_market(*SMALL, seed=12)
    assert not np.allclose(prices["close"].to_numpy(), other["close"].to_numpy())


def test_chunking_does_not_change_output() -> None:
    whole = simulate_market(*SMALL, seed=3, chunk_symbols=1000)
    chunked = simulate_market(*SMALL, seed=3, chunk_symbols=7)
    assert np.array_equal(whole.closes, chunked.closes)
    assert np.array_equal(whole.index_closes, chunked.index_closes)


def test_long_format(small: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    prices, regimes = small
    n_symbols, n_days = SMALL
    assert list(prices.columns) == ["date", "symbol", "close"]
    assert len(prices) == n_symbols * n_days
    assert pd.api.types.is_datetime64_dtype(prices["date"])
    assert prices["close"].dtype == np.float64
    symbols = prices["symbol"].astype(str)
    assert symbols.iloc[:3].tolist() == ["S01", "S02", "S03"]
    assert symbols.nunique() == n_symbols
    assert not prices.duplicated(["date", "symbol"]).any()
    keys = list(zip(prices["date"], symbols, strict=True))
    assert keys == sorted(keys)
    assert (prices["close"] > 0).all()
    assert (prices.loc[prices["date"] == prices["date"].min(), "close"] == 100.0).all()

    dates = prices["date"].drop_duplicates()
    assert dates.iloc[0] == pd.Timestamp("1990-01-02")
    assert (dates.dt.day_of_week < 5).all()
    assert len(dates) == n_days
    assert regimes["date"].tolist() == dates.tolist()
    assert set(regimes["regime"].astype(str)) <= {"calm", "crisis"}
    assert regimes["regime"].iloc[0] == "calm"


def test_symbol_width_and_weekend_start() -> None:
    assert synthetic.symbol_names(2000)[0] == "S0001"
    assert synthetic.symbol_names(2000)[-1] == "S2000"
    days = synthetic.business_days("1990-01-06", 5)  # a Saturday
    assert str(days[0]) == "1990-01-08"
    assert str(days[-1]) == "1990-01-12"


def test_calibration_targets_hold_in_population() -> None:
    """Analytic mean vol / mean pairwise correlation over many drawn symbols."""
    market = simulate_market(4000, 300, seed=1)
    b, m = market.betas, market.vol_mults
    for params, vol_target, corr_target in (
        (synthetic.CALM, 0.22, 0.2),
        (synthetic.CRISIS, 0.55, 0.6),
    ):
        sf, se = params.factor_vol, params.idio_vol
        vol = np.sqrt(b**2 * sf**2 + m**2 * se**2)
        loading = b * sf / vol
        assert vol.mean() == pytest.approx(vol_target, abs=0.01)
        assert loading.mean() ** 2 == pytest.approx(corr_target, abs=0.02)


def test_crisis_has_higher_vol_and_correlation() -> None:
    n_symbols, n_days, seed = REGIME_SIZE
    prices, regimes = generate_market(n_symbols, n_days, seed=seed)
    assert (regimes["regime"] == "crisis").sum() >= 300
    stats = regime_stats(prices, regimes)
    calm_vol, calm_corr = stats["calm"]
    crisis_vol, crisis_corr = stats["crisis"]
    assert 0.17 < calm_vol < 0.28
    assert crisis_vol > 0.45
    assert crisis_vol > 2.0 * calm_vol
    assert 0.12 < calm_corr < 0.30
    assert 0.50 < crisis_corr < 0.72
    assert crisis_corr > calm_corr + 0.25


def test_write_parquet_schema_and_bytes(tmp_path: Path) -> None:
    first = write_market(tmp_path / "a", *SMALL, seed=4)
    second = write_market(tmp_path / "b", *SMALL, seed=4)
    assert set(first) == {"prices", "benchmark", "regimes"}
    for key in first:
        assert first[key].read_bytes() == second[key].read_bytes()
    assert first["prices"].name == "synthetic_prices.parquet"
    assert first["regimes"].name == "synthetic_regimes.csv"

    con = duckdb.connect()
    schema = con.execute(f"describe select * from '{first['prices']}'").fetchall()
    assert [(row[0], row[1]) for row in schema] == [
        ("date", "DATE"),
        ("symbol", "VARCHAR"),
        ("close", "DOUBLE"),
    ]
    codec = con.execute(
        f"select distinct compression from parquet_metadata('{first['prices']}')"
    ).fetchall()
    assert codec == [("ZSTD",)]
    rows, symbols, unsorted = con.execute(
        f"""
        select count(*), count(distinct symbol),
               count(*) filter (where key <= prev)
        from (
            select date, symbol, (date, symbol) as key,
                   lag((date, symbol)) over (order by file_row_number) as prev
            from read_parquet('{first["prices"]}', file_row_number = true)
        )
        """
    ).fetchone()
    assert (rows, symbols, unsorted) == (SMALL[0] * SMALL[1], SMALL[0], 0)

    index = con.execute(f"select * from '{first['benchmark']}' order by date").df()
    assert set(index["symbol"]) == {"SYNTH_INDEX"}
    assert len(index) == SMALL[1]
    assert index["close"].iloc[0] == 100.0

    prices, regimes = generate_market(*SMALL, seed=4)
    wide = prices.pivot(index="date", columns="symbol", values="close")
    expected = 100.0 * (1.0 + wide.pct_change().fillna(0.0).mean(axis=1)).cumprod()
    np.testing.assert_allclose(index["close"].to_numpy(), expected.to_numpy(), rtol=1e-10)

    sidecar = con.execute(f"select * from '{first['regimes']}' order by date").df()
    assert list(sidecar.columns) == ["date", "regime"]
    assert sidecar["regime"].tolist() == regimes["regime"].astype(str).tolist()


def test_write_csv_and_flags(tmp_path: Path) -> None:
    paths = write_market(tmp_path, *SMALL, fmt="csv", with_benchmark=False, with_regimes=False)
    assert set(paths) == {"prices"}
    assert paths["prices"].suffix == ".csv"
    head = paths["prices"].read_text().splitlines()[:2]
    assert head[0] == "date,symbol,close"
    assert head[1].startswith("1990-01-02,S01,100")


def test_cli_writes_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["--symbols", "5", "--days", "300", "--seed", "2", "--out", str(tmp_path)]
    assert main(argv) == 0
    assert "prices:" in capsys.readouterr().out
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "synthetic_index.parquet",
        "synthetic_prices.parquet",
        "synthetic_regimes.csv",
    ]


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"n_symbols": 1, "n_days": 600}, ValueError, "n_symbols must be >= 2"),
        ({"n_symbols": 30, "n_days": 299}, ValueError, "n_days must be >= 300"),
        ({"n_symbols": 30.0, "n_days": 600}, TypeError, "n_symbols must be an integer"),
        ({"n_symbols": 30, "n_days": 600, "seed": -1}, ValueError, "seed must be >= 0"),
        ({"n_symbols": 30, "n_days": 600, "start": "soon"}, ValueError, "start must be"),
    ],
)
def test_argument_validation(kwargs: dict, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        generate_market(**kwargs)


def test_write_rejects_unknown_format(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="fmt must be one of"):
        write_market(tmp_path, *SMALL, fmt="xlsx")
    assert not any(tmp_path.iterdir())


def test_cli_reports_bad_arguments(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--symbols", "1", "--days", "600", "--out", str(tmp_path)])
    assert exc.value.code == 2
    assert "n_symbols must be >= 2" in capsys.readouterr().err
