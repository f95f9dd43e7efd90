"""The pure layers (page analysis, rule loading, consent) load no web server, HTTP client or Redis,
so they can be used and tested without the network stack.

Each module is imported in a fresh interpreter: this one has loaded everything already.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.config import REPO

HEAVY = ("starlette", "aiohttp", "httpx", "uvicorn", "redis")
PURE = ("etalage.html.page", "etalage.rules.loader", "etalage.consent")


def loaded_after_importing(module: str) -> set[str]:
    """The top-level packages a fresh interpreter holds in sys.modules after importing `module`."""
    code = f"import json, sys; import {module}; print(json.dumps(sorted({{name.partition('.')[0] for name in sys.modules}})))"
    # This checkout's sources first, as the suite itself runs against them.
    path = os.pathsep.join(filter(None, [str(REPO / "src"), os.environ.get("PYTHONPATH")]))
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env={**os.environ, "PYTHONPATH": path})
    assert result.returncode == 0, result.stderr
    return set(json.loads(result.stdout))


@pytest.mark.parametrize("module", PURE)
def test_layering_pure_module_loads_no_server_client_or_redis(module):
    assert loaded_after_importing(module) & set(HEAVY) == set()


# Which layers each layer may import (CONTRIBUTING.md, "Layout"): imports go one way, down this table.
SHARED = {"settings", "types", "problems", "metrics", "tokens", "logs"}
MAY_IMPORT = {
    "html": {"types"},
    "profiles": {"types"},
    "consent": {"rules.fields", "problems", "types"},
    "rules": {"consent", "profiles", "html", "problems", "types"},
    "engine": {"rules", "profiles", "html", "metrics", "settings", "types", "problems"},
    "http": {"engine", "rules", "consent", "profiles", "html", "webhooks"} | SHARED,
    "control": {"engine", "rules", "consent", "profiles", "html", "http", "webhooks"} | SHARED,
    "webhooks": {"engine", "rules", "profiles"} | SHARED,
    # Offline commands never need the web stack; content decoding is the one piece of http/ they share.
    "tools": {"engine", "rules", "consent", "profiles", "html", "http.compression"} | SHARED,
    "demo": {"types"},
    "tokens": {"profiles"},
    "metrics": set(),
    "logs": set(),
    "problems": set(),
    "settings": set(),
    "types": set(),
}


def etalage_imports(path: Path) -> set[str]:
    """The etalage modules a source file imports, without the `etalage.` prefix (`from etalage import
    http` imports etalage.http; a relative import is reported as such: imports are absolute here)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level:
            found.add(f"relative import from {'.' * node.level}{node.module or ''}")
        elif isinstance(node, ast.ImportFrom) and node.module == "etalage":
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("etalage."):
            found.add(node.module.removeprefix("etalage."))
        elif isinstance(node, ast.Import):
            found |= {alias.name.removeprefix("etalage.") for alias in node.names if alias.name.startswith("etalage.")}
    return found


def allowed(layer: str, module: str) -> bool:
    return module.split(".")[0] == layer or any(module == rule or module.startswith(rule + ".") for rule in MAY_IMPORT[layer])


def test_layering_sees_imports_of_a_layer_by_name_and_relative_ones(tmp_path):
    source = tmp_path / "module.py"
    source.write_text("from etalage import http\nfrom . import page\n")
    assert etalage_imports(source) == {"http", "relative import from ."}


@pytest.mark.parametrize("layer", sorted(MAY_IMPORT))
def test_layering_imports_go_one_way(layer):
    package = REPO / "src" / "etalage"
    files = sorted((package / layer).rglob("*.py")) if (package / layer).is_dir() else [package / f"{layer}.py"]
    wrong = {
        f"{path.relative_to(package)} imports etalage.{module}"
        for path in files
        for module in etalage_imports(path)
        if not allowed(layer, module)
    }
    assert wrong == set()
