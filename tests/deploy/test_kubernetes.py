"""deploy/kubernetes: manifests Kubernetes accepts (kubernetes-validate, offline, with its bundled schemas),
and the choices they exist for: probes, a locked-down pod, secrets by reference, rules Etalage can load."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from etalage.rules.loader import load_rules
from etalage.settings import Settings
from tests.deploy.support import DEPLOY

KUBERNETES = DEPLOY / "kubernetes"
MANIFESTS = sorted(path.name for path in KUBERNETES.glob("*.yaml") if path.name != "kustomization.yaml")
# The oldest Kubernetes still supported upstream when these were written; newer ones accept them too.
KUBERNETES_VERSION = "1.30.0"


def load(name: str) -> dict[str, Any]:
    (document,) = yaml.safe_load_all((KUBERNETES / name).read_text())
    return document


def pod_spec() -> dict[str, Any]:
    return load("deployment.yaml")["spec"]["template"]["spec"]


def container() -> dict[str, Any]:
    (only,) = pod_spec()["containers"]
    return only


@pytest.mark.parametrize("name", MANIFESTS)
def test_kubernetes_manifest_is_valid(name):
    validate = pytest.importorskip("kubernetes_validate", reason="kubernetes-validate is not installed (pip install -e '.[test]')")
    validate.validate(load(name), KUBERNETES_VERSION, strict=True)


def test_kubernetes_kustomization_lists_every_manifest():
    assert sorted(yaml.safe_load((KUBERNETES / "kustomization.yaml").read_text())["resources"]) == MANIFESTS


def test_kubernetes_probes_start_on_ready_and_keep_serving_through_a_redis_outage():
    probes = {kind: container()[kind]["httpGet"]["path"] for kind in ("livenessProbe", "readinessProbe", "startupProbe")}
    assert probes == {"livenessProbe": "/.etalage/health", "readinessProbe": "/.etalage/health", "startupProbe": "/.etalage/ready"}


def test_kubernetes_pod_runs_as_non_root_on_a_read_only_root():
    pod, own = pod_spec()["securityContext"], container()["securityContext"]
    assert (pod["runAsNonRoot"], pod["runAsUser"] != 0, pod["seccompProfile"]["type"]) == (True, True, "RuntimeDefault")
    assert own == {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True, "capabilities": {"drop": ["ALL"]}}


def test_kubernetes_container_asks_for_resources():
    resources = container()["resources"]
    assert {"cpu", "memory"} <= set(resources["requests"]) and "memory" in resources["limits"]


def test_kubernetes_rules_mount_is_the_whole_folder_so_changes_reach_the_pod():
    (mount,) = [mount for mount in container()["volumeMounts"] if mount["name"] == "rules"]
    assert "subPath" not in mount and mount["mountPath"] == load("config.yaml")["data"]["ETALAGE_RULES_DIR"]


def test_kubernetes_secrets_are_references_never_values():
    env = {item["name"]: item for item in container()["env"]}
    for name in ("ETALAGE_SECRET", "ETALAGE_ADMIN_TOKEN", "ETALAGE_REDIS_URL"):
        assert set(env[name]) == {"name", "valueFrom"} and env[name]["valueFrom"]["secretKeyRef"]["name"] == "etalage-secrets"
    assert not {"ETALAGE_SECRET", "ETALAGE_ADMIN_TOKEN", "ETALAGE_REDIS_URL"} & set(load("config.yaml")["data"])


def test_kubernetes_config_names_only_settings_etalage_has():
    data = load("config.yaml")["data"]
    settings = Settings.from_env({**data, "ETALAGE_SECRET": "k1:" + "x" * 32, "ETALAGE_REDIS_URL": "redis://redis:6379/0"})
    assert (settings.workers, settings.log_format) == (1, "json")
    assert {name.removeprefix("ETALAGE_").lower() for name in data} <= set(Settings.__dataclass_fields__)


def test_kubernetes_rules_configmap_is_a_rules_folder_etalage_loads(tmp_path: Path):
    for name, text in load("rules.yaml")["data"].items():
        (tmp_path / name).write_text(text)
    assert [rule.id for rule in load_rules(tmp_path).rules] == ["popular-by-interest"]


def test_kubernetes_service_hpa_and_budget_point_at_the_deployment():
    labels = load("deployment.yaml")["spec"]["template"]["metadata"]["labels"]
    assert load("service.yaml")["spec"]["selector"].items() <= labels.items()
    assert load("pdb.yaml")["spec"]["selector"]["matchLabels"].items() <= labels.items()
    target = load("hpa.yaml")["spec"]["scaleTargetRef"]
    assert (target["kind"], target["name"]) == ("Deployment", load("deployment.yaml")["metadata"]["name"])
    assert load("hpa.yaml")["spec"]["minReplicas"] >= 2


def test_kubernetes_port_matches_the_image():
    (port,) = container()["ports"]
    assert f"EXPOSE {port['containerPort']}" in (DEPLOY / "Dockerfile.production").read_text().splitlines()
