"""Group python/allocator into sub-packages by part: engine, run, reports, tuning.

Run once, by the lead, on a clean tree after every branch is merged (the
move touches every module, so it cannot ride on a feature branch):

    .venv/bin/python scripts/move_to_subpackages.py            # move, rewrite, check
    .venv/bin/python scripts/move_to_subpackages.py --dry-run  # say what would move
    git commit -am "python/allocator in sub-packages by part"

It ``git mv``s each module into its part (docs/layout.md gives the parts and
the import graph before and after), writes each part's ``__init__.py``, and
rewrites every reference in the tracked files: Python imports
(``from allocator import a, b`` regrouped by part, ``allocator.x`` anywhere in
code, strings and prose, never a Jinja macro call ``allocator.x(...)``),
paths ``python/allocator/x.py``, ``Path(__file__)`` levels in the moved
modules, and .gitignore's ``reports/`` (anchored to the top, so it no longer
hides the part). Then ``ruff check --fix`` sorts the imports, ``ruff format``
formats, and an import of every module checks the result. Nothing is
committed.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = Path("python") / "allocator"

#: Each part, its docstring and its modules (new name where it changes).
PARTS: dict[str, tuple[str, dict[str, str]]] = {
    "engine": (
        "The allocator's rules as pure functions: regime, risk, the sweep's "
        "recursions, pricing, metrics, the controls' search, and their glue to dbt.",
        {
            name: name
            for name in (
                "regime",
                "risk",
                "sweep",
                "layers",
                "pricing",
                "metrics",
                "controls",
                "scalars",
                "governor_config",
                "sql_macros",
            )
        },
    ),
    "run": (
        "A run's configuration, its dbt invocations and what it leaves: the gate, "
        "the workflow, exports, stored runs.",
        {
            name: name
            for name in (
                "run_config",
                "gate",
                "validate",
                "workflow",
                "dbt_invoke",
                "snapshots",
                "progress",
                "exports",
                "runs",
            )
        },
    ),
    "reports": (
        "What people read: the chart toolkit, the two-pass report, the tear sheet, "
        "run comparisons and the text summaries.",
        {
            name: name
            for name in ("charts", "report", "tearsheet", "comparison", "compare_runs", "summary")
        },
    ),
    "tuning": (
        "Stage 7 tuning: configurations swept over a stored baseline, their "
        "controls, selection bias, the command and its report.",
        {
            # allocator.tuning becomes the part: its module needs another name
            "tuning": "configurations",
            "tuning_controls": "tuning_controls",
            "overfitting": "overfitting",
            "tune": "tune",
            "tuning_report": "tuning_report",
        },
    ),
}
#: Text files whose references are rewritten (tracked files only).
SUFFIXES = {".py", ".sql", ".yml", ".yaml", ".md", ".toml", ".cfg", ".in", ".j2", ".txt"}


def moves() -> dict[str, str]:
    """old module name -> new dotted name under allocator."""
    return {
        old: f"{part}.{new}" for part, (_, modules) in PARTS.items() for old, new in modules.items()
    }


def tracked_files(root: Path) -> list[Path]:
    out = subprocess.run(["git", "ls-files"], cwd=root, capture_output=True, text=True, check=True)
    return [root / line for line in out.stdout.splitlines() if Path(line).suffix in SUFFIXES]


def rewrite_from_imports(text: str, moved: dict[str, str]) -> str:
    """``from allocator import a, b`` -> one ``from allocator.<part> import`` per part."""
    pattern = re.compile(
        r"^(?P<indent>[ \t]*)from allocator import (?P<names>\([^)]*\)|[^\n]+)$", re.M
    )

    def regroup(match: re.Match[str]) -> str:
        indent = match["indent"]
        names = [n.strip() for n in match["names"].strip("()").replace("\n", " ").split(",")]
        by_source: dict[str, list[str]] = {}
        for entry in filter(None, names):
            name, _, alias = entry.partition(" as ")
            target = moved.get(name.strip())
            if target is None:
                source, item = "allocator", entry
            else:
                part, leaf = target.split(".")
                source = f"allocator.{part}"
                item = leaf if leaf == name.strip() else f"{leaf} as {name.strip()}"
                if alias:
                    item = f"{leaf} as {alias.strip()}"
            by_source.setdefault(source, []).append(item)
        return "\n".join(
            f"{indent}from {source} import {', '.join(items)}"
            for source, items in sorted(by_source.items())
        )

    return pattern.sub(regroup, text)


def rewrite_text(text: str, moved: dict[str, str], is_python: bool) -> str:
    """Every reference to a moved module, each rewritten once (the part
    ``tuning`` has the old module's name, so nothing is rewritten twice)."""
    names = "|".join(sorted(map(re.escape, moved), key=len, reverse=True))
    # allocator.x (code, strings, prose), never a macro call allocator.x(...)
    dotted = re.compile(rf"\ballocator\.({names})\b(?!\s*\()")
    text = dotted.sub(lambda m: f"allocator.{moved[m[1]]}", text)
    path = re.compile(rf"\bpython/allocator/({names})\.py\b")
    text = path.sub(lambda m: f"python/allocator/{moved[m[1]].replace('.', '/')}.py", text)
    return rewrite_from_imports(text, moved) if is_python else text


def trim_banners(text: str, width: int = 100) -> str:
    """A ``# --- title ---...`` comment that grew past the line length loses dashes."""

    def trim(match: re.Match[str]) -> str:
        line = match[0]
        return line if len(line) <= width else line[:width].rstrip("-") + "-" * 3

    return re.sub(r"^[ \t]*# .*-{3,}$", trim, text, flags=re.M)


def deeper_file_paths(text: str) -> str:
    """A module one level down: its Path(__file__) ancestors move up by one."""
    text = re.sub(
        r"Path\(__file__\)\.resolve\(\)\.parents\[(\d+)\]",
        lambda m: f"Path(__file__).resolve().parents[{int(m[1]) + 1}]",
        text,
    )
    return re.sub(
        r"Path\(__file__\)\.resolve\(\)\.parent\b(?!s)",
        "Path(__file__).resolve().parents[1]",
        text,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dry-run", action="store_true")
    parser.add_argument("--root", type=Path, default=ROOT, help="the checkout to move")
    args = parser.parse_args()
    root = args.root.resolve()
    moved = moves()
    missing = [old for old in moved if not (root / PACKAGE / f"{old}.py").is_file()]
    if missing:
        print(f"not found, nothing moved: {', '.join(missing)}", file=sys.stderr)
        return 1
    for old, new in moved.items():
        print(f"{PACKAGE}/{old}.py -> {PACKAGE}/{new.replace('.', '/')}.py")
    if args.dry_run:
        return 0
    files = tracked_files(root)
    # `reports/` ignored every folder of that name, the new part's too: only
    # the results folder at the top is output
    ignore = root / ".gitignore"
    ignore.write_text(re.sub(r"^reports/$", "/reports/", ignore.read_text(), flags=re.M))
    for part, (doc, _) in PARTS.items():
        init = root / PACKAGE / part / "__init__.py"
        init.parent.mkdir(exist_ok=True)
        init.write_text('"""' + textwrap.fill(doc, width=96) + '\n"""\n')
        subprocess.run(["git", "add", str(init)], cwd=root, check=True)
    for old, new in moved.items():
        target = PACKAGE / f"{new.replace('.', '/')}.py"
        subprocess.run(["git", "mv", str(PACKAGE / f"{old}.py"), str(target)], cwd=root, check=True)
    renamed = {
        root / PACKAGE / f"{old}.py": root / PACKAGE / f"{new.replace('.', '/')}.py"
        for old, new in moved.items()
    }
    moved_paths = set(renamed.values())
    for path in files:
        path = renamed.get(path, path)
        text = path.read_text()
        new_text = rewrite_text(text, moved, path.suffix == ".py")
        if path.suffix == ".py":
            new_text = trim_banners(new_text)
        if path in moved_paths:
            new_text = deeper_file_paths(new_text)
        if new_text != text:
            path.write_text(new_text)
    ruff = Path(sys.executable).parent / "ruff"
    targets = ["python", "tests", "benchmarks", "data", "models", "scripts"]
    subprocess.run([str(ruff), "check", "--fix", "-q", "--select", "I,F401", *targets], cwd=root)
    subprocess.run([str(ruff), "format", "-q", *targets], cwd=root, check=True)
    # a reference that grew past the line length in prose or a string: by hand
    subprocess.run([str(ruff), "check", "-q", "--select", "E501", *targets], cwd=root)
    check = (
        "import importlib, pkgutil, allocator\n"
        "for m in pkgutil.walk_packages(allocator.__path__, 'allocator.'):\n"
        "    importlib.import_module(m.name)\n"
        "print('every module imports')\n"
    )
    env = {**os.environ, "PYTHONPATH": str(root / "python")}
    return subprocess.run([sys.executable, "-c", check], cwd=root, env=env).returncode


if __name__ == "__main__":
    sys.exit(main())
