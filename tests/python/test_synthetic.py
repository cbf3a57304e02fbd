"""Tests for the synthetic market generator used by the scale benchmark."""

from __future__ import annotations

import hashlib
import math
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from allocator import synthetic
from allocator.synthetic import (
    build_parser,
    correlation_targets,
    generate_market,
    main,
    mean_pairwise_correlation,
    simulate_market,
    write_market,
)

SMALL = (30, 600)
# Seed 5 gives 650 crisis days in 8 spells over 3000 days: plenty for stable
# regime statistics (seed-dependent, but the generator is deterministic).
REGIME_SIZE = (40, 3000, 5)
# 30 symbols x 3000 days, seed 5 (same regime path as REGIME_SIZE): the size the
# correlation-knob acceptance criterion is stated for.
KNOB_SIZE = (30, 3000, 5)
# sha256 of the default market's arrays, recorded before the correlation knobs
# existed: the default output must stay byte-identical.
DEFAULT_DIGESTS = {
    (30, 600, 11): "9d67129e2b7ee9f22b4ed8bb4c63e091aa70d202717e3f7cec6538accbc27849",
    (5, 300, 2): "306267172362c70892a44859d206c58a45ee8d2048279210f98f703e80c17a70",
}


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


def market_digest(market: synthetic.SyntheticMarket) -> str:
    digest = hashlib.sha256()
    for array in (
        market.closes,
        market.index_closes,
        market.crisis,
        market.betas,
        market.vol_mults,
    ):
        digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()


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


# --------------------------------------------------------------------------- correlation knobs


@pytest.mark.parametrize("size", sorted(DEFAULT_DIGESTS))
def test_default_output_unchanged(size: tuple[int, int, int]) -> None:
    n_symbols, n_days, seed = size
    market = simulate_market(n_symbols, n_days, seed=seed)
    assert market_digest(market) == DEFAULT_DIGESTS[size]
    assert (market.calm_params, market.crisis_params) == (synthetic.CALM, synthetic.CRISIS)
    explicit = simulate_market(
        n_symbols, n_days, seed=seed, calm_correlation=None, crisis_correlation=None
    )
    assert market_digest(explicit) == DEFAULT_DIGESTS[size]
    # A calm knob <= 0.2 moves only the calm regime; the crisis one stays fixed.
    low = simulate_market(n_symbols, n_days, seed=seed, calm_correlation=0.1)
    assert low.crisis_params == synthetic.CRISIS


@pytest.mark.parametrize(
    ("calm", "crisis", "expected"),
    [
        (None, None, (None, None)),
        (0.8, None, (0.8, 0.9)),
        (0.3, None, (0.3, 0.65)),
        (0.2, None, (0.2, None)),
        (0.0, None, (0.0, None)),
        (0.95, None, (0.95, 0.975)),
        (0.5, 0.5, (0.5, 0.5)),
        (0.5, 0.7, (0.5, 0.7)),
        (None, 0.7, (None, 0.7)),
        (0, None, (0.0, None)),
    ],
)
def test_correlation_target_rules(
    calm: float | None, crisis: float | None, expected: tuple[float | None, float | None]
) -> None:
    got = correlation_targets(calm, crisis)
    assert got[0] == (None if expected[0] is None else pytest.approx(expected[0]))
    assert got[1] == (None if expected[1] is None else pytest.approx(expected[1]))


@pytest.mark.parametrize("target", [0.0, 0.2, 0.5, 0.8, 0.95, 0.999])
def test_calibration_hits_target_on_drawn_symbols(target: float) -> None:
    """The solved regime gives exactly the target over the drawn betas and multipliers."""
    market = simulate_market(30, 300, seed=9, calm_correlation=target)
    for params, corr, vol in (
        (market.calm_params, target, synthetic.CALM_VOL),
        (market.crisis_params, max(0.6, (1 + target) / 2), synthetic.CRISIS_VOL),
    ):
        if corr == 0.6:
            assert params == synthetic.CRISIS
            continue
        b, m = market.betas, market.vol_mults
        ratio = params.factor_vol / params.idio_vol
        assert mean_pairwise_correlation(b, m, ratio) == pytest.approx(corr, abs=1e-9)
        stock_vol = np.hypot(b * params.factor_vol, m * params.idio_vol)
        assert stock_vol.mean() == pytest.approx(vol, rel=1e-12)
    assert market.calm_params.drift == synthetic.CALM.drift
    assert market.crisis_params.drift == synthetic.CRISIS.drift


def test_calm_correlation_knob_realised() -> None:
    """Calm 0.8: realised calm correlation 0.8 +- 0.05, crisis higher (target 0.9)."""
    n_symbols, n_days, seed = KNOB_SIZE
    prices, regimes = generate_market(n_symbols, n_days, seed=seed, calm_correlation=0.8)
    assert (regimes["regime"] == "crisis").sum() >= 300
    stats = regime_stats(prices, regimes)
    calm_vol, calm_corr = stats["calm"]
    crisis_vol, crisis_corr = stats["crisis"]
    assert calm_corr == pytest.approx(0.8, abs=0.05)
    assert crisis_corr == pytest.approx(0.9, abs=0.05)
    assert crisis_corr > calm_corr + 0.05
    assert calm_vol == pytest.approx(0.22, abs=0.03)
    assert crisis_vol == pytest.approx(0.55, abs=0.06)


