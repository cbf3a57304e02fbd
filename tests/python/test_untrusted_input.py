"""The fuzz suite of issue 18: hostile values crossed with every run var, every
tuning var and every CLI flag, checked where they are refused (the gate's
resolver, the tuning's, the CLI's checks before dbt), in milliseconds each.

Every case must end with a one-line error that names the var or flag, and
with the stored state (a small published registry in a DuckDB file) hashed
the same before and after. The full builds that prove the same end to end
(the two reproductions of the issue, a URL that never reaches the network,
dbt compile, a tuning) are in tests/integration/test_untrusted_builds.py.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pytest

from allocator import cli, dbt_invoke, gate, run_parameters, tuning
from allocator.run_config import ConfigProblem, resolve

PROJECT_DIR = Path(__file__).resolve().parents[2]
FIXTURES = PROJECT_DIR / "tests" / "fixtures" / "inputs"
SEEDS = PROJECT_DIR / "seeds"

# --------------------------------------------------------------------------- values

#: Text that must never run or reach a reader: templates, format fields,
#: control characters, quotes, URLs and other schemes.
HOSTILE_TEXT = {
    "jinja-expression": "{{ run_query('drop table marts.runs') }}",
    "jinja-statement": "{% do run_query('delete from marts.runs') %}x",
    "jinja-comment": "a{# c #}b",
    "format-field": "x{external_location[9]}); delete from marts.runs; select 1 --",
    "lone-brace": "x}",
    "trailing-newline": "demo\n",
    "newline-inside": "de\nmo",
    "nul": "de\x00mo",
    "carriage-return": "demo\r",
    "single-quote": "x'); drop table marts.runs; --",
    "double-quote": 'x"); drop schema marts cascade; select ("',
    "url-http": "http://127.0.0.1:9/prices.csv",
    "url-s3": "s3://bucket/prices.parquet",
    "scheme-file": "file:///etc/passwd.csv",
}
#: Numbers no parameter accepts.
HOSTILE_NUMBERS = {
    "1e308": 1e308,
    "-1e308": -1e308,
    "1e30-int": 10**30,
    "nan": math.nan,
    "inf": math.inf,
    "nan-text": "NaN",
    "1e999-text": "1e999",
    "true": True,
}
#: A valid run: the tiny book of tests/fixtures (its own weights).
VALID = {
    "run_id": "fuzz",
    "prices_path": str(FIXTURES / "tiny_prices.csv"),
    "benchmark_path": "",
    "weights_path": str(FIXTURES / "tiny_weights.csv"),
    "start": "2021-01-06",
    "end": "2021-01-11",
}
#: Context a parameter needs to be read at all (a block key of precomputed mode).
CONTEXT: dict[str, dict[str, Any]] = {
    "allocator_v1.precomputed_run_id": {"enabled": True, "mode": "precomputed"},
    "allocator_v1.precomputed_scalar_filename": {
        "enabled": True,
        "mode": "precomputed",
        "precomputed_run_id": None,
        "cadence": "rebalance_lagged",
    },
}


def with_value(var: str, value: Any) -> dict[str, Any]:
    """VALID with one var (a block key written allocator_v1.<key>) set."""
    given: dict[str, Any] = dict(VALID)
    block, _, key = var.partition(".")
    if key:
        given[block] = {**CONTEXT.get(var, {}), key: value}
    else:
        given[var] = value
        if var == "portfolio_returns_path":
            given["weights_path"] = ""
    return given


# --------------------------------------------------------------------------- stored state


SEED_PROFILES = pd.read_csv(SEEDS / "strategy_profiles.csv").to_dict("records")
SEED_RULES, SEED_SCALARS = gate.seed_calibrations(
    pd.read_csv(SEEDS / "allocator_regime_rules.csv"),
    pd.read_csv(SEEDS / "allocator_regime_scalars.csv"),
)


def _resolve(given: dict[str, Any], con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """The gate's row for these vars (gate.config_row, the model's own path)."""
    return gate.config_row(
        json.loads(json.dumps(given)),
        profiles=SEED_PROFILES,
        rules=SEED_RULES,
        scalars=SEED_SCALARS,
        session=con,
    )


def state_hash(con: duckdb.DuckDBPyConnection) -> str:
    """One hash of every stored (published) table's rows."""
    digest = hashlib.sha256()
    for schema, table in con.execute(
        "select table_schema, table_name from information_schema.tables "
        "where table_schema in ('marts', 'artifacts') order by 1, 2"
    ).fetchall():
        rows = con.execute(f"select * from {schema}.{table} order by all").fetchall()
        digest.update(f"{schema}.{table}:{rows!r}".encode())
    return digest.hexdigest()


