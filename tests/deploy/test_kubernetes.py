"""deploy/kubernetes is a complete kustomization: the core manifests pass the Kubernetes OpenAPI
schemas (kubernetes-validate, strict), the services run as non-root with probes and resource
bounds, every reference points at something that exists, and KEDA's ScaledObject has the fields
KEDA documents (its CRD is not among those schemas)."""

import shutil
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
KUBE_DIR = REPO / "deploy" / "kubernetes"
KUBERNETES_VERSIONS = ("1.30.0", kubernetes_validate.latest_version())
KEDA_API = "keda.sh/v1alpha1"
APP_USER_ID = 10001  # `useradd --uid 10001` in every Dockerfile
PLACEHOLDER = "CHANGE_ME"

# KEDA's documented fields (keda.sh/docs: ScaledObject specification, PostgreSQL scaler).
SCALED_OBJECT_SPEC = {
    "scaleTargetRef", "pollingInterval", "cooldownPeriod", "initialCooldownPeriod",
    "idleReplicaCount", "minReplicaCount", "maxReplicaCount", "fallback", "advanced", "triggers",
}  # fmt: skip
SCALE_TARGET_REF = {"apiVersion", "kind", "name", "envSourceContainerName"}
TRIGGER_FIELDS = {"type", "metadata", "name", "useCachedMetrics", "authenticationRef", "metricType"}
POSTGRESQL_METADATA = {
    "connectionFromEnv", "host", "userName", "passwordFromEnv", "port", "dbName", "sslmode",
    "query", "targetQueryValue", "activationTargetQueryValue", "metricName",
}  # fmt: skip
POSTGRESQL_AUTH_PARAMETERS = {"connection", "host", "userName", "password", "port", "dbName"}
POSTGRESQL_AUTH_PARAMETERS |= {"sslmode"}


def load(name: str) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all((KUBE_DIR / name).read_text()) if doc]


@pytest.fixture(scope="module")
def kustomization() -> dict[str, Any]:
    (doc,) = load("kustomization.yaml")
    return doc


