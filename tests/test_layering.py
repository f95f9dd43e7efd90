"""The pure layers (page analysis, rule loading, consent) load no web server, HTTP client or Redis,
so they can be used and tested without the network stack.

Each module is imported in a fresh interpreter: this one has loaded everything already.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

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