@pytest.fixture(scope="module")
def stored(tmp_path_factory: pytest.TempPathFactory) -> Iterator[duckdb.DuckDBPyConnection]:
    """A registry holding baseline 'base' (the tiny book, its real resolved
    configuration) with its applied scalars, as the publish hook stores them."""
    path = tmp_path_factory.mktemp("fuzz") / "stored.duckdb"
    con = duckdb.connect(str(path))
    row = _resolve(dict(VALID, run_id="base"), con)
    assert row["problem"] is None, row["problem"]
    con.execute("create schema marts; create schema artifacts")
    con.execute(
        "create table marts.runs as select ? as run_id, ? as allocator_mode, ? as config_json, "
        "null::varchar as precomputed_source, null::varchar as precomputed_source_kind, "
        "? as config_hash, 'f0' as input_fingerprint, 'baseline' as run_kind, "
        "date '2021-01-06' as start_date, date '2021-01-11' as end_date",
        ["base", "off", row["config_json"], row["config_hash"]],
    )
    con.execute(
        "create table artifacts.allocator_risk_v1_applied as select 'base' as run_id, "
        "date '2021-01-07' as rebalance_date, 0.9 as risk_scalar_applied"
    )
    con.execute("checkpoint")
    yield con
    con.close()


# --------------------------------------------------------------------------- the gate

RUN_VARS = [item.var for item in run_parameters.parameters()]
TEXT_CASES = [(var, name) for var in RUN_VARS for name in HOSTILE_TEXT]
NUMERIC_VARS = [
    item.var for item in run_parameters.parameters() if item.python_type in (int, float, bool)
]
NUMBER_CASES = [(var, name) for var in NUMERIC_VARS for name in HOSTILE_NUMBERS]


def _assert_refused(row: dict[str, Any], var: str) -> None:
    problem = row["problem"]
    assert problem is not None, f"{var} accepted"
    assert "\n" not in problem and "\r" not in problem, problem
    assert f"var {var}" in problem or f"var {var.split('.')[0]}" in problem, problem


@pytest.mark.parametrize(("var", "payload"), TEXT_CASES)
def test_the_gate_refuses_hostile_text_in_every_run_var(
    var: str, payload: str, stored: duckdb.DuckDBPyConnection
) -> None:
    before = state_hash(stored)
    _assert_refused(_resolve(with_value(var, HOSTILE_TEXT[payload]), stored), var)
    assert state_hash(stored) == before


@pytest.mark.parametrize(("var", "payload"), NUMBER_CASES)
def test_the_gate_refuses_numbers_out_of_bounds_in_every_numeric_var(
    var: str, payload: str, stored: duckdb.DuckDBPyConnection
) -> None:
    value = HOSTILE_NUMBERS[payload]
    item = run_parameters.parameter(var)
    if item.python_type is bool and payload == "true":
        pytest.skip("true is a flag's own value")
    before = state_hash(stored)
    _assert_refused(_resolve(with_value(var, value), stored), var)
    assert state_hash(stored) == before


def test_every_numeric_var_has_bounds_in_its_definition() -> None:
    for item in run_parameters.parameters():
        if item.python_type in (int, float):
            assert item.minimum is not None and item.maximum is not None, item.var


@pytest.mark.parametrize(
    "payload", [p for p, text in HOSTILE_TEXT.items() if run_parameters.untrusted_problem(text)]
)
def test_hostile_text_as_a_var_name_or_in_a_governor_config_is_refused(
    payload: str, stored: duckdb.DuckDBPyConnection
) -> None:
    text = HOSTILE_TEXT[payload]
    governor = {"regime_rules": [["corr_excess", "ELEVATED", "above", 0.3, 0.2]], "x": text}
    for given, var in (
        ({**VALID, text: 1}, "(a var name)"),
        ({**VALID, "governor_config": governor}, "governor_config"),
    ):
        problem = _resolve(given, stored)["problem"]
        assert problem is not None and "\n" not in problem, (payload, problem)
        assert var in problem


