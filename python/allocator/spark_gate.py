"""The gate on the spark target (docs/spark.md).

dbt-spark runs no Python model in session mode, so the gate's Python model
(models/run/stg_run__resolved.py) cannot run there. Its work runs here
instead, between two dbt invocations in the same process (so on dbt's own
SparkSession): dbt builds stg_run__vars, this resolves the run with the
same resolver (allocator.gate.config_frame), writes the row the Python model
would return as the table stg_run__resolved and binds the checked input
files to the sources' relations; dbt then builds on with that model
excluded, and stg_run_config reads the table like any other ref.
"""

from __future__ import annotations

import json
import os
from typing import Any

import pandas as pd

from allocator.gate import COLUMNS, INPUT_RELATIONS, config_frame

#: The Python model this module stands in for on Spark.
GATE_MODEL = "stg_run__resolved"
#: Vars whose resolution reads stored live rows through DuckDB SQL
#: (allocator.live.update_vars); not ported to Spark yet.
UNSUPPORTED_VARS = ("live", "live_update")


def spark_literal(value: object) -> str:
    """A Spark SQL string literal holding ``value``'s text: Spark reads a
    backslash as an escape, so it is escaped first, then the quote (the twin
    of macros/quoting.sql's spark__sql_literal)."""
    return "'" + str(value).replace("\\", "\\\\").replace("'", "\\'") + "'"


def input_ddl(schema: str, relation: str, path: str, columns: tuple[str, ...]) -> str:
    """The statement that binds one checked input file to its relation: an
    external table over the file (dropping it later leaves the file), or an
    empty typed view when the input is off. CSV columns stay text, as
    DuckDB's all_varchar read, so staging decides what is malformed."""
    name = f"`{schema}`.`{relation}`"
    # the gate checked the path from the working directory; Spark would
    # read a relative one from its warehouse folder
    path = os.path.abspath(path) if path else path
    if not path:
        typed = ", ".join(f"cast(null as string) as `{c}`" for c in columns)
        return f"create view {name} as select {typed} where false"
    if path.lower().endswith(".parquet"):
        return f"create table {name} using parquet options (path {spark_literal(path)})"
    return (
        f"create table {name} using csv "
        f"options (path {spark_literal(path)}, header 'true', inferSchema 'false')"
    )


#: Spark reads a data source's path as a Hadoop glob pattern, in which these
#: match other files or escape the next character; the gate already refuses
#: braces in any text (run_parameters.check_text).
GLOB_CHARACTERS = frozenset("\\*?[]")


def glob_problem(run_id: str, frame: pd.DataFrame) -> str | None:
    """The one-line refusal of an input path Spark would read as a pattern:
    a path must name its one file, never select others."""
    row = frame.iloc[0]
    for var in INPUT_RELATIONS:
        path = str(row[var] or "")
        found = sorted(GLOB_CHARACTERS.intersection(path))
        if found:
            return (
                f"run {run_id!r}: var {var}: {path!r} holds {' '.join(found)}, which the spark "
                "target would read as a file pattern; rename the file or its folder"
            )
    return None


def unsupported_problem(run_vars_json: str) -> str | None:
    """The gate's one-line refusal of a run the spark target cannot build yet."""
    given = json.loads(run_vars_json)
    for var in UNSUPPORTED_VARS:
        if given.get(var) not in (None, False, "false"):
            run_id = str(given.get("run_id") or "demo")
            return f"run {run_id!r}: var {var}: live runs do not build on the spark target yet"
    return None


def resolve(spark: Any, schema: str) -> pd.DataFrame:
    """Resolve the run whose vars dbt built into ``schema``.stg_run__vars,
    store the gate's row as ``schema``.stg_run__resolved and, when the run
    is valid, bind its input files. Returns the row."""
    run_vars = spark.table(f"`{schema}`.`stg_run__vars`").first()[0]
    problem = unsupported_problem(run_vars)
    if problem:
        frame = pd.DataFrame([dict.fromkeys(COLUMNS)], columns=list(COLUMNS), dtype=object)
        frame.loc[0, "problem"] = problem
    else:
        frame = config_frame(
            run_vars,
            profiles=spark.table(f"`{schema}`.`strategy_profiles`").toPandas(),
            regime_rules=spark.table(f"`{schema}`.`allocator_regime_rules`").toPandas(),
            regime_scalars=spark.table(f"`{schema}`.`allocator_regime_scalars`").toPandas(),
            session=spark,
        )
        if frame.iloc[0]["problem"] is None:
            run_id = str(json.loads(run_vars).get("run_id") or "demo")
            frame.loc[0, "problem"] = glob_problem(run_id, frame)
    store_row(spark, schema, frame)
    if frame.iloc[0]["problem"] is None:
        bind_inputs(spark, schema, frame)
    return frame


