"""Hash every published table of an allocator DuckDB file, per run, so two
builds can be proved bit-identical (a refactor's proof).

    .venv/bin/python scripts/hash_published_tables.py A.duckdb           # table, run, rows, md5
    .venv/bin/python scripts/hash_published_tables.py A.duckdb B.duckdb  # what differs, how much

A table's hash for one run (run_id, or tuning_id for a tuning's marts; the
whole table when it has neither) is the md5 of its rows cast to text, sorted
(without the columns that say when and by which invocation it was written):
it does not depend on the order a build wrote them in. A double prints as
its shortest round-trip text, so equal hashes mean equal bits. With two
files, a table whose hashes differ is compared row by row (rows sorted by
their non-float columns): the largest absolute difference of each float
column says whether only a summation order moved the last bits.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass

import duckdb

SCHEMAS: tuple[str, ...] = ("artifacts", "marts")
RUN_KEYS: tuple[str, ...] = ("run_id", "tuning_id")
FLOAT_TYPES: frozenset[str] = frozenset({"DOUBLE", "FLOAT", "REAL"})
#: What differs between two builds of the same code: when and by which dbt
#: invocation a row was written (two builds of main differ in these only).
VOLATILE: tuple[str, ...] = (
    "created_at",
    "scaled_created_at",
    "baseline_created_at",
    "dbt_invocation_id",
)


@dataclass(frozen=True)
class TableHash:
    table: str
    run: str
    rows: int
    md5: str


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def published_tables(con: duckdb.DuckDBPyConnection, catalog: str) -> list[str]:
    rows = con.execute(
        "select table_schema || '.' || table_name from information_schema.tables "
        "where table_catalog = ? and table_schema in (select unnest(?)) order by 1",
        [catalog, list(SCHEMAS)],
    ).fetchall()
    return [row[0] for row in rows]


def columns(con: duckdb.DuckDBPyConnection, catalog: str, table: str) -> list[tuple[str, str]]:
    """A table's (name, type) in order, without the volatile columns."""
    schema, name = table.split(".", 1)
    rows = con.execute(
        "select column_name, data_type from information_schema.columns "
        "where table_catalog = ? and table_schema = ? and table_name = ? order by ordinal_position",
        [catalog, schema, name],
    ).fetchall()
    return [(n, t) for n, t in rows if n not in VOLATILE]


def relation(con: duckdb.DuckDBPyConnection, catalog: str, table: str) -> str:
    """The table as a subquery of its kept columns."""
    kept = ", ".join(quote(n) for n, _ in columns(con, catalog, table))
    name = ".".join(quote(part) for part in (catalog, *table.split(".", 1)))
    return f"(select {kept} from {name})"


def run_key(names: list[str]) -> str | None:
    return next((key for key in RUN_KEYS if key in names), None)


def table_hashes(con: duckdb.DuckDBPyConnection, catalog: str) -> list[TableHash]:
    hashes = []
    for table in published_tables(con, catalog):
        key = run_key([name for name, _ in columns(con, catalog, table)])
        run = f"cast({quote(key)} as varchar)" if key else "'(table)'"
        text = "cast(t as varchar)"
        rows = con.execute(
            f"select {run} as run, count(*), md5(string_agg({text}, chr(10) order by {text})) "
            f"from {relation(con, catalog, table)} as t group by 1 order by 1"
        ).fetchall()
        hashes += [TableHash(table, str(r), n, md5) for r, n, md5 in rows]
    return hashes


def float_differences(
    con: duckdb.DuckDBPyConnection, table: str, run: str, catalogs: tuple[str, str]
) -> dict[str, float] | str:
    """Largest |a - b| per float column of one run's rows, the rows of both
    files paired in the order of their other columns; a sentence when the
    rows cannot be paired (other counts, or other non-float values)."""
    cols = columns(con, catalogs[0], table)
    if cols != columns(con, catalogs[1], table):
        return "the columns differ"
    others = [quote(n) for n, t in cols if t not in FLOAT_TYPES]
    floats = [n for n, t in cols if t in FLOAT_TYPES]
    key = run_key([n for n, _ in cols])
    where = f"where cast({quote(key)} as varchar) = ?" if key else ""
    params = [run] if key else []
    order = ", ".join(others + [quote(n) for n in floats])
    numbered = [
        f"select row_number() over (order by {order}) as n, * "
        f"from {relation(con, c, table)} {where}"
        for c in catalogs
    ]
    counts = [con.execute(f"select count(*) from ({q})", params).fetchone()[0] for q in numbered]
    if counts[0] != counts[1]:
        return f"{counts[0]} rows against {counts[1]}"
    measures = [f"count(*) filter (where a.{c} is distinct from b.{c})" for c in others]
    measures += [f"max(abs(a.{quote(n)} - b.{quote(n)}))" for n in floats]
    row = con.execute(
        f"select {', '.join(measures)} "
        f"from ({numbered[0]}) as a inner join ({numbered[1]}) as b on a.n = b.n",
        params * 2,
    ).fetchone()
    other_names = [n for n, t in cols if t not in FLOAT_TYPES]
    moved = {
        f"{n} (rows differing)": v
        for n, v in zip(other_names, row[: len(others)], strict=True)
        if v
    }
    if moved:
        return f"rows differ outside the float columns: {moved}"
    floated = zip(floats, row[len(others) :], strict=True)
    return {f"{n} (max abs difference)": v for n, v in floated if v}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("databases", nargs="+", help="one file to hash, or two to compare")
    args = parser.parse_args(argv)
    if len(args.databases) > 2:
        parser.error("give one database to hash or two to compare")
    con = duckdb.connect()
    catalogs = tuple(f"db{i}" for i in range(len(args.databases)))
    for catalog, path in zip(catalogs, args.databases, strict=True):
        con.execute(f"attach ? as {catalog} (read_only)", [path])
    results = [{(h.table, h.run): h for h in table_hashes(con, c)} for c in catalogs]
    if len(results) == 1:
        for h in results[0].values():
            print(f"{h.table:<50} {h.run:<20} {h.rows:>8} {h.md5}")
        print(f"{len(results[0])} table-runs")
        return 0
    first, second = results
    differing = sorted(k for k in first.keys() | second.keys() if first.get(k) != second.get(k))
    for table, run in differing:
        if (table, run) not in first or (table, run) not in second:
            print(f"{table} {run}: only in {args.databases[0 if (table, run) in first else 1]}")
            continue
        print(f"{table} {run}: {float_differences(con, table, run, catalogs)}")
    every = first.keys() | second.keys()
    print(f"{len(every) - len(differing)} of {len(every)} table-runs identical")
    return 1 if differing else 0


if __name__ == "__main__":
    sys.exit(main())