def test_a_valid_run_passes_the_gate(stored: duckdb.DuckDBPyConnection) -> None:
    row = _resolve(dict(VALID), stored)
    assert row["problem"] is None
    assert list(row) == list(gate.COLUMNS)


@pytest.mark.parametrize("run_id", ["base\n", "base\r\n", "base ", "\nbase"])
def test_a_run_id_with_a_trailing_newline_is_refused(
    run_id: str, stored: duckdb.DuckDBPyConnection
) -> None:
    """`re.match` with `$` matched before a final newline (issue 18)."""
    _assert_refused(_resolve(dict(VALID, run_id=run_id), stored), "run_id")


def test_a_scaled_run_needs_a_baseline_with_its_scalars(stored: duckdb.DuckDBPyConnection) -> None:
    scaled = dict(
        VALID,
        run_id="scaled",
        allocator_v1={"enabled": True, "mode": "precomputed", "precomputed_run_id": "base"},
    )
    assert _resolve(scaled, stored)["problem"] is None
    stored.execute("begin transaction")
    try:
        stored.execute("delete from artifacts.allocator_risk_v1_applied")
        problem = _resolve(scaled, stored)["problem"]
        assert "baseline 'base' is incomplete" in problem
        assert "artifacts.allocator_risk_v1_applied" in problem
    finally:
        stored.execute("rollback")


def test_a_baseline_shorter_than_the_warm_up_is_complete_without_regime_rows() -> None:
    """Reused layers must hold rows; the regime and risk layers only from the
    state's first ready session (the tiny book of the fault suite has none)."""
    con = duckdb.connect()
    con.execute("create schema artifacts")
    con.execute("create table artifacts.allocator_risk_v1_applied as select 'b' as run_id")
    con.execute("create table artifacts.portfolio_returns_unscaled as select 'b' as run_id")
    con.execute(
        "create table artifacts.allocator_state_v1 as select 'b' as run_id, false as is_ready"
    )
    for layer in gate.AFTER_WARM_UP:
        con.execute(f"create table artifacts.{layer} (run_id varchar)")
    assert gate.baseline_gaps(con, "b", reuse=True) == []
    con.execute("update artifacts.allocator_state_v1 set is_ready = true")
    assert gate.baseline_gaps(con, "b", reuse=True) == list(gate.AFTER_WARM_UP)
    assert gate.baseline_gaps(con, "b", reuse=False) == []
    con.execute("delete from artifacts.portfolio_returns_unscaled")
    assert "portfolio_returns_unscaled" in gate.baseline_gaps(con, "b", reuse=True)


def test_a_scaled_run_uses_its_baselines_window(stored: duckdb.DuckDBPyConnection) -> None:
    scaled = dict(
        VALID,
        run_id="scaled",
        start="2021-01-07",
        allocator_v1={"enabled": True, "mode": "precomputed", "precomputed_run_id": "base"},
    )
    problem = _resolve(scaled, stored)["problem"]
    assert "uses its baseline's window" in problem


def test_resolve_refuses_before_looking_at_anything_else() -> None:
    """check_given runs first: no profile, rule or stored run is needed."""
    with pytest.raises(ConfigProblem, match="var start"):
        resolve(
            {"start": "{{ x }}"},
            profiles=[],
            regime_rules={},
            regime_scalars={},
            stored_runs={},
            file_exists=lambda _path: True,
        )


# --------------------------------------------------------------------------- the tuning

TUNING_VARS = [item.var for item in run_parameters.parameters(run_parameters.TUNING_MODEL)]
TUNING_VALID = {"tuning_id": "t1", "tuning_baseline_run_id": "base"}


def _baseline_json(stored: duckdb.DuckDBPyConnection, **changes: Any) -> str:
    config = json.loads(stored.execute("select config_json from marts.runs").fetchone()[0])
    return json.dumps({**config, "start": "2010-01-04", "end": "2020-12-31", **changes})


@pytest.mark.parametrize(("var", "payload"), [(v, p) for v in TUNING_VARS for p in HOSTILE_TEXT])
def test_the_tuning_refuses_hostile_text_in_every_tuning_var(
    var: str, payload: str, stored: duckdb.DuckDBPyConnection
) -> None:
    with pytest.raises(ValueError, match=f"var {var}") as refused:
        tuning.resolve_tuning({**TUNING_VALID, var: HOSTILE_TEXT[payload]}, _baseline_json(stored))
    assert "\n" not in str(refused.value)


