"""deploy/systemd/etalage.service is a unit systemd accepts, hardened to systemd's own "OK" exposure level."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from etalage.settings import Settings
from tests.deploy.support import DEPLOY, missing_tool

UNIT = DEPLOY / "systemd" / "etalage.service"
ANALYZE = shutil.which("systemd-analyze")
MISSING = "systemd-analyze is not installed (Debian: the systemd package); checking the unit needs it"
# The unit runs the etalage command of a virtual environment in /opt/etalage; here it is the one of the running Python.
INSTALLED = "/opt/etalage/bin/etalage"


@pytest.fixture
def unit(tmp_path: Path) -> Path:
    if ANALYZE is None:
        missing_tool(MISSING)
    etalage = Path(sys.executable).with_name("etalage")
    if not etalage.exists():
        pytest.skip(f"no etalage command beside {sys.executable} for ExecStart to name")
    copy = tmp_path / UNIT.name
    copy.write_text(UNIT.read_text().replace(INSTALLED, str(etalage)))
    return copy


def test_systemd_unit_runs_the_installed_etalage_serve():
    assert f"ExecStart={INSTALLED} serve" in UNIT.read_text().splitlines()


def test_systemd_unit_passes_systemd_analyze_verify(unit):
    # verify exits 0 on a value it ignores (a misspelt option): its warnings on stderr are the failure.
    result = subprocess.run([ANALYZE, "verify", str(unit)], capture_output=True, text=True, timeout=60)
    assert (result.returncode, result.stderr) == (0, "")


def test_systemd_unit_is_hardened(unit):
    # Exposure 0-10 as systemd-analyze security scores it; --threshold fails above 2.0 ("OK" and better).
    result = subprocess.run([ANALYZE, "security", "--offline=yes", "--threshold=20", str(unit)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout[-2000:]


def test_systemd_unit_takes_secrets_from_an_environment_file_only():
    lines = UNIT.read_text().splitlines()
    assert "EnvironmentFile=/etc/etalage/etalage.env" in lines
    assert not [line for line in lines if line.startswith("Environment=") and ("SECRET" in line or "TOKEN" in line)]


def test_systemd_unit_sets_only_settings_etalage_has():
    names = {line.split("=", 2)[1] for line in UNIT.read_text().splitlines() if line.lstrip("#").startswith("Environment=")}
    assert names and {name.removeprefix("ETALAGE_").lower() for name in names} <= set(Settings.__dataclass_fields__)
