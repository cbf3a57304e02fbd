"""The audit report's book sections (issue 22): what the two books traded
and cost, how their returns are distributed, what they earned lately, how
often they won, where the baseline's return came from by sleeve, and the
definitions behind the risk figures.

Everything is read from the published tables (marts.portfolio_returns,
artifacts.weights_scaled, artifacts.sleeve_returns, marts.runs) and computed
here with pandas from the daily rows; the headline and risk metrics stay
the marts' (macros/book_metrics.sql, macros/risk_metrics.sql).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

SESSIONS_PER_YEAR = 252
#: Trailing windows: (label, sessions or None for the calendar year to date, annualised).
TRAILING = (
    ("1M", 21, False),
    ("3M", 63, False),
    ("6M", 126, False),
    ("YTD", None, False),
    ("1Y", 252, False),
    ("3Y (ann.)", 756, True),
    ("5Y (ann.)", 1260, True),
)
#: Edges of the daily-return histogram (fractions); the ends are open.
HISTOGRAM_EDGES = (-0.05, -0.03, -0.02, -0.01, -0.005, 0.0, 0.005, 0.01, 0.02, 0.03, 0.05)
PERCENTILES = (1, 5, 25, 50, 75, 95, 99)
#: The definitions the report states (and where they differ from quantstats).
DEFINITIONS = (
    (
        "Sharpe",
        "mean / standard deviation (ddof 1) of the daily returns in excess of the risk-free "
        "rate, x sqrt(252) (empyrical; quantstats' sharpe with the same rf and periods=252 "
        "agrees)",
    ),
    (
        "Sortino",
        "mean daily excess return x 252 / the downside deviation sqrt(mean(min(r - rf, 0)^2)) "
        "x sqrt(252), every day counted (empyrical.sortino_ratio with required_return = rf; "
        "quantstats' sortino divides by sqrt(sum(min(r, 0)^2) / n) the same way)",
    ),
    (
        "VaR 95",
        "historical: the 5th percentile of the daily returns, linearly interpolated "
        "(empyrical.value_at_risk); quantstats.value_at_risk is parametric, mean - 1.645 x "
        "stddev under a normal law, so it understates fat tails",
    ),
    (
        "CVaR 95",
        "the mean of the worst floor((n - 1) x 0.05) + 1 days (empyrical's "
        "conditional_value_at_risk); quantstats.cvar averages the days below its parametric "
        "VaR instead",
    ),
    (
        "Turnover, costs",
        "the sum of |weight change| at rebalances (and of the scalar's changes in the scaled "
        "book) a year, and the transaction costs charged on it a year, as fractions of capital",
    ),
    (
        "Gross exposure",
        "the sum of |weight| of the book held after each rebalance (the scaled book's weights "
        "include the risk scalar)",
    ),
)


@dataclass(frozen=True)
class Book:
    """One book's daily rows (date, portfolio_return, turnover, transaction_cost)
    and gross exposure at each rebalance."""

    label: str
    daily: pd.DataFrame
    gross_exposure: pd.Series


def _pct(value: Any, digits: int = 2) -> str:
    if value is None or not np.isfinite(value):
        return "–"
    return f"{value * 100:.{digits}f}%"


def trailing_returns(dates: pd.Series, returns: pd.Series) -> dict[str, float | None]:
    """Compounded returns over the trailing windows ending on the last date
    (annualised for windows past a year); None where the book is shorter."""
    frame = pd.DataFrame({"date": pd.to_datetime(dates), "r": returns.to_numpy()}).dropna()
    out: dict[str, float | None] = {}
    if frame.empty:
        return {label: None for label, _, _ in TRAILING}
    for label, sessions, annualised in TRAILING:
        if sessions is None:
            year = frame["date"].iloc[-1].year
            part = frame.loc[frame["date"].dt.year == year, "r"]
        else:
            part = frame["r"].iloc[-sessions:] if len(frame) >= sessions else None
        if part is None:
            out[label] = None
            continue
        growth = float(np.prod(1 + part.to_numpy()))
        out[label] = growth ** (SESSIONS_PER_YEAR / len(part)) - 1 if annualised else growth - 1
    growth = float(np.prod(1 + frame["r"].to_numpy()))
    out["Since start (ann.)"] = growth ** (SESSIONS_PER_YEAR / len(frame)) - 1
    return out


def hit_rates(dates: pd.Series, returns: pd.Series) -> dict[str, float | None]:
    """Shares of positive days, months and years, and the average gain / average loss."""
    frame = pd.DataFrame({"date": pd.to_datetime(dates), "r": returns.to_numpy()}).dropna()
    if frame.empty:
        return {}
    months = frame.groupby(frame["date"].dt.to_period("M"))["r"].apply(lambda r: np.prod(1 + r) - 1)
    years = frame.groupby(frame["date"].dt.year)["r"].apply(lambda r: np.prod(1 + r) - 1)
    gains = frame.loc[frame["r"] > 0, "r"]
    losses = frame.loc[frame["r"] < 0, "r"]
    payoff = gains.mean() / -losses.mean() if len(gains) and len(losses) else None
    return {
        "positive days": float((frame["r"] > 0).mean()),
        "positive months": float((months > 0).mean()),
        "positive years": float((years > 0).mean()),
        "average gain / average loss": None if payoff is None else float(payoff),
    }


def distribution(returns: pd.Series) -> dict[str, Any]:
    """Percentiles, best and worst day and a histogram of the daily returns."""
    values = returns.dropna().to_numpy()
    if not values.size:
        return {"percentiles": {}, "histogram": []}
    edges = np.array(HISTOGRAM_EDGES)
    counts = np.bincount(np.searchsorted(edges, values, side="right"), minlength=edges.size + 1)
    labels = [f"below {_pct(edges[0], 1)}"]
    labels += [
        f"{_pct(lo, 1)} to {_pct(hi, 1)}" for lo, hi in zip(edges[:-1], edges[1:], strict=True)
    ]
    labels += [f"{_pct(edges[-1], 1)} and above"]
    return {
        "percentiles": {f"p{p}": float(np.percentile(values, p)) for p in PERCENTILES},
        "best": float(values.max()),
        "worst": float(values.min()),
        "histogram": [
            (label, int(n), float(n / values.size)) for label, n in zip(labels, counts, strict=True)
        ],
    }


def trading(book: Book) -> dict[str, float | None]:
    """Turnover and costs a year, and the gross exposure held."""
    daily = book.daily
    years = len(daily) / SESSIONS_PER_YEAR if len(daily) else float("nan")
    exposure = book.gross_exposure
    return {
        "turnover a year": float(daily["turnover"].sum() / years) if len(daily) else None,
        "costs a year": float(daily["transaction_cost"].sum() / years) if len(daily) else None,
        "mean gross exposure": float(exposure.mean()) if len(exposure) else None,
        "max gross exposure": float(exposure.max()) if len(exposure) else None,
    }


def sleeve_attribution(sleeves: pd.DataFrame, book_returns: pd.Series) -> list[dict[str, Any]]:
    """Each sleeve's contribution to the book (the sleeves' daily returns add up
    to the book's gross return): annualised mean, share of the book's, annualised vol."""
    if sleeves.empty:
        return []
    total = float(book_returns.mean() * SESSIONS_PER_YEAR)
    rows = []
    for sleeve, part in sleeves.groupby("sleeve"):
        contribution = float(part["sleeve_return"].mean() * SESSIONS_PER_YEAR)
        rows.append(
            {
                "sleeve": str(sleeve),
                "contribution": contribution,
                "share": contribution / total if total else None,
                "vol": float(part["sleeve_return"].std(ddof=1) * np.sqrt(SESSIONS_PER_YEAR)),
            }
        )
    return sorted(rows, key=lambda row: -row["contribution"])


# --------------------------------------------------------------------------
# loading and rendering
# --------------------------------------------------------------------------


def _book(con: Any, run_id: str, label: str, weight_column: str) -> Book:
    daily = con.execute(
        "select date, portfolio_return, turnover, transaction_cost from portfolio_returns "
        "where run_id = ? order by date",
        [run_id],
    ).df()
    gross = con.execute(
        f"select rebalance_date, sum(abs({weight_column})) as gross from weights_scaled "
        "where run_id = ? group by rebalance_date order by rebalance_date",
        [run_id],
    ).df()
    return Book(label, daily, gross["gross"] if len(gross) else pd.Series(dtype=float))


def risk_free_text(config_json: str | None) -> str:
    """What the Sharpe and Sortino figures are in excess of (the run's config)."""
    try:
        given = json.loads(config_json or "{}").get("risk_free") or {}
    except (ValueError, AttributeError):
        given = {}
    if "path" in given:
        return f"the annual risk-free rates of {given['path']}, each held until the next"
    if "rate" in given:
        return f"an annual risk-free rate of {_pct(float(given['rate']))}"
    return "a zero risk-free rate (--risk-free-rate gives one)"


def load_book_sections(con: Any, baseline_run_id: str, scaled_run_id: str) -> dict[str, Any]:
    """The figures of the book sections for one audit, from the published tables."""
    books = [
        _book(con, baseline_run_id, "Baseline", "weight_raw"),
        _book(con, scaled_run_id, "Scaled", "weight_scaled"),
    ]
    sleeves = con.execute(
        "select date, sleeve, sleeve_return from sleeve_returns where run_id = ?",
        [baseline_run_id],
    ).df()
    (config_json,) = con.execute(
        "select config_json from runs where run_id = ?", [scaled_run_id]
    ).fetchone() or (None,)
    return {
        "books": [book.label for book in books],
        "trading": {book.label: trading(book) for book in books},
        "distribution": {
            book.label: distribution(book.daily["portfolio_return"]) for book in books
        },
        "trailing": {
            book.label: trailing_returns(book.daily["date"], book.daily["portfolio_return"])
            for book in books
        },
        "hit_rates": {
            book.label: hit_rates(book.daily["date"], book.daily["portfolio_return"])
            for book in books
        },
        "sleeves": sleeve_attribution(sleeves, books[0].daily["portfolio_return"]),
        "risk_free": risk_free_text(config_json),
    }


def _table(
    books: Sequence[str], rows: Mapping[str, Mapping[str, Any]], keys: Sequence[str], unit: str
) -> list[dict[str, Any]]:
    cells = []
    for key in keys:
        values = []
        for book in books:
            value = rows[book].get(key)
            values.append(
                "–" if value is None else (_pct(value) if unit == "pct" else f"{value:.2f}")
            )
        cells.append({"label": key, "values": values})
    return cells


def render_book_sections(figures: Mapping[str, Any]) -> str:
    """The sections' HTML (escaped by the template), placed in the audit report."""
    from allocator.charts import environment

    books = list(figures["books"])
    first = figures["trading"][books[0]]
    trading_rows = _table(books, figures["trading"], ["turnover a year", "costs a year"], "pct")
    trading_rows += _table(
        books, figures["trading"], ["mean gross exposure", "max gross exposure"], "ratio"
    )
    trailing_keys = list(figures["trailing"][books[0]])
    hit = figures["hit_rates"]
    hit_rows = _table(books, hit, ["positive days", "positive months", "positive years"], "pct")
    hit_rows += _table(books, hit, ["average gain / average loss"], "ratio")
    percentile_keys = list(figures["distribution"][books[0]]["percentiles"])
    distribution_rows = _table(
        books,
        {
            b: {
                **figures["distribution"][b]["percentiles"],
                **{k: figures["distribution"][b].get(k) for k in ("best", "worst")},
            }
            for b in books
        },
        [*percentile_keys, "best", "worst"],
        "pct",
    )
    histogram = [
        {
            "label": label,
            "cells": [
                {
                    "count": figures["distribution"][b]["histogram"][i][1],
                    "share": _pct(figures["distribution"][b]["histogram"][i][2], 1),
                    "width": round(figures["distribution"][b]["histogram"][i][2] * 100, 1),
                }
                for b in books
            ],
        }
        for i, (label, _, _) in enumerate(figures["distribution"][books[0]]["histogram"])
    ]
    sleeves = [
        {
            "sleeve": row["sleeve"],
            "contribution": _pct(row["contribution"]),
            "share": _pct(row["share"], 0),
            "vol": _pct(row["vol"]),
        }
        for row in figures["sleeves"]
    ]
    return (
        environment()
        .get_template("report_book_sections.html.j2")
        .render(
            books=books,
            trading=trading_rows,
            has_exposure=first.get("mean gross exposure") is not None,
            trailing=_table(books, figures["trailing"], trailing_keys, "pct"),
            hit_rates=hit_rows,
            distribution=distribution_rows,
            histogram=histogram,
            sleeves=sleeves,
            risk_free=figures["risk_free"],
            definitions=DEFINITIONS,
        )
    )


#: The report's sections, in page order, for its contents list: (id, title).
SECTION_TITLES = (
    ("flags", "Audit checks"),
    ("metrics", "Performance: baseline vs scaled"),
    ("controls", "Controls: the governor against a leverage cut"),
    ("plots", "Charts: equity, drawdown, scalar, regimes"),
    ("drawdown-episodes", "Episode timing"),
    ("trading", "Turnover, costs and gross exposure"),
    ("sleeve-attribution", "Sleeve attribution"),
    ("trailing-returns", "Trailing returns and hit rates"),
    ("return-distribution", "Return distribution"),
    ("risk-metrics", "Risk metrics"),
    ("yearly-returns", "Yearly returns"),
    ("drawdown-periods", "Drawdown periods"),
    ("regimes", "Regimes and de-risk events"),
    ("definitions", "Definitions"),
    ("provenance", "Provenance"),
)