@pytest.mark.parametrize(
    ("var", "value", "expected"),
    [
        ("tuning_pbo_splits", 40, "out of range"),
        ("tuning_pbo_splits", 15, "is odd"),
        ("tuning_min_train_years", 100, "out of range"),
        ("tuning_min_train_years", 12, "leave no year to test"),
        ("tuning_min_sharpe", math.nan, "out of range"),
        ("tuning_max_configurations", 10**9, "out of range"),
        ("tuning_memory_limit", "1GB'; drop table marts.runs; --", "is not valid"),
    ],
)
def test_the_tuning_bounds_every_number(
    var: str, value: Any, expected: str, stored: duckdb.DuckDBPyConnection
) -> None:
    with pytest.raises(ValueError, match=expected):
        tuning.resolve_tuning({**TUNING_VALID, var: value}, _baseline_json(stored))


def test_the_override_lifts_the_limits_to_their_hard_bounds(
    stored: duckdb.DuckDBPyConnection,
) -> None:
    lifted = {**TUNING_VALID, "tuning_override_limits": True, "tuning_pbo_splits": 24}
    assert tuning.resolve_tuning(lifted, _baseline_json(stored))["pbo_splits"] == 24
    with pytest.raises(ValueError, match="out of range"):
        tuning.resolve_tuning({**lifted, "tuning_pbo_splits": 40}, _baseline_json(stored))


def test_a_scaled_run_is_not_a_tuning_baseline(stored: duckdb.DuckDBPyConnection) -> None:
    with pytest.raises(ValueError, match="is a scaled run"):
        tuning.resolve_tuning(TUNING_VALID, _baseline_json(stored, kind="scaled"))


def test_a_huge_grid_is_refused_before_it_is_built(tmp_path: Path) -> None:
    """10^6 configurations grew a database to 21.5 GB (issue 18): the axes'
    product is counted, not built."""
    grid = tmp_path / "huge.json"
    axes = {name: [0.1 * (i + 1) for i in range(10)] for name in ("alpha", "floor", "cap")}
    axes |= {"min_days": list(range(1, 11)), "elevated_multiplier": [1.0] * 10}
    axes |= {"stress_multiplier": [1.0] * 10}
    grid.write_text(json.dumps({"product": axes}))
    with pytest.raises(ValueError, match="1,000,000 configurations, above the limit of 10,000"):
        tuning.load_grid(grid, 10_000)
    small = tmp_path / "small.json"
    small.write_text(json.dumps({"product": {"alpha": [0.25, 0.5]}}))
    assert len(tuning.load_grid(small, 10_000)) == 2


def test_a_failed_sweep_drops_its_scratch_rows() -> None:
    """The sweep commits its chunks one by one; when it fails they are dropped."""
    con = duckdb.connect()
    con.execute("create schema build")

    class Broken(Exception):
        pass

    def broken_chunks(*_args: Any) -> Iterator[pd.DataFrame]:
        yield pd.DataFrame(
            {
                "config_id": [0],
                "date": [pd.Timestamp("2021-01-06")],
                "regime_level": [0],
                "risk_scalar_used": [1.0],
                "turnover": [0.0],
                "net_return": [0.0],
            }
        )
        raise Broken

    original = tuning.sweep_chunks
    tuning.sweep_chunks = broken_chunks  # type: ignore[assignment]
    try:
        with pytest.raises(Broken):
            tuning.sweep_relation(con, None, None, None, "build.scratch")  # type: ignore[arg-type]
    finally:
        tuning.sweep_chunks = original  # type: ignore[assignment]
    tables = con.execute("select table_name from information_schema.tables").fetchall()
    assert ("scratch",) not in tables


# --------------------------------------------------------------------------- the CLI

