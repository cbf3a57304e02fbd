"""Build hook: the wheel carries the dbt project (allocator/_project).

The metadata is in pyproject.toml. The dbt project lives at the top of the
repository (dbt_project.yml, models/, macros/, seeds/, analyses/, tests/,
data/demo/), outside the Python package, so build_py copies it into the built
package; which files go is decided by allocator/project_files.py, the module
that also runs them once installed. An editable install gets no copy: it runs
the checkout itself.
"""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent


def _project_files_module():
    # loaded by path: importing the allocator package would need its
    # dependencies in the build environment
    path = ROOT / "python" / "allocator" / "project_files.py"
    spec = importlib.util.spec_from_file_location("_allocator_project_files", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class BuildPyWithProject(build_py):
    """build_py, plus the dbt project copied into allocator/_project."""

    def run(self) -> None:
        super().run()
        self._project_outputs = []
        if getattr(self, "editable_mode", False):
            return
        project_files = _project_files_module()
        target = Path(self.build_lib) / "allocator" / project_files.PACKAGED_DIRNAME
        # a previous build's copy may hold files since removed
        shutil.rmtree(target, ignore_errors=True)
        # fails loudly (no dbt_project.yml) rather than build a wheel without a project
        written = project_files.copy_project(ROOT, target)
        self._project_outputs = [str(path) for path in written]

    def get_outputs(self, include_bytecode: bool = True) -> list[str]:
        return [*super().get_outputs(include_bytecode), *getattr(self, "_project_outputs", [])]


setup(cmdclass={"build_py": BuildPyWithProject})
