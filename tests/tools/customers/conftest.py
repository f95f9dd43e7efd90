"""Every test here names its store and rules itself: none comes from the environment."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _no_store_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("ETALAGE_REDIS_URL", "ETALAGE_PROFILES_FILE", "ETALAGE_RULES_DIR"):
        monkeypatch.delenv(name, raising=False)
