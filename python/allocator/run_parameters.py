"""Every run parameter, defined once: the columns of the gate model's contract.

The definition is the YAML of the gate (models/run/_run__models.yml, model
``stg_run_config``): each column that carries ``meta.var`` is a run parameter,
with its name (the dbt var; ``allocator_v1.mode`` for a key of that block),
its type (the contract's ``data_type``, which dbt enforces), its default
(``meta.default``), its bounds or allowed values (``meta.min``/``max``,
``min_exclusive``, ``choices``) and its doc (``description``). From it come:

* the resolver's defaults and per-value checks (:mod:`allocator.run_config`);
* the gate's columns (:mod:`allocator.gate`) and their casts, which
  models/run/stg_run_config.sql writes from the model's own columns;
* the names the gate reads as given (macros/run_vars.sql), and what the
  publish hook reads from the gate's row instead of from ``var()``.

A new parameter is one column entry in that YAML plus its use site.

Untrusted text: every string a caller gives (at any depth of a var) passes
:func:`check_text` first. dbt renders a string var as Jinja when project code
calls ``var()`` on it, and some readers treat braces as format fields, so a
value holding ``{``, ``}``, a control character (a trailing newline
included), or a URL scheme is refused, naming the var.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

__all__ = [
    "CONTRACT_FILE",
    "ConfigProblem",
    "GATE_MODEL",
    "ContractColumn",
    "RunParameter",
    "TextProblem",
    "check_text",
    "check_value",
    "contract_columns",
    "defaults",
    "parameter",
    "parameters",
    "untrusted_problem",
]

#: The gate model whose contract holds the definitions.
GATE_MODEL = "stg_run_config"
#: The model whose columns define the tuning vars the same way.
TUNING_MODEL = "stg_tuning_config"
#: Its YAML, relative to the dbt project.
CONTRACT_FILE = Path("models") / "run" / "_run__models.yml"
# Characters refused in any given text: braces (Jinja's {{ {% {#, and the
# fields of Python's str.format), ASCII control characters (NUL, a trailing
# newline) and DEL.
_REFUSED = re.compile(r"[{}\x00-\x1f\x7f]")
# A URL or any other scheme ("http:", "s3:", "file:", "md:"); a one-letter
# drive ("C:\\") is a local path.
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]+:")
#: Python types of the contract's data types.
_PYTHON_TYPES = {
    "varchar": str,
    "integer": int,
    "bigint": int,
    "double": float,
    "float": float,
    "boolean": bool,
    "date": dt.date,
}


class ConfigProblem(ValueError):
    """A var that cannot be used, with what would be right."""


class TextProblem(ConfigProblem):
    """A given value that could run as code or reach a non-local reader."""


@dataclass(frozen=True)
class ContractColumn:
    """One column of the gate's contract."""

    name: str
    data_type: str
    description: str
    meta: Mapping[str, Any]


@dataclass(frozen=True)
class RunParameter:
    """One run var: where it lands, its type, default, bounds and doc."""

    var: str
    column: str
    data_type: str
    doc: str
    default: Any = None
    minimum: float | None = None
    maximum: float | None = None
    min_exclusive: bool = False
    choices: tuple[str, ...] | None = None
    # a pattern the whole text must match
    pattern: str | None = None
    # the upper bound when the caller lifts the limits (tuning_override_limits)
    max_with_override: float | None = None
    # where the default comes from when it is not a constant: the calibration's
    default_from: str | None = None
    # the config_json group a plain value lands in (allocator_parameters)
    group: str | None = None

    @property
    def python_type(self) -> type:
        return _PYTHON_TYPES[self.data_type]

    @property
    def top_var(self) -> str:
        """The dbt var that carries it (allocator_v1 for allocator_v1.mode)."""
        return self.var.split(".", 1)[0]

    def bounds_text(self) -> str:
        low = (
            "" if self.minimum is None else f"{'(' if self.min_exclusive else '['}{self.minimum:g}"
        )
        high = "" if self.maximum is None else f"{self.maximum:g}]"
        if low and high:
            return f"{low}, {high}"
        if low:
            return f"{'>' if self.min_exclusive else '>='} {self.minimum:g}"
        return f"<= {self.maximum:g}" if high else "any"


def project_root() -> Path:
    """The dbt project this package runs: the checkout, else the packaged copy."""
    here = Path(__file__).resolve()
    checkout = here.parents[2]
    if (checkout / CONTRACT_FILE).is_file():
        return checkout
    return here.parent / "_project"


@functools.cache
def _models() -> tuple[Path, list[dict[str, Any]]]:
    """The definitions file and its models, parsed once per process."""
    import yaml  # a dependency of dbt-core

    # libyaml's loader when present: the CLI reads this file at every start
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    path = project_root() / CONTRACT_FILE
    document = yaml.load(path.read_text(encoding="utf-8"), Loader=loader)  # noqa: S506
    return path, list(document.get("models", []))


@functools.cache
def contract_columns(model_name: str = GATE_MODEL) -> tuple[ContractColumn, ...]:
    """A config model's columns, in order (the gate's: its contract)."""
    path, models = _models()
    for model in models:
        if model.get("name") == model_name:
            return tuple(
                ContractColumn(
                    name=str(column["name"]),
                    data_type=str(column["data_type"]).lower(),
                    description=" ".join(str(column.get("description", "")).split()),
                    meta=dict(column.get("meta") or {}),
                )
                for column in model["columns"]
            )
    raise LookupError(f"{path}: no model {model_name}")


