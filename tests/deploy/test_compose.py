"""compose.yaml is a valid Compose file (the Compose specification's JSON schema, as shipped by
check-jsonschema) that runs the whole system: stores, a one-shot migrate the services wait for,
a scalable worker, healthchecks, and no secret in any image."""

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
SECRET_NAME = re.compile(r"(SECRET|PASSWORD|TOKEN|_KEY\b|_KEY_ID\b)")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((REPO / "compose.yaml").read_text())
    return loaded


def test_compose_file_follows_the_compose_specification() -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "check_jsonschema",
            "--builtin-schema",
            "vendor.compose-spec",
            str(REPO / "compose.yaml"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_compose_runs_every_part_of_the_system(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert {"postgres", "s3", "migrate", "api", "worker", "web"} <= set(services)
    assert services["postgres"]["image"].startswith("postgres:")
    assert services["s3"]["image"].startswith("minio/minio")
    for name in ("api", "worker", "web"):
        assert services[name]["build"] == {"context": ".", "dockerfile": f"{name}/Dockerfile"}
        assert (REPO / name / "Dockerfile").is_file()


def test_migrate_runs_once_and_the_services_wait_for_it(compose: dict[str, Any]) -> None:
    services = compose["services"]
    migrate = services["migrate"]
    assert migrate["command"] == ["migrate"]
    assert migrate["build"]["dockerfile"] == "api/Dockerfile"  # the image with `migrate` in it
    assert migrate.get("restart", "no") == "no"
    assert migrate["depends_on"]["postgres"] == {"condition": "service_healthy"}
    for name in ("api", "worker"):
        assert services[name]["depends_on"]["migrate"] == {
            "condition": "service_completed_successfully"
        }
    # The web reaches data only through the api, which waited for migrate.
    assert services["web"]["depends_on"]["api"] == {"condition": "service_healthy"}


def test_the_worker_can_be_scaled(compose: dict[str, Any]) -> None:
    worker = compose["services"]["worker"]
    assert "container_name" not in worker
    assert "ports" not in worker
    # Long enough for SHUTDOWN_GRACE_SECONDS (25 s) of graceful shutdown.
    assert worker["stop_grace_period"] == "30s"


def test_stores_and_http_services_have_healthchecks(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name in ("postgres", "s3", "api", "web"):
        assert services[name]["healthcheck"]["test"], name
    # The api is healthy once its database and bucket answer (the web waits for that).
    for name, health in (("api", "/readyz"), ("web", "/healthz")):
        assert any(health in part for part in services[name]["healthcheck"]["test"])


def test_no_secret_is_baked_into_an_image(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        build = service.get("build")
        if isinstance(build, dict):
            assert "args" not in build, f"{name} passes build args"
        environment = service.get("environment") or {}
        for key, value in environment.items():
            if SECRET_NAME.search(key):
                # Only from the environment (or .env) at run time, never a literal here.
                assert str(value).startswith("${"), f"{name}.{key} is a literal"
    for dockerfile in ("api/Dockerfile", "worker/Dockerfile", "web/Dockerfile"):
        text = (REPO / dockerfile).read_text()
        for line in text.splitlines():
            instruction = line.strip().split(" ", 1)[0].upper()
            if instruction in {"ENV", "ARG"}:
                assert not SECRET_NAME.search(line), f"{dockerfile}: {line}"
            if instruction == "COPY":
                # Only named folders and lock files go in, never the whole tree (or a .env).
                sources = line.split()[1:-1]
                assert "." not in sources and ".env" not in sources, f"{dockerfile}: {line}"
        assert "USER 10001" in text
