"""Running the operators' files in migrations/ops/ the way an operator does: with psql."""

import csv
import io
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

OPS_DIR = Path(__file__).resolve().parents[2] / "migrations" / "ops"


@dataclass(frozen=True)
class PsqlRun:
    returncode: int
    rows: list[dict[str, str]]
    stderr: str


def psql_path() -> str:
    found = shutil.which("psql")
    if found is None:
        raise RuntimeError(
            "psql is not installed: the operators' queries are tested with the real client"
            " (Debian package postgresql-client)"
        )
    return found


def run_ops_file(database_url: str, name: str, **variables: object) -> PsqlRun:
    """`psql -v name=value ... -f migrations/ops/<name>`, its one result set read as CSV.
    -X leaves out any ~/.psqlrc, so the output is the file's alone."""
    command = [psql_path(), database_url, "-X", "--csv"]
    for key, value in variables.items():
        command += ["-v", f"{key}={value}"]
    command += ["-f", str(OPS_DIR / name)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    rows = list(csv.DictReader(io.StringIO(done.stdout))) if done.stdout.strip() else []
    return PsqlRun(done.returncode, rows, done.stderr)


def ops(database_url: str, name: str, **variables: object) -> list[dict[str, str]]:
    """The rows of an ops file that must succeed."""
    run = run_ops_file(database_url, name, **variables)
    assert run.returncode == 0, f"{name} failed ({run.returncode}): {run.stderr}"
    return run.rows


def seconds(interval: str) -> float:
    """psql's text form of a short interval (`00:10:02`, `1 day 02:00:00`) in seconds."""
    days = 0
    if " day" in interval:
        count, _, interval = interval.partition(" day")
        days = int(count)
        interval = interval.lstrip("s ").strip()
    hours, minutes, secs = interval.split(":")
    return days * 86400 + int(hours) * 3600 + int(minutes) * 60 + float(secs)
