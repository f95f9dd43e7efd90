"""Where the tests' data lives, the test signing key, consent cookies, and settings for a test Etalage."""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from pathlib import Path

from etalage.settings import Settings

TESTS = Path(__file__).resolve().parents[1]
REPO = TESTS.parent
PROJECT_RULES = REPO / "rules"
RULESETS = TESTS / "rulesets"
DATA = TESTS / "data"
PROXY_RULES = RULESETS / "good" / "proxy"
SECRET = (("t1", b"test-secret-0123456789abcdef"),)
ACCEPT_ONETRUST = "isGpcEnabled=0&datestamp=x&version=202411.1.0&interactionCount=1&groups=C0001%3A1%2CC0004%3A1&AwaitingReconsent=false"
REJECT_ONETRUST = ACCEPT_ONETRUST.replace("C0004%3A1", "C0004%3A0")


def settings_for(upstream: str, rules_dir: Path = PROJECT_RULES, **overrides: object) -> Settings:
    # A busy test machine must not make Etalage shed personalization in tests about something else.
    overrides.setdefault("overload_lag", 60.0)
    # Nor serve a page unpersonalized because its first look took longer than usual.
    overrides.setdefault("analysis_timeout", 60.0)
    # Nor put a visitor (a random id) in an experiment's variant or the holdout: tests about experiments turn them on.
    overrides.setdefault("experiments", False)
    return Settings(upstream=upstream, rules_dir=rules_dir, secret=SECRET, **overrides).validated()  # type: ignore[arg-type]


def rules_with(base: Path, into: Path, files: Mapping[str, str | bytes]) -> Path:
    """A copy of the rules folder `base` in `into`, with `files` (relative path: content) added or replaced."""
    folder = Path(shutil.copytree(base, into / base.name))
    for name, content in files.items():
        path = folder / name
        path.write_bytes(content) if isinstance(content, bytes) else path.write_text(content)
    return folder
