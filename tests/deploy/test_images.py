"""The container images: the production one (`etalage serve`, non-root, dependencies from the hash-checked
lock, a health check) and the demo one. They are built where a Docker engine answers, and checked as files
everywhere."""

from __future__ import annotations

import re
import shutil
import subprocess
import tomllib

import pytest

from tests.deploy.support import DEPLOY, missing_tool
from tests.support.config import REPO

PRODUCTION = DEPLOY / "Dockerfile.production"
LOCK = DEPLOY / "requirements.lock"


def final_stage(dockerfile: str) -> list[str]:
    """The instructions of the last stage, continuation lines joined."""
    text = re.sub(r"\\\n\s*", " ", dockerfile)
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]
    start = max(index for index, line in enumerate(lines) if line.startswith("FROM "))
    return lines[start:]


def normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def locked() -> dict[str, str]:
    """Package name -> the lock's text for it (its pin and hashes)."""
    entries = re.split(r"\n(?=[A-Za-z0-9])", LOCK.read_text())
    found = {}
    for entry in entries:
        match = re.match(r"([A-Za-z0-9._-]+)==", entry)
        if match:
            found[normalized(match.group(1))] = entry
    return found


def test_images_production_runs_etalage_serve_as_a_non_root_user():
    stage = final_stage(PRODUCTION.read_text())
    (user,) = [line for line in stage if line.startswith("USER ")]
    assert user.split()[1].split(":")[0] not in {"0", "root"}
    assert stage[-1] == 'CMD ["etalage", "serve"]'


def test_images_production_checks_its_health():
    (check,) = [line for line in final_stage(PRODUCTION.read_text()) if line.startswith("HEALTHCHECK ")]
    assert "/.etalage/health" in check


def test_images_production_installs_the_lock_with_hashes_and_nothing_resolved():
    text = re.sub(r"\\\n\s*", " ", PRODUCTION.read_text())
    assert "pip install --require-hashes --no-deps -r /tmp/requirements.lock" in text
    assert "COPY deploy/requirements.lock /tmp/requirements.lock" in text
    assert re.search(r"pip install --no-deps /tmp/wheels/etalage-\*\.whl", text)


def test_images_lock_pins_every_dependency_with_hashes():
    entries = locked()
    declared = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    names = {normalized(re.match(r"[A-Za-z0-9._-]+", requirement).group(0)) for requirement in declared}  # type: ignore[union-attr]
    assert names <= set(entries), f"refresh deploy/requirements.lock (see its header): {sorted(names - set(entries))} missing"
    assert all("--hash=sha256:" in entry for entry in entries.values())


def test_images_lock_is_for_the_images_python():
    version = re.search(r"pip-compile with Python (\d+\.\d+)", LOCK.read_text()).group(1)  # type: ignore[union-attr]
    for dockerfile in (PRODUCTION, DEPLOY / "Dockerfile"):
        bases = re.findall(r"^FROM python:(\d+\.\d+)", dockerfile.read_text(), re.MULTILINE)
        assert bases and set(bases) == {version}, dockerfile.name


def docker_engine() -> str:
    docker = shutil.which("docker")
    if docker is None:
        missing_tool("docker is not installed; the images are checked as files only")
    info = subprocess.run([docker, "info", "--format", "{{.ServerVersion}}"], capture_output=True, text=True, timeout=60)  # type: ignore[list-item]
    if info.returncode != 0:
        missing_tool(f"no Docker engine answers ({info.stderr.strip().splitlines()[-1] if info.stderr.strip() else 'docker info failed'})")
    return docker  # type: ignore[return-value]


@pytest.mark.parametrize("dockerfile", ["Dockerfile.production", "Dockerfile"])
def test_images_build(dockerfile):
    docker = docker_engine()
    tag = f"etalage-test:{dockerfile.lower().replace('.', '-')}"
    result = subprocess.run(
        [docker, "build", "--quiet", "-f", str(DEPLOY / dockerfile), "-t", tag, str(REPO)], capture_output=True, text=True, timeout=1800
    )
    assert result.returncode == 0, result.stderr[-4000:]