@pytest.fixture(scope="module")
def resources(kustomization: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    """(kind, name) → manifest, for every file the kustomization lists."""
    found = {}
    for name in kustomization["resources"]:
        for doc in load(name):
            found[(doc["kind"], doc["metadata"]["name"])] = doc
    return found


def core(resources: dict[tuple[str, str], dict[str, Any]]) -> list[dict[str, Any]]:
    return [doc for doc in resources.values() if doc["apiVersion"] != KEDA_API]


def pod_spec(resources: dict[tuple[str, str], dict[str, Any]], kind: str, name: str) -> Any:
    return resources[(kind, name)]["spec"]["template"]["spec"]


def test_the_kustomization_lists_every_manifest_and_only_existing_ones(
    kustomization: dict[str, Any],
) -> None:
    listed = set(kustomization["resources"])
    present = {p.name for p in KUBE_DIR.glob("*.yaml")} - {"kustomization.yaml"}
    assert listed == present
    assert kustomization["namespace"] == "image-import"


def test_the_kustomization_sets_every_image_the_manifests_use(
    kustomization: dict[str, Any], resources: dict[tuple[str, str], dict[str, Any]]
) -> None:
    used = {
        container["image"].split(":")[0]
        for doc in resources.values()
        if doc["kind"] in {"Deployment", "Job"}
        for container in doc["spec"]["template"]["spec"]["containers"]
    }
    assert {image["name"] for image in kustomization["images"]} == used
    assert used == {"image-import-api", "image-import-worker", "image-import-web"}


def test_kustomize_renders_the_kustomization() -> None:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl (with its built-in kustomize) is not installed")
    done = subprocess.run(
        [kubectl, "kustomize", str(KUBE_DIR)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    rendered = [doc for doc in yaml.safe_load_all(done.stdout) if doc]
    namespaced = {
        (doc["kind"], doc["metadata"].get("namespace"))
        for doc in rendered
        if doc["kind"] != "Namespace"
    }
    kinds = ("ConfigMap", "Secret", "Job", "Deployment", "Service", "Ingress")
    kinds += ("ScaledObject", "TriggerAuthentication")
    assert namespaced == {(kind, "image-import") for kind in kinds}
    for doc in rendered:
        if doc["apiVersion"] != KEDA_API:
            kubernetes_validate.validate(doc, KUBERNETES_VERSIONS[-1], strict=True)


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_core_manifests_pass_the_kubernetes_schemas(
    resources: dict[tuple[str, str], dict[str, Any]], version: str
) -> None:
    kinds = set()
    for doc in core(resources):
        kubernetes_validate.validate(doc, version, strict=True)
        kinds.add(doc["kind"])
    assert kinds == {"Namespace", "ConfigMap", "Secret", "Job", "Deployment", "Service", "Ingress"}


@pytest.mark.parametrize("component", ["api", "web", "worker"])
def test_each_service_runs_non_root_with_probes_and_bounded_resources(
    resources: dict[tuple[str, str], dict[str, Any]], component: str
) -> None:
    spec = pod_spec(resources, "Deployment", f"image-import-{component}")
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert spec["securityContext"]["runAsUser"] == APP_USER_ID
    assert spec["automountServiceAccountToken"] is False
    (container,) = spec["containers"]
    assert container["image"].split(":")[0] == f"image-import-{component}"
    assert container["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
    }
    # A read-only root still gives Python a writable /tmp.
    assert {"name": "tmp", "mountPath": "/tmp"} in container["volumeMounts"]
    for bound in ("requests", "limits"):
        assert set(container["resources"][bound]) == {"cpu", "memory"}
    for probe in ("readinessProbe", "livenessProbe"):
        assert probe in container
    if component in {"api", "web"}:
        port_names = {port["name"] for port in container["ports"]}
        # The api is ready while its database and bucket answer, alive while it serves; the
        # web has no store of its own.
        ready = "/readyz" if component == "api" else "/healthz"
        assert container["readinessProbe"]["httpGet"]["path"] == ready
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
        for probe in ("readinessProbe", "livenessProbe"):
            assert container[probe]["httpGet"]["port"] in port_names
    text = (REPO / component / "Dockerfile").read_text()
    assert f"--uid {APP_USER_ID}" in text and f"USER {APP_USER_ID}" in text


@pytest.mark.parametrize(("component", "port"), [("api", 8000), ("worker", 9000)])
def test_prometheus_scrapes_the_api_and_worker_pods_on_a_port_they_serve(
    resources: dict[tuple[str, str], dict[str, Any]], component: str, port: int
) -> None:
    template = resources[("Deployment", f"image-import-{component}")]["spec"]["template"]
    assert template["metadata"]["annotations"] == {
        "prometheus.io/scrape": "true",
        "prometheus.io/port": str(port),
        "prometheus.io/path": "/metrics",
    }
    (container,) = template["spec"]["containers"]
    assert port in {p["containerPort"] for p in container["ports"]}
    if component == "worker":
        (config,) = load("configmap.yaml")
        assert config["data"]["METRICS_PORT"] == str(port)


def test_the_migrate_job_runs_migrate_from_the_api_image(
    resources: dict[tuple[str, str], dict[str, Any]],
) -> None:
    job = resources[("Job", "image-import-migrate")]
    spec = job["spec"]["template"]["spec"]
    (container,) = spec["containers"]
    api_image = pod_spec(resources, "Deployment", "image-import-api")["containers"][0]["image"]
    assert container["image"] == api_image
    assert container["command"] == ["migrate"]
    assert spec["restartPolicy"] == "Never"
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["readOnlyRootFilesystem"] is True


def test_config_and_secret_references_resolve_and_the_secret_holds_only_placeholders(
    resources: dict[tuple[str, str], dict[str, Any]],
) -> None:
    config = resources[("ConfigMap", "image-import-config")]["data"]
    secret = resources[("Secret", "image-import-secrets")]["stringData"]
    for value in secret.values():
        assert value == "" or PLACEHOLDER in value, value
    assert "data" not in resources[("Secret", "image-import-secrets")]
    assert set(secret) >= {"DATABASE_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}
    assert set(secret) >= {"GOOGLE_API_KEY", "DROPBOX_ACCESS_TOKEN", "DROPBOX_APP_KEY"}
    assert not set(config) & set(secret)

    sources = {"ConfigMap": config, "Secret": secret}
    for (kind, _name), doc in resources.items():
        if kind not in {"Deployment", "Job"}:
            continue
        for container in doc["spec"]["template"]["spec"]["containers"]:
            for item in container.get("envFrom", []):
                ref_kind = "ConfigMap" if "configMapRef" in item else "Secret"
                ref = item.get("configMapRef") or item["secretRef"]
                assert (ref_kind, ref["name"]) in resources
            for item in container.get("env", []):
                ref = item.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    assert (ref["name"], ref["key"] in sources["Secret"]) == (
                        "image-import-secrets",
                        True,
                    )
    # The web needs no secret at all.
    web = pod_spec(resources, "Deployment", "image-import-web")["containers"][0]
    assert web["envFrom"] == [{"configMapRef": {"name": "image-import-config"}}]
    assert config["API_URL"] == "http://image-import-api:8000"


def test_services_and_the_ingress_reach_the_pods(
    resources: dict[tuple[str, str], dict[str, Any]],
) -> None:
    for component in ("api", "web"):
        service = resources[("Service", f"image-import-{component}")]
        pod = resources[("Deployment", f"image-import-{component}")]["spec"]["template"]
        assert service["spec"]["selector"].items() <= pod["metadata"]["labels"].items()
        port_names = {p["name"] for p in pod["spec"]["containers"][0]["ports"]}
        assert {p["targetPort"] for p in service["spec"]["ports"]} <= port_names
    ingress = resources[("Ingress", "image-import")]
    backends = [
        path["backend"]["service"]
        for rule in ingress["spec"]["rules"]
        for path in rule["http"]["paths"]
    ]
    assert {b["name"] for b in backends} == {"image-import-api", "image-import-web"}
    for backend in backends:
        service = resources[("Service", backend["name"])]
        assert backend["port"]["name"] in {p["name"] for p in service["spec"]["ports"]}


def test_keda_scales_the_worker_on_the_job_queue(
    resources: dict[tuple[str, str], dict[str, Any]],
) -> None:
    scaled = resources[("ScaledObject", "image-import-worker")]
    assert scaled["apiVersion"] == KEDA_API
    spec = scaled["spec"]
    assert set(spec) <= SCALED_OBJECT_SPEC
    assert set(spec["scaleTargetRef"]) <= SCALE_TARGET_REF
    assert spec["scaleTargetRef"]["name"] == "image-import-worker"
    assert spec["scaleTargetRef"].get("kind", "Deployment") == "Deployment"
    assert ("Deployment", spec["scaleTargetRef"]["name"]) in resources
    # KEDA (through its HPA) owns the worker's replica count.
    assert "replicas" not in resources[("Deployment", "image-import-worker")]["spec"]
    for field in ("pollingInterval", "cooldownPeriod", "minReplicaCount", "maxReplicaCount"):
        assert isinstance(spec[field], int)
    assert 1 <= spec["minReplicaCount"] <= spec["maxReplicaCount"]

    (trigger,) = spec["triggers"]
    assert set(trigger) <= TRIGGER_FIELDS
    assert trigger["type"] == "postgresql"
    metadata = trigger["metadata"]
    assert set(metadata) <= POSTGRESQL_METADATA
    assert {"query", "targetQueryValue"} <= set(metadata)
    # KEDA's trigger metadata is a map of strings.
    assert all(isinstance(value, str) for value in metadata.values())
    assert float(metadata["targetQueryValue"]) > 0
    assert "procrastinate_jobs" in metadata["query"]

    auth = resources[("TriggerAuthentication", trigger["authenticationRef"]["name"])]
    assert auth["apiVersion"] == KEDA_API
    assert set(auth["spec"]) == {"secretTargetRef"}
    secret = resources[("Secret", "image-import-secrets")]["stringData"]
    (ref,) = auth["spec"]["secretTargetRef"]
    assert set(ref) == {"parameter", "name", "key"}
    assert ref["parameter"] in POSTGRESQL_AUTH_PARAMETERS
    assert (ref["parameter"], ref["name"], ref["key"] in secret) == (
        "connection",
        "image-import-secrets",
        True,
    )
