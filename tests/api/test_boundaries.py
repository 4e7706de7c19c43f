"""The API takes only declarations from the worker's package: the source registry, the task
names, the notify_url address policy and the pools' connection check, never a connector, the
pipeline or the storage client."""

import json
import subprocess
import sys


def test_the_api_imports_the_registry_and_task_names_but_no_worker_code() -> None:
    loaded = subprocess.run(
        [
            sys.executable,
            "-c",
            "import json, sys; import api.app; "
            "print(json.dumps(sorted(m for m in sys.modules if m.startswith('worker'))))",
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    modules = set(json.loads(loaded.stdout.strip().splitlines()[-1]))
    assert modules <= {
        "worker",
        "worker.connection_check",
        "worker.sources",
        "worker.sources.base",
        "worker.sources.registry",
        "worker.sources.specs",
        "worker.sources.specs.dropbox",
        "worker.sources.specs.google_drive",
        "worker.sources.specs.links",
        "worker.task_names",
        "worker.webhook_urls",
    }, modules