#: Every CLI flag that takes a value, with the command line around it.
WINDOW = ["--strategy-profile", "core_v1", "--start", "2021-01-06", "--end", "2021-01-11"]
CLI_FLAGS: dict[str, list[str]] = {
    "run --strategy-profile": ["run", "--start", "2021-01-06", "--end", "2021-01-11"],
    "run --start": ["run", "--strategy-profile", "core_v1", "--end", "2021-01-11"],
    "run --end": ["run", "--strategy-profile", "core_v1", "--start", "2021-01-06"],
    "run --run-id": ["run", *WINDOW],
    "run --mode": ["run", *WINDOW],
    "run --precomputed-run-id": ["run", *WINDOW],
    "run --prices": ["run", *WINDOW],
    "run --benchmark": ["run", *WINDOW],
    "run --weights": ["run", *WINDOW],
    "run --portfolio-returns": ["run", *WINDOW],
    "run --governor-config": ["run", *WINDOW],
    "run --reports-dir": ["run", *WINDOW, "--run-id", "ok"],
    "two-pass --baseline-run-id": ["two-pass"],
    "two-pass --scaled-run-id": ["two-pass", *WINDOW],
    "two-pass --tag": ["two-pass", *WINDOW],
    "two-pass --prices": ["two-pass", *WINDOW],
    "tune --run-id": ["tune"],
    "tune --grid": ["tune", "--run-id", "base"],
    "tune --objective": ["tune", "--run-id", "base"],
    "tune --min-sharpe": ["tune", "--run-id", "base"],
    "tune --walk-forward": ["tune", "--run-id", "base"],
    "tune --tuning-id": ["tune", "--run-id", "base"],
    "tune --output": ["tune", "--run-id", "base"],
    "regime-report --run-id": ["regime-report"],
    "export --run-id": ["export"],
    "delete --run-id": ["delete"],
}


@pytest.fixture(scope="module")
def cli_env(
    stored: duckdb.DuckDBPyConnection, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Path]:
    """The CLI pointed at a copy of the stored registry; dbt must never start.
    One copy for every case: each case checks its hash is unchanged."""
    root = tmp_path_factory.mktemp("fuzz_cli")
    db = root / "cli.duckdb"
    stored.execute(f"attach '{db}' as copy")
    stored.execute("copy from database " + _current(stored) + " to copy")
    # a baseline long enough to tune, so a tuning flag is refused for its own value
    stored.execute("update copy.marts.runs set config_json = ?", [_baseline_json(stored)])
    stored.execute("detach copy")

    def no_dbt(*_args: Any, **_kwargs: Any) -> None:
        raise AssertionError("dbt started: the value was not refused before the build")

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ALLOCATOR_DUCKDB_PATH", str(db))
        patch.setenv("ALLOCATOR_REPORTS_DIR", str(root / "reports"))
        patch.setenv("ALLOCATOR_PROJECT_DIR", str(PROJECT_DIR))
        patch.chdir(root)
        patch.setattr(dbt_invoke, "invoke", no_dbt)
        yield db


def _current(con: duckdb.DuckDBPyConnection) -> str:
    return str(con.execute("select current_database()").fetchone()[0])


def _file_hash(db: Path) -> str:
    """The stored state: the file's bytes (unchanged bytes, unchanged tables;
    opening DuckDB for every case would cost more than the case), the WAL's
    absence included."""
    wal = db.with_name(db.name + ".wal")
    return hashlib.sha256(db.read_bytes()).hexdigest() + str(wal.exists())


#: Folders the CLI writes, never read as code nor by DuckDB: a quote or a
#: colon is a legal name there; braces and control characters are refused.
OUTPUT_FLAGS = ("run --reports-dir", "tune --output")
NAME_PAYLOADS = ("single-quote", "double-quote", "url-http", "url-s3", "scheme-file")


@pytest.mark.parametrize(
    ("flag", "payload"),
    [
        (f, p)
        for f in CLI_FLAGS
        for p in HOSTILE_TEXT
        if not (f in OUTPUT_FLAGS and p in NAME_PAYLOADS)
    ],
)
def test_the_cli_refuses_hostile_text_in_every_flag_before_dbt(
    flag: str, payload: str, cli_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = _file_hash(cli_env)
    option = flag.split(" ", 1)[1]
    try:
        code = cli.main([*CLI_FLAGS[flag], option, HOSTILE_TEXT[payload]])
    except SystemExit as refused:  # argparse: a choice or a number refused
        code = int(refused.code or 0)
    err = capsys.readouterr().err
    assert code in (1, 2), err  # 2: argparse refused a choice
    lines = [line for line in err.splitlines() if line.strip()]
    if code == 1:
        assert len(lines) == 1, err
    assert _file_hash(cli_env) == before
