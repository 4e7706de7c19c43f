"""render.yaml is a Render Blueprint as Render's Blueprint reference
(https://render.com/docs/blueprint-spec) describes it: known service types and fields, the
required ones present, every environment variable in one of the documented shapes and wired to
something that exists, and every secret left for the dashboard (`sync: false`)."""

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]

# From the Blueprint reference.
ROOT_FIELDS = {"services", "databases", "envVarGroups", "projects", "ungrouped", "previews"}
SERVICE_TYPES = {"web", "pserv", "worker", "cron", "keyvalue", "redis"}
RUNTIMES = {"node", "python", "elixir", "go", "ruby", "rust", "docker", "image", "static"}
SERVICE_FIELDS = {
    "name", "type", "runtime", "plan", "previews", "buildCommand", "startCommand", "schedule",
    "preDeployCommand", "region", "repo", "branch", "autoDeployTrigger", "autoDeploy", "domains",
    "healthCheckPath", "maxShutdownDelaySeconds", "dockerCommand", "dockerfilePath",
    "dockerContext", "registryCredential", "image", "numInstances", "scaling", "buildFilter",
    "rootDir", "disk", "envVars", "staticPublishPath", "headers", "routes", "ipAllowList",
    "maxmemoryPolicy", "previewPlan",
}  # fmt: skip
DATABASE_FIELDS = {
    "name", "plan", "previewPlan", "diskSizeGB", "previewDiskSizeGB", "region", "ipAllowList",
    "postgresMajorVersion", "databaseName", "user", "readReplicas", "highAvailability",
}  # fmt: skip
DATABASE_PLANS = {
    "free", "basic-256mb", "basic-1gb", "basic-4gb", "pro-4gb", "pro-8gb", "pro-16gb",
    "pro-32gb", "pro-64gb", "pro-128gb", "pro-192gb", "pro-256gb", "pro-384gb", "pro-512gb",
}  # fmt: skip
DATABASE_PROPERTIES = {"connectionString", "host", "port", "user", "password", "database"}
SERVICE_PROPERTIES = {"host", "port", "hostport", "connectionString"}
SECRET_NAME = re.compile(r"(SECRET|PASSWORD|TOKEN|_KEY\b|_KEY_ID\b|DATABASE_URL)")

S3_SETTINGS = {"S3_ENDPOINT_URL", "S3_BUCKET", "AWS_REGION", "AWS_ACCESS_KEY_ID"}
S3_SETTINGS |= {"AWS_SECRET_ACCESS_KEY"}
SOURCE_CREDENTIALS = {"GOOGLE_API_KEY", "DROPBOX_ACCESS_TOKEN", "DROPBOX_APP_KEY"}
SOURCE_CREDENTIALS |= {"DROPBOX_APP_SECRET"}


@pytest.fixture(scope="module")
def blueprint() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((REPO / "render.yaml").read_text())
    return loaded


