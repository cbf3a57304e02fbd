"""The dbt project's files: which ones ship in the package, where an installed
package runs them from, and `allocator init`'s editable copy.

A repository checkout runs the project in place. A wheel carries the same
files in ``allocator/_project`` (copied there at build time by setup.py, which
loads this module by path: it may import only the standard library at module
level).

An installed package does not run dbt in ``site-packages``: dbt writes target/
(compiled SQL, the partial-parse cache) and logs/ into the project directory,
and resolves the project's relative paths (the demo data, reports/runs/) from
its working directory, which is the project. ``site-packages`` may be
read-only and is shared by every user of the environment. Passing dbt
--target-path/--log-path elsewhere would cover only the first half; so the
packaged project is copied once to ``<results>/.allocator/project`` (about
1 MB) and refreshed when the package's version or the files' content hash
changes. The copy is private to that results directory, so two results
directories never share dbt's target/ or partial-parse state.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
from collections.abc import Iterable
from pathlib import Path

#: Top-level files of the project.
TOP_FILES = ("dbt_project.yml", "profiles.yml")
#: Top-level folders shipped whole: models (SQL and dbt Python models), macros,
#: seeds and analyses.
TREES = ("models", "macros", "seeds", "analyses")
#: dbt's test-paths folder also holds the pytest suites; only dbt's own files
#: (generic/ and singular/ tests, their YAML) ship.
TESTS_DIR = "tests"
DBT_TEST_SUFFIXES = (".sql", ".yml", ".yaml")
#: Every file a var defaults to (the demo data, the default tuning grid) and
#: the provenance and licences of that data.
DATA_GLOBS = (
    "data/demo/*.parquet",
    "data/demo/*.csv",
    "data/tuning/*.json",
    "data/PROVENANCE.md",
)
_SKIPPED_PARTS = {"__pycache__", ".ipynb_checkpoints"}
_SKIPPED_SUFFIXES = (".pyc", ".pyo")

#: Where the wheel carries the project, relative to the allocator package.
PACKAGED_DIRNAME = "_project"
#: Where an installed package runs the project from, under the results directory.
RUNTIME_DIR = Path(".allocator") / "project"
#: Written into a runtime copy: the package version and content hash it was made from.
STAMP_FILE = ".allocator-project"


def _kept(relative: Path) -> bool:
    return not (_SKIPPED_PARTS & set(relative.parts)) and relative.suffix not in _SKIPPED_SUFFIXES


def project_file_list(root: Path) -> list[Path]:
    """The project's files under ``root`` (a checkout or a packaged project),
    relative to it and sorted."""
    files: set[Path] = set()
    for name in TOP_FILES:
        if (root / name).is_file():
            files.add(Path(name))
    for tree in TREES:
        files.update(p.relative_to(root) for p in (root / tree).rglob("*") if p.is_file())
    files.update(
        p.relative_to(root)
        for p in (root / TESTS_DIR).rglob("*")
        if p.is_file() and p.suffix in DBT_TEST_SUFFIXES
    )
    for pattern in DATA_GLOBS:
        files.update(p.relative_to(root) for p in root.glob(pattern) if p.is_file())
    return sorted(p for p in files if _kept(p))


def copy_files(source: Path, dest: Path, files: Iterable[Path]) -> list[Path]:
    """Copy ``files`` (relative to ``source``) to ``dest``; returns the copies."""
    written = []
    for relative in files:
        target = dest / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source / relative, target)
        written.append(target)
    return written


def copy_project(source: Path, dest: Path) -> list[Path]:
    """Copy the project at ``source`` to ``dest`` (used by the build hook)."""
    files = project_file_list(source)
    if Path("dbt_project.yml") not in files:
        raise FileNotFoundError(f"{source} holds no dbt project (no dbt_project.yml)")
    return copy_files(source, dest, files)


def is_checkout(root: Path) -> bool:
    """A repository checkout (or any folder holding the project in place)."""
    return (root / "dbt_project.yml").is_file()


def packaged_project() -> Path | None:
    """The project shipped in this installed package, or None (a checkout's
    editable install carries none: it runs the checkout)."""
    path = Path(__file__).resolve().parent / PACKAGED_DIRNAME
    return path if (path / "dbt_project.yml").is_file() else None


def runtime_dir(results_dir: Path) -> Path:
    return results_dir / RUNTIME_DIR


def is_runtime_dir(path: Path) -> bool:
    return path.parts[-len(RUNTIME_DIR.parts) :] == RUNTIME_DIR.parts


def _package_version() -> str:
    from importlib import metadata

    try:
        return metadata.version("allocator")
    except metadata.PackageNotFoundError:
        return "unknown"


def project_stamp(root: Path) -> str:
    """The package version and a hash of the project's file names and contents."""
    digest = hashlib.sha256()
    for relative in project_file_list(root):
        digest.update(relative.as_posix().encode() + b"\0")
        digest.update((root / relative).read_bytes() + b"\0")
    return f"{_package_version()} {digest.hexdigest()}"


def _read_stamp(project: Path) -> str | None:
    try:
        return (project / STAMP_FILE).read_text(encoding="utf-8").strip()
    except OSError:
        return None


def materialise(packaged: Path, dest: Path) -> Path:
    """Make ``dest`` a current copy of the packaged project; cheap when it is.

    A stale copy (another package version or content) is replaced whole, its
    target/ and logs/ with it. The copy is assembled next to ``dest`` and
    renamed into place, so a concurrent command never sees half a project.
    """
    stamp = project_stamp(packaged)
    if _read_stamp(dest) == stamp:
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    ignore = dest.parent / ".gitignore"
    if not ignore.exists():
        ignore.write_text("# allocator's working copy of its dbt project\n*\n", encoding="utf-8")
    fresh = dest.with_name(f".{dest.name}.new-{os.getpid()}")
    stale = dest.with_name(f".{dest.name}.old-{os.getpid()}")
    try:
        shutil.rmtree(fresh, ignore_errors=True)
        copy_files(packaged, fresh, project_file_list(packaged))
        (fresh / STAMP_FILE).write_text(stamp + "\n", encoding="utf-8")
        # FileNotFoundError: another command moved it first
        with contextlib.suppress(FileNotFoundError):
            os.replace(dest, stale)
        try:
            os.replace(fresh, dest)
        except OSError:
            # another command put its copy in place first: fine if it is current
            if _read_stamp(dest) != stamp:
                raise
    finally:
        shutil.rmtree(fresh, ignore_errors=True)
        shutil.rmtree(stale, ignore_errors=True)
    return dest


def init_project(dest: Path, source: Path) -> list[Path]:
    """`allocator init DIR`: an editable copy of the project in a new or empty DIR."""
    from allocator.errors import AllocatorError

    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise AllocatorError(
            f"{dest} exists and is not an empty directory: give a new directory "
            "(allocator init never overwrites files)"
        )
    try:
        return copy_files(source, dest, project_file_list(source))
    except OSError as exc:
        raise AllocatorError(f"cannot write the project to {dest}: {exc}") from exc