def test_both_correlation_knobs_realised() -> None:
    n_symbols, n_days, seed = KNOB_SIZE
    prices, regimes = generate_market(
        n_symbols, n_days, seed=seed, calm_correlation=0.5, crisis_correlation=0.7
    )
    stats = regime_stats(prices, regimes)
    assert stats["calm"][1] == pytest.approx(0.5, abs=0.05)
    assert stats["crisis"][1] == pytest.approx(0.7, abs=0.05)


def test_correlation_knobs_only_rescale_vols() -> None:
    """Same regime path, betas, multipliers and shocks; only the prices move."""
    default = simulate_market(*SMALL, seed=11)
    knob = simulate_market(*SMALL, seed=11, calm_correlation=0.8)
    assert np.array_equal(default.crisis, knob.crisis)
    assert np.array_equal(default.betas, knob.betas)
    assert np.array_equal(default.vol_mults, knob.vol_mults)
    assert not np.allclose(default.closes, knob.closes)


def test_correlation_knobs_deterministic() -> None:
    first = simulate_market(*SMALL, seed=3, calm_correlation=0.8, crisis_correlation=0.85)
    again = simulate_market(*SMALL, seed=3, calm_correlation=0.8, crisis_correlation=0.85)
    chunked = simulate_market(
        *SMALL, seed=3, calm_correlation=0.8, crisis_correlation=0.85, chunk_symbols=7
    )
    other_seed = simulate_market(*SMALL, seed=4, calm_correlation=0.8, crisis_correlation=0.85)
    assert market_digest(first) == market_digest(again) == market_digest(chunked)
    assert not np.allclose(first.closes, other_seed.closes)
    other_knob = simulate_market(*SMALL, seed=3, calm_correlation=0.7, crisis_correlation=0.85)
    assert not np.allclose(first.closes, other_knob.closes)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"calm_correlation": -0.1}, ValueError, r"calm_correlation \(--calm-correlation\)"),
        ({"calm_correlation": 1.0}, ValueError, r"calm_correlation .* must be >= 0 and < 1"),
        ({"calm_correlation": math.nan}, ValueError, "calm_correlation"),
        ({"calm_correlation": math.inf}, ValueError, "calm_correlation"),
        ({"calm_correlation": True}, TypeError, "calm_correlation .* must be a number"),
        ({"calm_correlation": "0.8"}, TypeError, "calm_correlation .* must be a number"),
        (
            {"calm_correlation": 0.8, "crisis_correlation": 0.7},
            ValueError,
            r"crisis_correlation \(--crisis-correlation\) must be >= calm_correlation \(0.8\)",
        ),
        ({"calm_correlation": 0.8, "crisis_correlation": 1.0}, ValueError, "and < 1, got 1.0"),
        ({"crisis_correlation": 0.1}, ValueError, "default calm correlation 0.2"),
        ({"crisis_correlation": -1.0}, ValueError, "crisis_correlation"),
    ],
)
def test_correlation_validation(kwargs: dict, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        correlation_targets(**kwargs)
    with pytest.raises(error, match=match):
        simulate_market(*SMALL, **kwargs)


def test_write_rejects_bad_correlation_before_writing(tmp_path: Path) -> None:
    out = tmp_path / "out"
    with pytest.raises(ValueError, match="calm_correlation"):
        write_market(out, *SMALL, calm_correlation=1.5)
    assert not out.exists()


def test_cli_correlation_options_round_trip(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = ["--symbols", "5", "--days", "300", "--seed", "2", "--format", "csv"]
    args = build_parser().parse_args([*base, "--out", "x"])
    assert (args.calm_correlation, args.crisis_correlation) == (None, None)
    knobs = ["--calm-correlation", "0.8", "--crisis-correlation", "0.85"]
    args = build_parser().parse_args([*base, "--out", "x", *knobs])
    assert (args.calm_correlation, args.crisis_correlation) == (0.8, 0.85)

    assert main([*base, "--out", str(tmp_path / "cli"), *knobs]) == 0
    assert "prices:" in capsys.readouterr().out
    api = write_market(
        tmp_path / "api", 5, 300, seed=2, fmt="csv", calm_correlation=0.8, crisis_correlation=0.85
    )
    default = write_market(tmp_path / "default", 5, 300, seed=2, fmt="csv")
    assert set(api) == {"prices", "benchmark", "regimes"}
    for path in api.values():
        assert (tmp_path / "cli" / path.name).read_bytes() == path.read_bytes()
    assert api["prices"].read_bytes() != default["prices"].read_bytes()
    assert api["regimes"].read_bytes() == default["regimes"].read_bytes()


def test_cli_reports_bad_correlation(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["--symbols", "5", "--days", "300", "--out", str(tmp_path / "o")]
    with pytest.raises(SystemExit) as exc:
        main([*argv, "--calm-correlation", "1"])
    assert exc.value.code == 2
    assert "calm_correlation (--calm-correlation) must be >= 0 and < 1" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main([*argv, "--calm-correlation", "0.8", "--crisis-correlation", "0.5"])
    assert exc.value.code == 2
    assert "--crisis-correlation" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
