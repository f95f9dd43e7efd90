"""deploy/compose.yaml: the demo shop, two Etalage replicas sharing one Redis with AOF on, nginx in front.

`docker compose config` checks it where the compose plugin is installed; the structure is checked everywhere.
"""

from __future__ import annotations

import shutil
import subprocess
from typing import Any

import pytest
import yaml

from etalage.settings import Settings
from tests.deploy.support import DEPLOY, missing_tool

COMPOSE = DEPLOY / "compose.yaml"
REPLICAS = ("etalage-1", "etalage-2")


def services() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())["services"]


def test_compose_runs_shop_redis_two_replicas_and_nginx():
    assert set(services()) == {"shop", "redis", *REPLICAS, "nginx"}


@pytest.mark.parametrize("name", ["shop", "redis", *REPLICAS, "nginx"])
def test_compose_service_has_a_healthcheck(name):
    assert services()[name]["healthcheck"]["test"][0] == "CMD"


def test_compose_replicas_run_the_production_image_on_one_redis():
    all_services = services()
    replicas = [all_services[name] for name in REPLICAS]
    assert replicas[0] == replicas[1]
    assert replicas[0]["build"]["dockerfile"] == "deploy/Dockerfile.production"
    assert replicas[0]["environment"]["ETALAGE_REDIS_URL"] == "redis://redis:6379/0"
    assert replicas[0]["depends_on"]["redis"]["condition"] == "service_healthy"


def test_compose_redis_keeps_an_append_only_file_on_a_volume():
    redis = services()["redis"]
    command = redis["command"]
    assert command[command.index("--appendonly") + 1] == "yes" and any(volume.endswith(":/data") for volume in redis["volumes"])


def test_compose_replicas_probe_readiness():
    assert "/.etalage/ready" in " ".join(services()["etalage-1"]["healthcheck"]["test"])


def test_compose_nginx_is_the_one_trusted_proxy():
    nginx = services()["nginx"]
    address = nginx["networks"]["shop"]["ipv4_address"]
    assert services()["etalage-1"]["environment"]["ETALAGE_TRUSTED_PROXIES"] == address
    assert "./nginx/compose.conf:/etc/nginx/conf.d/default.conf:ro" in nginx["volumes"]


def test_compose_secret_comes_from_outside_the_file():
    assert services()["etalage-1"]["environment"]["ETALAGE_SECRET"].startswith("${ETALAGE_SECRET:?")


def test_compose_environment_names_only_settings_etalage_has():
    names = {name.removeprefix("ETALAGE_").lower() for name in services()["etalage-1"]["environment"]}
    assert names <= set(Settings.__dataclass_fields__)


def test_compose_mounted_files_exist():
    mounted = [volume.split(":")[0] for service in services().values() for volume in service.get("volumes", ())]
    local = [source for source in mounted if source.startswith(".")]
    assert local and all((DEPLOY / source).exists() for source in local)


def test_compose_config_passes_docker_compose_config():
    docker = shutil.which("docker")
    probe = subprocess.run([docker, "compose", "version"], capture_output=True, text=True, timeout=60) if docker else None
    if probe is None or probe.returncode != 0:
        missing_tool("the docker compose plugin is not installed; the file's structure is checked by the other tests")
    result = subprocess.run(
        [docker, "compose", "-f", str(COMPOSE), "config", "--quiet"],
        capture_output=True,
        text=True,
        timeout=60,
        env={"ETALAGE_SECRET": "placeholder-secret-for-the-check", "PATH": "/usr/bin:/bin:/usr/local/bin"},
    )
    assert result.returncode == 0, result.stderr
