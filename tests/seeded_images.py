"""Images stored as an import of the previous version left them: objects in the bucket and rows
in the catalogue without derivatives (`missing`). The Drive emulator serves bytes that only
look like images, so tests that need real pictures put them in place this way, then let the
backfill queue their derivatives and the real worker make them."""

import subprocess
import sys
import time
import uuid

from tests.conftest import Stack
from tests.image_files import ImageFile


def seed_images(
    stack: Stack, files: list[ImageFile], *, import_status: str = "completed"
) -> tuple[str, dict[str, str]]:
    """Store `files` under an import of their own; (import id, name → image id)."""
    client = stack.s3.client()
    ids: dict[str, str] = {}
    with stack.db() as db:
        (import_id,) = db.execute(
            """
            INSERT INTO imports (source, source_url, folder_id, locator, status, started_at,
                                 finished_at)
            VALUES ('google_drive', 'https://drive.google.com/drive/folders/seeded', %(folder)s,
                    jsonb_build_object('folder_id', %(folder)s::text), %(status)s, now(),
                    CASE WHEN %(status)s = 'running' THEN NULL ELSE now() END)
            RETURNING id::text
            """,
            {"folder": f"seeded-{uuid.uuid4().hex[:12]}", "status": import_status},
        ).fetchone()
        for file in files:
            file_id = f"seeded-{uuid.uuid4().hex}"
            key = f"google_drive/{file_id}"
            client.put_object(
                Bucket=stack.bucket, Key=key, Body=file.data, ContentType=file.mime_type
            )
            (image_id,) = db.execute(
                """
                INSERT INTO images (source, source_file_id, import_id, name, mime_type, size,
                                    storage_key, storage_path, derivative_state)
                VALUES ('google_drive', %s, %s, %s, %s, %s, %s, %s, 'missing')
                RETURNING id::text
                """,
                (
                    file_id,
                    import_id,
                    file.name,
                    file.mime_type,
                    len(file.data),
                    key,
                    f"s3://{stack.bucket}/{key}",
                ),
            ).fetchone()
            ids[file.name] = image_id
    return import_id, ids


def run_backfill(stack: Stack, *args: str) -> int:
    """`python -m worker.derivatives.backfill` against the stack; how many images it queued."""
    done = subprocess.run(
        [sys.executable, "-m", "worker.derivatives.backfill", *args],
        env=stack.env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    words = done.stdout.split()
    return int(words[words.index("for") + 1])


def wait_for_derivatives(stack: Stack, image_ids: list[str], timeout: float = 90) -> None:
    """Until none of the images is waiting for its derivatives."""
    deadline = time.monotonic() + timeout
    with stack.db() as db:
        while True:
            (waiting,) = db.execute(
                "SELECT count(*) FROM images WHERE id = ANY(%s::uuid[])"
                " AND derivative_state IN ('requested', 'pending', 'missing')",
                (image_ids,),
            ).fetchone()
            if not waiting:
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"{waiting} images still wait for derivatives")
            time.sleep(0.2)
