"""The project's dbt macros, rendered outside dbt, to run a rule's one SQL
definition on data that never enters a build.

A rule defined once in SQL (the book metrics of macros/book_metrics.sql and
macros/risk_metrics.sql, the pricing of macros/price_exposure.sql) is needed
in two places without a dbt run: ``allocator compare`` measures an exported
folder that carries no published metrics, and the equivalence tests bind the
Python forms of the rules to the macros. Starting dbt for either would cost
seconds; plain Jinja renders the macros in milliseconds.

Only what those macros use is provided: macros call each other as
``allocator.<name>`` (or unqualified), return values with ``return()``, and
``dbt.date_trunc`` is DuckDB's ``date_trunc``. A macro needing more (``ref``,
``var``, ``adapter``) is not renderable here, and fails with Jinja's error.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import jinja2

__all__ = ["MacroLibrary", "macro_library", "project_macros_dir"]

_PACKAGE_DIR = Path(__file__).resolve().parent


class _Return(Exception):  # noqa: N818 - dbt's control flow, not an error
    """dbt's ``return(value)``: ends a macro with a value."""

    def __init__(self, value: Any) -> None:
        super().__init__()
        self.value = value


def _return(value: Any) -> None:
    raise _Return(value)


class _DbtNamespace:
    """The cross-database macros the project's rule macros call, for DuckDB."""

    @staticmethod
    def date_trunc(datepart: str, date: str) -> str:
        return f"date_trunc('{datepart}', {date})"


class MacroLibrary:
    """Every macro of a macros/ folder, callable by name: ``library.call('wealth', 'r')``."""

    def __init__(self, macros_dir: Path, extra_globals: Mapping[str, Any] | None = None) -> None:
        """``extra_globals``: more of dbt's context (``ref``, ``var``, ...) for
        macros that need it, e.g. to render every model for a linter."""
        self._environment = jinja2.Environment(  # noqa: S701 - renders SQL, not HTML
            undefined=jinja2.StrictUndefined,
            extensions=["jinja2.ext.do"],
        )
        self._macros: dict[str, Callable[..., Any]] = {}
        self._environment.globals.update(allocator=self, dbt=_DbtNamespace(), execute=False)
        self._environment.globals["return"] = _return
        # before the macros load: a loaded macro sees the globals of that moment
        self._environment.globals.update(extra_globals or {})
        for path in sorted(Path(macros_dir).glob("*.sql")):
            try:
                module = self._environment.from_string(path.read_text()).module
            except jinja2.TemplateError:
                continue  # a file using dbt-only tags holds no rule macro
            for name in dir(module):
                macro = getattr(module, name)
                if isinstance(macro, jinja2.runtime.Macro):
                    self._macros[name] = self._returning(macro)
        # unqualified calls (a unit test may override a macro that way in dbt)
        self._environment.globals.update(self._macros)

    @staticmethod
    def _returning(macro: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(macro)
        def call(*args: Any, **kwargs: Any) -> Any:
            try:
                return macro(*args, **kwargs)
            except _Return as returned:
                return returned.value

        return call

    def __getattr__(self, name: str) -> Callable[..., Any]:
        try:
            return self._macros[name]
        except KeyError:
            raise AttributeError(f"no macro {name!r} in the project's macros/") from None

    def call(self, name: str, *args: Any, **kwargs: Any) -> str:
        """The SQL text a macro renders to."""
        return str(getattr(self, name)(*args, **kwargs))

    def render(self, sql: str) -> str:
        """A SQL template that calls the macros (``{{ allocator.wealth('r') }}``)."""
        return self._environment.from_string(sql).render()


def project_macros_dir() -> Path:
    """macros/ of this checkout, or of the project the installed package carries."""
    checkout = _PACKAGE_DIR.parents[1] / "macros"
    if (checkout / "book_metrics.sql").is_file():
        return checkout
    return _PACKAGE_DIR / "_project" / "macros"


@functools.cache
def macro_library(macros_dir: Path | None = None) -> MacroLibrary:
    """The project's macros, read once per process."""
    return MacroLibrary(macros_dir or project_macros_dir())
