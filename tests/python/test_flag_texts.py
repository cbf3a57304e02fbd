# ruff: noqa: E501  (the sentences are data, one per line)
"""The flags' sentences, written by the report layer (allocator.flag_texts)
from the figures the SQL computes.

The measures are the dbt unit tests' own fixtures (models/marts/_marts__models.yml:
flags_follow_the_guideline_thresholds and
flag_sentences_of_the_middle_outcomes_and_missing_figures), whose expected
(flag, status, outcome) rows the SQL must give; here the same outcomes must
read as the sentences the SQL template engine used to write, word for word,
plus those of the stuck-governor flags.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import pytest
import yaml

from allocator.flag_texts import FIGURES, NOT_MEASURABLE, flag_detail, format_figure, load_templates

ROOT = Path(__file__).resolve().parents[2]
UNIT_TESTS = (
    "flags_follow_the_guideline_thresholds",
    "flag_sentences_of_the_middle_outcomes_and_missing_figures",
)

# the sentences of the SQL template engine before the texts moved to the report layer
SENTENCES = [
    (
        "a",
        "maxdd_vs_baseline",
        "MaxDD -17.00% scaled vs -20.00% baseline (+3.00 pp): the allocator acts as a risk governor",
    ),
    ("a", "worst_month_quarter", "worst month +2.00 pp, worst quarter +2.00 pp: both improved"),
    ("a", "sharpe_change", "Sharpe 0.45 scaled vs 0.60 baseline (-0.15): preserved or improved"),
    ("a", "regime_transitions", "19.90 regime transitions per year: sticky (fewer than 20 a year)"),
    (
        "a",
        "scalar_below_one_share",
        "5 of 10 rebalances scaled below 0.99 (50.0%): the book is whole most of the time, de-risking only in stress",
    ),
    (
        "a",
        "derisk_in_worst_drawdown",
        "baseline worst drawdown -20.00% from 2020-01-01 to 2020-03-01: 1 of 2 rebalances de-risked (min scalar 0.55)",
    ),
    (
        "a",
        "derisk_events_in_stress",
        "1 of the top 2 de-risk events came with the baseline at least 5.0% below its peak",
    ),
    ("a", "risk_governor", "Ann Vol -2.00 pp, CAGR -1.00 pp: volatility reduced, a risk governor"),
    (
        "a",
        "like_for_like",
        "same profile, window and input data: the differences are the allocator's",
    ),
    (
        "a",
        "timing_skill",
        "MaxDD -17.00%, Sharpe 0.45 governor vs -18.00%, 0.40 (b) vol-matched constant and -19.00%, 0.44 (c) vol target, at the same vol: better than both on MaxDD and Sharpe, timing skill",
    ),
    (
        "c",
        "maxdd_vs_baseline",
        "MaxDD -21.00% scaled vs -20.00% baseline (-1.00 pp): deeper than the baseline, the allocator is counterproductive",
    ),
    ("c", "worst_month_quarter", "worst month +1.00 pp, worst quarter +0.00 pp: not both improved"),
    (
        "c",
        "sharpe_change",
        "Sharpe 0.30 scaled vs 0.60 baseline (-0.30): degraded by more than 0.2",
    ),
    (
        "c",
        "regime_transitions",
        "60.00 regime transitions per year: thrashing (more than 50 a year)",
    ),
    (
        "c",
        "scalar_below_one_share",
        "8 of 10 rebalances scaled below 0.99 (80.0%): the book is cut most of the time, the allocator is too aggressive",
    ),
    (
        "c",
        "derisk_in_worst_drawdown",
        "baseline worst drawdown -20.00% from 2020-01-01 to 2020-03-01: no de-risking in any of its 2 rebalances",
    ),
    (
        "c",
        "derisk_events_in_stress",
        "0 of the top 2 de-risk events came with the baseline at least 5.0% below its peak",
    ),
    (
        "c",
        "risk_governor",
        "Ann Vol +0.00 pp, CAGR +1.00 pp: more return without less risk, a return enhancer",
    ),
    (
        "c",
        "like_for_like",
        "input data differ (runs.input_fingerprint): the differences are not the allocator's alone",
    ),
    (
        "c",
        "timing_skill",
        "MaxDD -21.00%, Sharpe 0.30 governor vs -21.00%, 0.31 (b) vol-matched constant and -15.00%, 0.50 (c) vol target, at the same vol: not better than either on both MaxDD and Sharpe, so a leverage cut would have done as well",
    ),
    (
        "w",
        "maxdd_vs_baseline",
        "MaxDD -19.00% scaled vs -20.00% baseline (+1.00 pp): reduced by less than 2.0 pp, little protection",
    ),
    ("w", "worst_month_quarter", "worst month -1.00 pp, worst quarter +1.00 pp: not both improved"),
    ("w", "sharpe_change", "Sharpe 0.60 scaled vs 0.60 baseline (+0.00): preserved or improved"),
    (
        "w",
        "regime_transitions",
        "30.00 regime transitions per year: not sticky (20 or more a year)",
    ),
    (
        "w",
        "scalar_below_one_share",
        "2 of 4 rebalances scaled below 0.99 (50.0%): the book is whole most of the time, de-risking only in stress",
    ),
    (
        "w",
        "derisk_in_worst_drawdown",
        "baseline worst drawdown -20.00% from 2020-01-01 to 2020-01-02: no rebalance inside the episode, the allocator could not act",
    ),
    ("w", "derisk_events_in_stress", "the allocator never de-risked"),
    ("w", "risk_governor", "Ann Vol +1.00 pp, CAGR -1.00 pp: no risk reduction"),
    (
        "w",
        "like_for_like",
        "strategy profile core_v1 scaled vs trend_only_v1 baseline: the differences are not the allocator's alone",
    ),
    (
        "w",
        "timing_skill",
        "MaxDD -19.00%, Sharpe 0.60 governor vs -20.00%, 0.55 (b) vol-matched constant and -18.00%, 0.65 (c) vol target, at the same vol: better on MaxDD and Sharpe than the vol-matched constant (b) only",
    ),
    (
        "n",
        "maxdd_vs_baseline",
        "MaxDD 0.00% scaled vs 0.00% baseline (+0.00 pp): reduced by less than 2.0 pp, little protection",
    ),
    ("n", "worst_month_quarter", "not measurable: an input metric is missing"),
    ("n", "sharpe_change", "not measurable: an input metric is missing"),
    ("n", "regime_transitions", "not measurable: an input metric is missing"),
    ("n", "scalar_below_one_share", "not measurable: an input metric is missing"),
    (
        "n",
        "derisk_in_worst_drawdown",
        "baseline worst drawdown 0.00% from 2020-01-01 to 2020-01-01: the baseline never drew down, nothing to check",
    ),
    (
        "n",
        "derisk_events_in_stress",
        "2 of the top 3 de-risk events came with the baseline at least 5.0% below its peak",
    ),
    ("n", "risk_governor", "not measurable: an input metric is missing"),
    (
        "n",
        "like_for_like",
        "window 2011-01-03 to 2020-12-31 scaled vs 2010-01-04 to 2020-12-31 baseline: the differences are not the allocator's alone",
    ),
    ("n", "timing_skill", "not measurable: an input metric is missing"),
    # the stuck-governor flags and the outcomes they add
    (
        "a",
        "longest_alarm_spell",
        "longest STRESS/CRISIS spell 100 sessions (2020-02-01 to 2020-06-30): released within 252 sessions (a year)",
    ),
    ("a", "months_flagged", "20 of 100 months with a STRESS/CRISIS day (20.0%): at most 35%"),
    (
        "a",
        "derisked_days",
        "300 of 1000 sessions held a scalar below 0.99 (30.0%): the book is whole most days",
    ),
    (
        "a",
        "false_alarms",
        "1 of 5 STRESS/CRISIS spells (20.0%) not followed by a baseline drawdown of 5.0% within 40 sessions",
    ),
    (
        "c",
        "longest_alarm_spell",
        "longest STRESS/CRISIS spell 600 sessions (2010-02-01 to 2012-06-29): longer than 504 sessions (two years), the governor is stuck de-risked",
    ),
    (
        "c",
        "months_flagged",
        "50 of 100 months with a STRESS/CRISIS day (50.0%): more than 35%, the governor cries wolf",
    ),
    (
        "c",
        "derisked_days",
        "800 of 1000 sessions held a scalar below 0.99 (80.0%): the book is cut most days, the allocator is too aggressive",
    ),
    (
        "c",
        "false_alarms",
        "3 of 4 STRESS/CRISIS spells (75.0%) not followed by a baseline drawdown of 5.0% within 40 sessions, but one lasted 600 sessions: an alarm held that long is not a timely one",
    ),
    (
        "w",
        "false_alarms",
        "3 of 4 STRESS/CRISIS spells (75.0%) not followed by a baseline drawdown of 5.0% within 40 sessions: most alarms were false",
    ),
    ("n", "longest_alarm_spell", "no STRESS/CRISIS spell: nothing held the book de-risked"),
    ("n", "false_alarms", "no STRESS/CRISIS spell, so no alarm to judge"),
    ("n", "months_flagged", "not measurable: an input metric is missing"),
    (
        "s",
        "regime_transitions",
        "5.00 regime transitions per year, but the longest STRESS/CRISIS spell lasted 253 sessions: few changes because the regime is stuck, not because it is sticky",
    ),
]


def _thresholds() -> dict[str, float]:
    """The flag thresholds as macros/two_pass.sql defines them (the one definition)."""
    text = (ROOT / "macros" / "two_pass.sql").read_text()
    body = text.split("macro two_pass_flag_thresholds()")[1].split("endmacro")[0]
    return {name: float(value) for name, value in re.findall(r"'(\w+)': (-?[\d.]+)", body)}


@cache
def _marts_yaml() -> dict:
    return yaml.load(
        (ROOT / "models" / "marts" / "_marts__models.yml").read_text(), yaml.CSafeLoader
    )


def _unit_tests() -> list[dict]:
    document = _marts_yaml()
    return [test for test in document["unit_tests"] if test["name"] in UNIT_TESTS]


@cache
def _measures() -> dict[str, dict]:
    thresholds = {f"threshold_{name}": value for name, value in _thresholds().items()}
    rows = {}
    for test in _unit_tests():
        (given,) = [g for g in test["given"] if g["input"] == "ref('two_pass_flag_measures')"]
        for row in given["rows"]:
            rows[row["scaled_run_id"]] = {**thresholds, **row}
    return rows


@cache
def _outcomes() -> dict[tuple[str, str], str]:
    return {
        (row["scaled_run_id"], row["flag"]): row["outcome"]
        for test in _unit_tests()
        for row in test["expect"]["rows"]
    }


@pytest.mark.parametrize(("run", "flag", "sentence"), SENTENCES)
def test_each_outcome_reads_as_before(run: str, flag: str, sentence: str) -> None:
    outcome = _outcomes()[(run, flag)]
    assert flag_detail(flag, outcome, _measures()[run]) == sentence


def test_every_outcome_the_rules_give_has_a_sentence() -> None:
    """The (flag, outcome) pairs two_pass_flags' data test accepts are the
    templates' (no outcome without words, no words without an outcome)."""
    document = _marts_yaml()
    (model,) = [m for m in document["models"] if m["name"] == "two_pass_flags"]
    (accepted,) = [
        t["accepted_values"]
        for t in model["data_tests"]
        if isinstance(t, dict) and "accepted_values" in t
    ]
    pairs = {tuple(value.split(":")) for value in accepted["arguments"]["values"]}
    templates = set(load_templates())
    assert pairs == templates - {NOT_MEASURABLE}
    for flag, outcome in pairs:
        named = re.findall(r"\{([a-z_0-9]+)\}", load_templates()[(flag, outcome)])
        assert set(named) <= set(FIGURES), (flag, outcome)


def test_a_missing_figure_gives_the_not_measurable_sentence() -> None:
    measures = {"scaled_max_drawdown": -0.1, "baseline_max_drawdown": None}
    assert flag_detail("maxdd_vs_baseline", "reduced", measures).startswith("not measurable")
    assert flag_detail("maxdd_vs_baseline", "reduced", {"x": float("nan")}).startswith(
        "not measurable"
    )


def test_figures_format_as_the_sql_printf_did() -> None:
    assert format_figure(-0.1234, "pct") == "-12.34%"
    assert format_figure(0.0, "signed_pp") == "+0.00 pp"
    assert format_figure(-0.3, "signed_ratio") == "-0.30"
    assert format_figure(0.355, "share") == "35.5%"
    assert format_figure(0.02, "threshold_pp") == "2.0"
    assert format_figure(-0.05, "threshold_loss_pct") == "5.0"
    assert format_figure(20.0, "count") == "20"
