"""What the deploy tests share: the deploy folder, and skipping (or, where CI requires it, failing) without a tool."""

from __future__ import annotations

import os

import pytest

from tests.support.config import REPO

__all__ = ["DEPLOY", "missing_tool"]

DEPLOY = REPO / "deploy"


def missing_tool(reason: str, require: str | None = None) -> None:
    """Skip the calling test for `reason`; fail it instead when the environment variable `require` is 1 (CI installs the tool)."""
    if require is not None and os.environ.get(require) == "1":
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)