@functools.cache
def parameters(model_name: str = GATE_MODEL) -> tuple[RunParameter, ...]:
    """Every run parameter (or, for TUNING_MODEL, tuning parameter), in column order."""
    found = []
    for column in contract_columns(model_name):
        meta = column.meta
        if "var" not in meta:
            continue
        choices = meta.get("choices")
        found.append(
            RunParameter(
                var=str(meta["var"]),
                column=column.name,
                data_type=column.data_type,
                doc=column.description,
                default=meta.get("default"),
                minimum=meta.get("min"),
                maximum=meta.get("max"),
                min_exclusive=bool(meta.get("min_exclusive", False)),
                choices=tuple(str(c) for c in choices) if choices is not None else None,
                pattern=meta.get("pattern"),
                max_with_override=meta.get("max_with_override"),
                default_from=meta.get("default_from"),
                group=meta.get("group"),
            )
        )
    return tuple(found)


def parameter(var: str, model_name: str = GATE_MODEL) -> RunParameter:
    """The definition of one var (``allocator_v1.mode`` for a block key)."""
    for candidate in parameters(model_name):
        if candidate.var == var:
            return candidate
    raise KeyError(var)


def defaults(model_name: str = GATE_MODEL) -> dict[str, Any]:
    """Every var's default, the allocator_v1 block as one mapping."""
    result: dict[str, Any] = {}
    for item in parameters(model_name):
        if "." in item.var:
            block, key = item.var.split(".", 1)
            result.setdefault(block, {})[key] = item.default
        else:
            result[item.var] = item.default
    return result


def untrusted_problem(text: str) -> str | None:
    """Why a given text cannot be used, or None."""
    bad = _REFUSED.search(text)
    if bad:
        character = bad.group()
        shown = {"{": "'{'", "}": "'}'"}.get(character, repr(character))
        return (
            f"holds {shown}: braces are never run as a template ({{{{ }}}}, {{% %}}) or "
            "read as a format field; remove them (rename the file if they are in its name)"
            if character in "{}"
            else f"holds the control character {shown}: remove it"
        )
    return None


def check_text(value: object, var: str) -> None:
    """Refuse a string anywhere in a given value (mappings and lists walked)."""
    if isinstance(value, str):
        problem = untrusted_problem(value)
        if problem:
            raise TextProblem(f"var {var}: {value!r} {problem}")
    elif isinstance(value, Mapping):
        for key, item in value.items():
            check_text(str(key), f"{var} (a key)")
            check_text(item, f"{var}.{key}")
    elif isinstance(value, (list, tuple)):
        for position, item in enumerate(value):
            check_text(item, f"{var}[{position}]")


def check_local_path(text: str, var: str) -> None:
    """Local files only: a URL or any other scheme is refused before any reader sees it."""
    if _SCHEME.match(text):
        raise TextProblem(
            f"var {var}: '{text}' names a URL or scheme ({text.split(':', 1)[0]}:); only local "
            "files are read: download it and give the local path"
        )


def check_value(item: RunParameter, value: object, override_limits: bool = False) -> Any:
    """One given value as the parameter's type, within its bounds, or ConfigProblem.

    ``override_limits``: a bound with ``max_with_override`` is lifted to it.
    """
    if item.python_type is bool:
        if isinstance(value, bool):
            return value
        if str(value).lower() in ("true", "false"):
            return str(value).lower() == "true"
        raise ConfigProblem(f"var {item.var}: {value!r} is not valid: use true or false")
    if item.python_type in (int, float):
        return _number(item, value, override_limits)
    text = "" if value is None else str(value)
    check_text(text, item.var)
    if item.choices is not None and text not in item.choices:
        raise ConfigProblem(f"var {item.var}: {text!r} is not valid: use {', '.join(item.choices)}")
    if item.pattern is not None and not re.fullmatch(item.pattern, text):
        raise ConfigProblem(f"var {item.var}: {text!r} is not valid: {item.doc}")
    return text


def _number(item: RunParameter, value: object, override_limits: bool = False) -> int | float:
    kind = "an integer" if item.python_type is int else "a number"
    lifted = override_limits and item.max_with_override is not None
    if lifted:
        item = replace(item, maximum=item.max_with_override)
    wanted = f"use {kind} in {item.bounds_text()}"
    if item.max_with_override is not None and not lifted:
        wanted += f" (up to {item.max_with_override:g} with the override of the limits)"
    if isinstance(value, bool):
        raise ConfigProblem(f"var {item.var}: {value!r} is not {kind}: {wanted}")
    if isinstance(value, (int, float)):
        number = float(value) if not isinstance(value, int) or abs(value) < 2**53 else math.inf
    else:
        text = str(value)
        check_text(text, item.var)
        try:
            number = float(text)
        except ValueError:
            raise ConfigProblem(f"var {item.var}: {value!r} is not {kind}: {wanted}") from None
    below = item.minimum is not None and (
        number <= item.minimum if item.min_exclusive else number < item.minimum
    )
    above = item.maximum is not None and number > item.maximum
    if not math.isfinite(number) or below or above:
        raise ConfigProblem(f"var {item.var}: {value!r} is out of range: {wanted}")
    if item.python_type is int:
        if not number.is_integer():
            raise ConfigProblem(f"var {item.var}: {value!r} is not {kind}: {wanted}")
        return int(number)
    return number


def given_names(model_name: str = GATE_MODEL) -> tuple[str, ...]:
    """The dbt vars a run reads, each once (allocator_v1 for its keys)."""
    names: list[str] = []
    for item in parameters(model_name):
        if item.top_var not in names:
            names.append(item.top_var)
    return tuple(names)
