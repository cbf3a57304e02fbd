"""The README as a run-book (issue 22): every command in it runs as written
(it parses, with options the CLI knows), the CLI synopsis is complete, and
every name in backticks is a table, column, var, command, API name or file
that exists."""

from __future__ import annotations

import argparse
import csv
import inspect
import re
import shlex
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

import allocator
from allocator import api, cli, run_config, workflow
from allocator.tuning import TUNING_DEFAULTS

PROJECT_DIR = Path(__file__).resolve().parents[2]
README = PROJECT_DIR / "README.md"
FENCE = re.compile(r"^```[a-z]*\n(.*?)^```", re.MULTILINE | re.DOTALL)
INLINE = re.compile(r"(?<!`)`([^`\n]+)`(?!`)")
#: How a command starts in the README: the CLI (any install) or its prompt.
CLI_PREFIX = re.compile(r"^(?:\$ )?(?:\S*/)?allocator (?=\S)")
#: A placeholder in a synopsis or a prose example: FILE, ID, RATE|FILE, ...
PLACEHOLDER = re.compile(r"^\[?[A-Z][A-Z|_]*\]?$|\.\.\.|^<")
#: DuckDB's own names the README uses in SQL.
DUCKDB_NAMES = {"search_path", "read_parquet", "read_only"}
#: A generated run id (validate.default_run_id): label_start_end_kind[_tag].
RUN_ID = re.compile(r"^[a-z0-9_]+_\d{8}_\d{8}_(base|scaled)(_[a-z0-9_]+)?$")
#: Options every command takes, stated once below the synopsis.
COMMON_OPTIONS = {"-h", "--help", "--project-dir", "--reports-dir", "-v", "--verbose"}


def _text() -> str:
    return README.read_text(encoding="utf-8")


def _blocks(text: str) -> list[str]:
    return FENCE.findall(text)


def _prose(text: str) -> str:
    return FENCE.sub("", text)


#: A line of output, not a command: "allocator run: error: ...".
OUTPUT = re.compile(r"^allocator [a-z-]+: ")


def _cli_lines(text: str) -> Iterator[tuple[str, bool]]:
    """Every allocator command line, in code blocks and in inline code, and
    whether the README shows it refused (its next line is the error)."""
    for block in _blocks(text):
        lines = [line.strip() for line in block.splitlines()]
        for number, line in enumerate(lines):
            if CLI_PREFIX.match(line) and not OUTPUT.match(line):
                after = lines[number + 1] if number + 1 < len(lines) else ""
                yield line, bool(OUTPUT.match(after)) and ": error: " in after
    for span in INLINE.findall(_prose(text)):
        if CLI_PREFIX.match(span.strip()):
            yield span.strip(), False


def _arguments(line: str) -> list[str]:
    """The words after `allocator`, without a trailing comment."""
    line = re.sub(r"\s+#\s.*$", "", CLI_PREFIX.sub("", line))
    return shlex.split(line)


def _subparsers() -> dict[str, argparse.ArgumentParser]:
    parser = cli.build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def _options(parser: argparse.ArgumentParser) -> set[str]:
    return {o for a in parser._actions for o in a.option_strings} - COMMON_OPTIONS


def test_every_command_in_the_readme_parses() -> None:
    commands = _subparsers()
    lines = list(_cli_lines(_text()))
    assert len(lines) > 10
    for line, refused in lines:
        words = _arguments(line)
        if not words or words[0].startswith("-"):  # allocator --version
            continue
        assert words[0] in commands, f"unknown command in the README: {line}"
        if refused or len(words) == 1:  # an error's example, or a command named in prose
            continue
        if any(PLACEHOLDER.search(word) for word in words[1:]) or "[" in line:
            known = _options(commands[words[0]])
            options = {w.strip("[]|").split("=")[0] for w in re.findall(r"--[a-z-]+", line)}
            assert options <= known, f"{line}: unknown option(s) {sorted(options - known)}"
            continue
        try:
            cli.build_parser().parse_args(words)
        except SystemExit as exc:  # argparse's way of refusing
            pytest.fail(f"the README's command does not parse ({exc}): {line}")


def test_the_cli_synopsis_is_complete() -> None:
    text = _text()
    synopsis = _blocks(text[text.index("## The CLI") :])[0]
    for name, parser in _subparsers().items():
        entry = re.search(
            rf"^allocator {name}\b(.*?)(?=^allocator |\Z)", synopsis, re.MULTILINE | re.DOTALL
        )
        assert entry, f"allocator {name} is missing from the README's synopsis"
        missing = sorted(o for o in _options(parser) if o.startswith("--") and o not in entry[1])
        assert not missing, f"allocator {name}: options missing from the synopsis: {missing}"


