"""The benchmark kit's scripts (benchmarks/*.py) as modules, for the tests that check what they measure."""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType

from tests.support.config import REPO


def benchmark(name: str) -> ModuleType:
    """benchmarks/<name>.py, loaded once under the name benchmarks_<name> (its dataclasses need a module)."""
    module_name = f"benchmarks_{name}"
    if module_name in sys.modules:
        return sys.modules[module_name]
    spec = importlib.util.spec_from_file_location(module_name, REPO / "benchmarks" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module
