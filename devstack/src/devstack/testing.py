"""Throwaway servers for test suites: free ports, data under a temp dir, tuned for speed.

The caller owns the returned server and must `stop()` it (e.g. in a session fixture's
teardown). Server output goes to `<tmp_dir>/postgres.log` and `<tmp_dir>/s3.log`.
"""

from pathlib import Path

from devstack.ports import free_port
from devstack.postgres import EmbeddedPostgres
from devstack.s3 import EmbeddedS3

TEST_ACCESS_KEY = "testaccess"
TEST_SECRET_KEY = "testsecret"


def start_postgres_for_tests(tmp_dir: Path) -> EmbeddedPostgres:
    # fsync off: several times faster, and a crash loses only throwaway data.
    postgres = EmbeddedPostgres(tmp_dir / "postgres", free_port(), fsync=False)
    postgres.start()
    return postgres


def start_s3_for_tests(tmp_dir: Path, bucket: str) -> EmbeddedS3:
    s3 = EmbeddedS3(
        tmp_dir / "s3",
        free_port(),
        TEST_ACCESS_KEY,
        TEST_SECRET_KEY,
        bucket,
        volume_size_limit_mb=64,
        # Every test module gets its own bucket, and each bucket its own volumes.
        max_volumes=400,
    )
    s3.start()
    return s3
