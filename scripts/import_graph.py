"""Print the allocator package's import graph: each module and the package
modules it imports (at module level or inside functions), and, with
--groups, the same graph folded into sub-packages.

    .venv/bin/python scripts/import_graph.py                 # module -> imports
    .venv/bin/python scripts/import_graph.py --groups        # by proposed part
    .venv/bin/python scripts/import_graph.py --package DIR   # another tree (e.g. after the move)

docs/layout.md shows the output before and after the sub-package move
(scripts/move_to_subpackages.py).
"""

from __future__ import annotations

import argparse
import ast
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "python" / "allocator"

#: The proposed parts: scripts/move_to_subpackages.py's, one list for both.
sys.path.insert(0, str(Path(__file__).resolve().parent))
from move_to_subpackages import PARTS  # noqa: E402

GROUPS: dict[str, tuple[str, ...]] = {part: tuple(modules) for part, (_, modules) in PARTS.items()}


def module_name(path: Path, package: Path) -> str:
    parts = path.relative_to(package).with_suffix("").parts
    return ".".join(parts[:-1]) if parts[-1] == "__init__" and len(parts) > 1 else ".".join(parts)


def imports_of(path: Path, known: set[str]) -> set[str]:
    """The package modules one file imports (``allocator.x`` or ``from allocator import x``)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("allocator"):
            base = node.module.removeprefix("allocator").lstrip(".")
            for alias in node.names:
                candidate = f"{base}.{alias.name}" if base else alias.name
                found.add(candidate if candidate in known else base)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("allocator."):
                    found.add(alias.name.removeprefix("allocator."))
    return {name for name in found if name in known}


def graph(package: Path) -> dict[str, set[str]]:
    files = sorted(p for p in package.rglob("*.py") if "_project" not in p.parts)
    known = {module_name(p, package) for p in files}
    edges = {}
    for path in files:
        name = module_name(path, package)
        edges[name] = imports_of(path, known) - {name}
    return edges


def group_of(module: str) -> str:
    leaf = module.rsplit(".", 1)[-1]
    if "." in module or module in GROUPS:  # after the move: the part is the prefix
        return module.split(".", 1)[0]
    for group, members in GROUPS.items():
        if leaf in members:
            return group
    return "(cli)" if leaf == "cli" else "(top)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--package", type=Path, default=PACKAGE)
    parser.add_argument("--groups", action="store_true", help="fold modules into parts")
    args = parser.parse_args()
    edges = graph(args.package)
    if not args.groups:
        for module in sorted(edges):
            print(f"{module:22} -> {', '.join(sorted(edges[module])) or '-'}")
        print(f"{len(edges)} modules, {sum(map(len, edges.values()))} imports")
        return
    folded: dict[tuple[str, str], int] = defaultdict(int)
    members: dict[str, list[str]] = defaultdict(list)
    for module, targets in edges.items():
        members[group_of(module)].append(module)
        for target in targets:
            if group_of(target) != group_of(module):
                folded[(group_of(module), group_of(target))] += 1
    for group in sorted(members):
        print(f"{group:8} {len(members[group]):2} modules: {', '.join(sorted(members[group]))}")
    print()
    for (source, target), count in sorted(folded.items()):
        print(f"{source:8} -> {target:8} {count:3} imports")
    cycles = sorted({tuple(sorted(pair)) for pair in folded if pair[::-1] in folded})
    print(f"parts importing each other: {', '.join(' <-> '.join(p) for p in cycles) or 'none'}")


if __name__ == "__main__":
    main()
