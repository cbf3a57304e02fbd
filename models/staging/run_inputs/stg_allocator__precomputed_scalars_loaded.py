"""The scalars a precomputed run applies, as loaded (python/allocator/
scalars.py): a stored baseline's published rows or a scalar file. A bad
file comes back as a problem row, which stg_allocator__precomputed_scalars
turns into the build's error."""

from allocator.scalars import precomputed_scalars


def model(dbt, session):
    kind, source = dbt.ref("stg_run_config").project(
        "precomputed_source_kind, precomputed_source"
    ).fetchall()[0]
    return precomputed_scalars(session, kind, source)