def store_row(spark: Any, schema: str, frame: pd.DataFrame) -> None:
    """Write the gate's row as text columns: stg_run_config casts each to its
    contract type, and a float's text (Python's shortest round trip) casts
    back to the same double."""
    row = frame.iloc[0]
    texts = [[None if row[c] is None else _text(row[c]) for c in COLUMNS]]
    ddl = ", ".join(f"`{c}` string" for c in COLUMNS)
    drop(spark, schema, GATE_MODEL)
    spark.createDataFrame(texts, schema=ddl).write.format("parquet").saveAsTable(
        f"`{schema}`.`{GATE_MODEL}`"
    )


def drop(spark: Any, schema: str, name: str) -> None:
    """Drop a table or view if there is one (Spark drops each only as its own
    type); an external input table's file stays."""
    if not spark.catalog.tableExists(f"{schema}.{name}"):
        return
    kind = "view" if spark.catalog.getTable(f"{schema}.{name}").tableType == "VIEW" else "table"
    spark.sql(f"drop {kind} `{schema}`.`{name}`")


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def bind_inputs(spark: Any, schema: str, frame: pd.DataFrame) -> None:
    """Point the sources' relations at the input files the gate checked
    (allocator.gate.bind_inputs on DuckDB)."""
    row = frame.iloc[0]
    for var, (relation, columns) in INPUT_RELATIONS.items():
        drop(spark, schema, relation)
        spark.sql(input_ddl(schema, relation, str(row[var] or ""), columns))


def build(
    dbt_args: list[str],
    dbt_vars: dict[str, Any],
    select: list[str],
    exclude: tuple[str, ...] = (),
) -> Any:
    """Build ``select`` of one run on the spark target, in this process:
    the seeds and stg_run__vars, then the gate (resolve), then the models
    with the gate's Python model excluded. ``dbt_args`` are the common
    options (project, profiles, target and log paths). Returns the last
    dbtRunner result; raises with the gate's problem or dbt's error."""
    from dbt.cli.main import dbtRunner
    from pyspark.sql import SparkSession

    common = [*dbt_args, "--target", "spark", "--vars", json.dumps(dbt_vars)]
    runner = dbtRunner()
    for step in (["seed"], ["build", "--select", "stg_run__vars"]):
        result = runner.invoke([*step, *common])
        if not result.success:
            raise RuntimeError(f"dbt {step[0]} on spark failed: {_errors(result)}")
    # dbt-spark's session: the one SparkSession of this process
    frame = resolve(SparkSession.builder.getOrCreate(), "build")
    problem = frame.iloc[0]["problem"]
    if problem is not None:
        raise RuntimeError(problem)
    return runner.invoke(
        # stg_run_config, the gate's SQL half, always: every model reads it
        ["build", "--select", "stg_run_config", *select]
        + ["--exclude", GATE_MODEL, "stg_run__vars", *exclude, *common]
    )


def _errors(result: Any) -> str:
    """The error messages of a dbtRunner result, one per line."""
    found = [str(result.exception)] if result.exception is not None else []
    for node in getattr(result.result, "results", None) or []:
        if str(node.status).lower() in {"error", "fail"}:
            found.append(f"{node.node.name}: {node.message}")
    return "\n".join(found)


def main(argv: list[str] | None = None) -> int:
    """python -m allocator.spark_gate --vars JSON --select MODEL ... [dbt options]:
    build a selection of one run on the spark target (docs/spark.md)."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m allocator.spark_gate")
    parser.add_argument("--vars", required=True, help="the run's dbt vars, as JSON")
    parser.add_argument("--select", nargs="+", required=True, help="the models to build")
    parser.add_argument("--exclude", nargs="+", default=[], help="models not to build")
    args, dbt_args = parser.parse_known_args(argv)
    try:
        result = build(dbt_args, json.loads(args.vars), args.select, tuple(args.exclude))
    except RuntimeError as exc:
        print(f"spark build failed: {exc}")
        return 1
    if not result.success:
        print(f"spark build failed: {_errors(result)}")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