def test_make_targets_exist() -> None:
    makefile = (PROJECT_DIR / "Makefile").read_text(encoding="utf-8")
    targets = set(re.findall(r"^([a-z][a-z-]*):", makefile, re.MULTILINE))
    used = set(re.findall(r"^make ([a-z-]+)", "\n".join(_blocks(_text())), re.MULTILINE))
    used |= set(re.findall(r"`make ([a-z-]+)`", _text()))
    assert used and used <= targets, sorted(used - targets)


def _known_names() -> set[str]:
    """Tables, columns, vars, CLI destinations and API names of the project."""
    names: set[str] = set()
    for path in [*PROJECT_DIR.glob("models/**/*.yml"), *PROJECT_DIR.glob("seeds/*.yml")]:
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for group in ("models", "seeds", "sources", "exposures", "unit_tests"):
            for node in document.get(group) or []:
                names.add(node["name"])
                names.update(c["name"] for c in node.get("columns") or [])
                names.update(t["name"] for t in node.get("tables") or [])
    names.update(p.stem for p in PROJECT_DIR.glob("models/**/*.sql"))
    names.update(p.stem for p in PROJECT_DIR.glob("models/**/*.py"))
    for seed in PROJECT_DIR.glob("seeds/*.csv"):
        names.add(seed.stem)
        with seed.open(newline="", encoding="utf-8") as handle:
            rows = list(csv.reader(handle))
        names.update(rows[0])
        names.update(row[0] for row in rows[1:])  # profiles, calibrations, flag codes
    project = yaml.safe_load((PROJECT_DIR / "dbt_project.yml").read_text(encoding="utf-8"))
    names.update(project.get("vars") or {})
    names.update(run_config.DEFAULTS, run_config.DEFAULTS["allocator_v1"], TUNING_DEFAULTS)
    names.update(run_config.MODES, run_config.CADENCES, run_config.CALIBRATIONS)
    for parser in _subparsers().values():
        names.update(a.dest for a in parser._actions)
    names.update(allocator.__all__)
    for path in PROJECT_DIR.glob("macros/**/*.sql"):
        names.update(re.findall(r"\{%-?\s*macro\s+(\w+)", path.read_text(encoding="utf-8")))
    # keys of the exported files (*_meta.json, ...), spelled in the package
    for path in PROJECT_DIR.glob("python/allocator/*.py"):
        names.update(re.findall(r"[\"']([a-z][a-z0-9_]*)[\"']", path.read_text(encoding="utf-8")))
    names.update(DUCKDB_NAMES)
    names.update([workflow.DEMO_BASELINE_RUN_ID, workflow.DEMO_SCALED_RUN_ID])
    for function in (api.settings, api.run, api.two_pass, api.check, api.tune, api.compare):
        names.update(inspect.signature(function).parameters)
    for result in (api.Run, api.TwoPass, api.Tuning, api.Comparison, api.InputCheck):
        names.update(name for name in dir(result) if not name.startswith("__"))
        names.update(getattr(result, "__dataclass_fields__", {}))
    return names


def test_every_name_in_backticks_exists() -> None:
    known = _known_names()
    spans = INLINE.findall(_prose(_text()))
    for block in _blocks(_text()):
        spans += INLINE.findall(block)
    identifiers = set()
    for span in spans:
        for word in re.split(r"[\s,()=\[\]]+", span):
            word = word.strip(".:;'\"")
            word = re.sub(r"^(marts|artifacts|allocator|audit|build)\.", "", word)
            if re.fullmatch(r"[a-z][a-z0-9]*(_[a-z0-9]+)+", word) and not RUN_ID.match(word):
                identifiers.add(word)
    assert len(identifiers) > 30
    unknown = sorted(word for word in identifiers if word not in known)
    assert not unknown, f"names in the README that the project does not have: {unknown}"


def test_the_first_screen_holds_the_two_commands_and_the_own_data_example() -> None:
    """Install and test as CI and a fresh machine run them, then a user's own
    file, by CLI and by API, within the first 60 lines."""
    first = "\n".join(_text().splitlines()[:60])
    two = re.findall(r"^make ([a-z]+)", _blocks(first)[0], re.MULTILINE)
    assert two == ["install", "test"]
    assert "make test" in (PROJECT_DIR / ".ci" / "run").read_text(encoding="utf-8")
    assert "allocator two-pass --prices my_closes.csv" in first
    assert "allocator check my_closes.csv" in first
    assert "allocator.two_pass(closes)" in first