def services_by_name(blueprint: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {service["name"]: service for service in blueprint["services"]}


def env_shape(item: dict[str, Any]) -> str:
    """Which of the documented envVars shapes an item has; fails on anything else."""
    keys = set(item)
    shapes = {
        "value": {"key", "value"},
        "generateValue": {"key", "generateValue"},
        "sync": {"key", "sync"},
        "fromDatabase": {"key", "fromDatabase"},
        "fromService": {"key", "fromService"},
        "fromGroup": {"fromGroup"},
    }
    for shape, fields in shapes.items():
        if keys == fields:
            return shape
    raise AssertionError(f"not a documented envVars shape: {item}")


def test_blueprint_has_only_documented_fields(blueprint: dict[str, Any]) -> None:
    assert set(blueprint) <= ROOT_FIELDS
    names = [service["name"] for service in blueprint["services"]]
    names += [database["name"] for database in blueprint["databases"]]
    assert len(names) == len(set(names)), "names must be unique"
    for service in blueprint["services"]:
        assert set(service) <= SERVICE_FIELDS, set(service) - SERVICE_FIELDS
        assert service["type"] in SERVICE_TYPES
        if service["type"] not in {"keyvalue", "redis"}:
            assert service["runtime"] in RUNTIMES
        if service["runtime"] not in {"docker", "image"}:
            assert {"buildCommand", "startCommand"} <= set(service)
        if "healthCheckPath" in service or "domains" in service:
            assert service["type"] == "web"
        if "maxShutdownDelaySeconds" in service:
            assert 1 <= service["maxShutdownDelaySeconds"] <= 300
    for database in blueprint["databases"]:
        assert set(database) <= DATABASE_FIELDS
        assert database["plan"] in DATABASE_PLANS
        assert isinstance(database.get("postgresMajorVersion", ""), str)


def test_the_services_are_the_api_and_web_as_web_services_and_the_worker(
    blueprint: dict[str, Any],
) -> None:
    services = services_by_name(blueprint)
    assert {name: s["type"] for name, s in services.items()} == {
        "image-import-api": "web",
        "image-import-worker": "worker",
        "image-import-web": "web",
    }
    for name, folder in (("api", "api"), ("worker", "worker"), ("web", "web")):
        service = services[f"image-import-{name}"]
        assert service["runtime"] == "docker"
        assert service["dockerfilePath"] == f"./{folder}/Dockerfile"
        assert (REPO / service["dockerfilePath"]).is_file()
        assert (REPO / service["dockerContext"]).is_dir()
    for name, health in (("image-import-api", "/readyz"), ("image-import-web", "/healthz")):
        service = services[name]
        assert service["healthCheckPath"] == health
        # Render tells a web service its port in $PORT; the image's command listens on it.
        assert "dockerCommand" not in service
        cmd = (REPO / service["dockerfilePath"]).read_text().splitlines()[-1]
        assert cmd.startswith("CMD") and "--port ${PORT" in cmd


def test_migrations_run_before_each_api_deploy(blueprint: dict[str, Any]) -> None:
    api = services_by_name(blueprint)["image-import-api"]
    assert api["preDeployCommand"] == "migrate"
    # The api image carries the `migrate` command.
    assert "--package image-import-migrations" in (REPO / "api/Dockerfile").read_text()


def test_env_vars_have_documented_shapes_and_point_at_what_exists(
    blueprint: dict[str, Any],
) -> None:
    services = services_by_name(blueprint)
    databases = {database["name"] for database in blueprint["databases"]}
    groups = {group["name"]: group for group in blueprint.get("envVarGroups", [])}
    for service in blueprint["services"]:
        for item in service.get("envVars", []):
            shape = env_shape(item)
            if shape == "sync":
                assert item["sync"] is False
            elif shape == "fromDatabase":
                ref = item["fromDatabase"]
                assert set(ref) == {"name", "property"}
                assert ref["name"] in databases
                assert ref["property"] in DATABASE_PROPERTIES
            elif shape == "fromService":
                ref = item["fromService"]
                assert set(ref) in ({"name", "type", "property"}, {"name", "type", "envVarKey"})
                target = services[ref["name"]]
                assert ref["type"] == target["type"]
                if "property" in ref:
                    assert ref["property"] in SERVICE_PROPERTIES
                else:
                    assert ref["envVarKey"] in keys_of(target), ref
            elif shape == "fromGroup":
                assert item["fromGroup"] in groups
    for group in groups.values():
        assert set(group) == {"name", "envVars"}
        for item in group["envVars"]:
            # Render ignores sync: false and references inside a group.
            assert env_shape(item) in {"value", "generateValue"}, item


def keys_of(service: dict[str, Any]) -> set[str]:
    return {item["key"] for item in service.get("envVars", []) if "key" in item}


def test_the_database_and_secrets_are_wired_and_no_secret_is_written_down(
    blueprint: dict[str, Any],
) -> None:
    services = services_by_name(blueprint)
    (database,) = blueprint["databases"]
    for name in ("image-import-api", "image-import-worker"):
        (url,) = [i for i in services[name]["envVars"] if i.get("key") == "DATABASE_URL"]
        assert url["fromDatabase"] == {"name": database["name"], "property": "connectionString"}

    def secret_source(service: dict[str, Any], key: str) -> dict[str, Any]:
        (item,) = [i for i in service["envVars"] if i.get("key") == key]
        if "fromService" in item:  # a copy of another service's secret
            return secret_source(
                services[item["fromService"]["name"]], item["fromService"]["envVarKey"]
            )
        return item

    api, worker = services["image-import-api"], services["image-import-worker"]
    for key in S3_SETTINGS:
        assert secret_source(api, key) == {"key": key, "sync": False}
        assert secret_source(worker, key) == {"key": key, "sync": False}
    for key in SOURCE_CREDENTIALS:
        assert secret_source(worker, key) == {"key": key, "sync": False}
    assert keys_of(services["image-import-web"]) >= {"API_URL"}
    for service in blueprint["services"]:
        for item in service.get("envVars", []):
            if SECRET_NAME.search(item.get("key", "")):
                assert "value" not in item, f"{service['name']}: {item['key']} is written down"
