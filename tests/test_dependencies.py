"""Every distribution the server imports is declared in pyproject.toml (issue 10): an import
that works only because another package happens to pull it in breaks on the next upgrade."""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OURS = ("graphql_api", "schema", "loaders")


def _imported_top_level_modules() -> set[str]:
    found: set[str] = set()
    for package in OURS:
        for path in (ROOT / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Import):
                    found.update(alias.name.split(".")[0] for alias in node.names)
                elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                    found.add(node.module.split(".")[0])
    return {m for m in found if m not in sys.stdlib_module_names and m not in OURS}


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_every_imported_distribution_is_declared() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    declared = {_normal(re.split(r"[<>=!~\[ ;]", spec)[0]) for spec in project["dependencies"]}
    providers = importlib.metadata.packages_distributions()
    modules = _imported_top_level_modules()
    assert "strawberry" in modules  # the scan sees our imports
    undeclared = {
        module: providers.get(module, ["?"])
        for module in modules
        if not any(_normal(dist) in declared for dist in providers.get(module, []))
    }
    assert undeclared == {}
