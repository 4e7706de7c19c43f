"""Who may import whom: the api and the worker are two entry points into the shared `domain`
package and never import each other; `domain` imports neither; the web talks to the api over
HTTP only. Checked on what a fresh interpreter really loads, not on the source text."""

import json
import subprocess
import sys

import pytest

SERVICES = ("domain", "api", "worker", "web", "migrate")
# What each entry point may load of the project's packages (besides itself).
ALLOWED = {
    "domain": set(),
    "api": {"domain"},
    "worker": {"domain"},
    "web": set(),
}
ENTRY_POINTS = {
    "domain": "import domain.sources.registry, domain.task_names, domain.db, "
    "domain.address_policy, domain.webhooks.address_policy; "
    "domain.sources.registry.load_registry()",
    "api": "import api.app",
    "worker": "import worker.__main__, worker.tasks",
    "web": "import web.app",
}
# Image decoders stay in the worker: the api's image holds none of them.
DECODERS = ("PIL", "pillow_heif")


def loaded_modules(code: str) -> set[str]:
    shown = subprocess.run(
        [
            sys.executable,
            "-c",
            f"import json, sys; {code}; print(json.dumps(sorted(sys.modules)))",
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    return set(json.loads(shown.stdout.strip().splitlines()[-1]))


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_a_package_loads_only_the_project_packages_it_may(package: str) -> None:
    modules = loaded_modules(ENTRY_POINTS[package])
    others = {m.split(".")[0] for m in modules} & (set(SERVICES) - {package})
    assert others <= ALLOWED[package], sorted(m for m in modules if m.split(".")[0] in others)


def test_the_api_loads_no_image_decoder() -> None:
    modules = loaded_modules(ENTRY_POINTS["api"])
    assert not {m for m in modules if m.split(".")[0] in DECODERS}
