"""The Drive folders the test suite imports, described for the emulator.

Tests in one module share a database, and a folder imported twice counts its images as
unchanged the second time, so each test imports a folder of its own.
"""

from typing import Any


def mixed_folder(name: str) -> dict[str, Any]:
    """Images, a text file, a Google Doc, a 20 MB image (multipart) and a nested subfolder."""
    return {
        "name": name,
        "files": [
            {"name_pattern": "photo_{i:02d}.png", "count": 5, "size": [1000, 5000]},
            {"name": "notes.txt", "size": 300},
            {"name": "Trip plan", "mime_type": "application/vnd.google-apps.document"},
            {"name": "big.jpg", "size": "20MB"},
        ],
        "folders": [
            {
                "name": "nested",
                "files": [{"name_pattern": "deep_{i}.gif", "count": 2, "size": 1500}],
            }
        ],
    }


HOSTILE_NAMES = [
    "../../x.jpg",
    "a/b.jpg",
    "tab\there\nnewline.png",
    "<img src=x onerror=alert(1)>.png",
    "ünïcødé 写真 📷.jpg",
    "x" * 996 + ".jpg",
]

# Everything the importer must get right at once: depth, a 2,500-file folder over short and
# empty pages, shortcuts of every kind, natives, non-images, trashed files, duplicate and
# hostile names, a resource-keyed folder and file, and a shared-drive subtree.
TRICKY_TREE: dict[str, Any] = {
    "name": "tricky",
    "files": [
        {"name_pattern": "top_{i}.jpg", "count": 3, "size": [1000, 4000]},
        {"name": "same name.jpg", "size": 1200},
        {"name": "same name.jpg", "size": 1300},
        *({"name": name, "size": 900} for name in HOSTILE_NAMES),
        {"name": "in the bin.jpg", "trashed": True},
        {"name": "Budget", "mime_type": "application/vnd.google-apps.spreadsheet"},
        {"name": "clip.mp4", "size": 5000},
        {"name": "readme.pdf", "size": 800},
        {"name": "empty.png", "size": 0},
        {"name": "link to outside.jpg", "shortcut_to": "outside/target.jpg"},
        {"name": "link to level1 image.jpg", "shortcut_to": "tricky/level1/l1_1.jpg"},
        {"name": "link to outside folder", "shortcut_to": "outside/folder"},
        {
            "name": "gone.jpg",
            "shortcut_to_id": "1MissingMissingMissingMissingMiss",
            "target_mime_type": "image/jpeg",
        },
        {"name": "keyed.jpg", "resource_key": True, "size": 2000},
    ],
    "folders": [
        {
            "name": "level1",
            "files": [
                {"name_pattern": "l1_{i}.jpg", "count": 4, "size": [1000, 3000]},
                {"name": "back to the top", "shortcut_to": "tricky"},
            ],
            "folders": [
                {
                    "name": "level2",
                    "resource_key": True,
                    "files": [{"name_pattern": "l2_{i}.webp", "count": 3, "size": 2500}],
                    "folders": [
                        {
                            "name": "level3",
                            "files": [{"name_pattern": "l3_{i}.gif", "count": 2, "size": 1800}],
                        }
                    ],
                },
            ],
        },
        {
            "name": "crowded",
            "short_pages": [1, 0.3, 0, 0.7],
            "files": [{"name_pattern": "c_{i:04d}.jpg", "count": 2500, "size": [500, 1500]}],
        },
        {
            "name": "team drive",
            "shared_drive": True,
            "files": [{"name_pattern": "shared_{i}.png", "count": 2, "size": 1100}],
        },
    ],
}

OUTSIDE: dict[str, Any] = {
    "name": "outside",
    "files": [{"name": "target.jpg", "size": 3333}],
    "folders": [{"name": "folder", "files": [{"name_pattern": "o_{i}.png", "count": 3}]}],
}

TEST_DRIVE_SPEC: dict[str, Any] = {
    "seed": 11,
    "folders": [
        {
            # Several pages at pageSize=1000, some of them short or empty, as Drive may answer.
            "name": "thousand",
            "short_pages": [0.4, 0.25, 0, 1],
            "files": [
                {"name_pattern": "IMG_{i:05d}.jpg", "count": 1000, "size": [2000, 40000]},
            ],
        },
        *(mixed_folder(name) for name in ("mixed", "mixed_flat", "downloads", "reruns", "keyless")),
        {"name": "empty"},
        {
            # Named and typed as images; one of them is a PDF by its bytes.
            "name": "disguised",
            "files": [
                {"name_pattern": "real_{i}.jpg", "count": 2, "size": 1500},
                {"name": "scan.jpg", "size": 2000, "content_magic": "application/pdf"},
            ],
        },
        TRICKY_TREE,
        OUTSIDE,
        {
            "name": "keyed root",
            "resource_key": True,
            "files": [{"name_pattern": "kr_{i}.jpg", "count": 4, "size": 1500}],
        },
        {"name": "graceful", "files": [{"name_pattern": "g_{i:03d}.jpg", "count": 400}]},
        {"name": "retried", "files": [{"name_pattern": "r_{i:03d}.jpg", "count": 300}]},
        {
            # Tiny pages keep the listing busy long enough to kill a worker in the middle.
            "name": "interrupted",
            "short_pages": [0.01],
            "files": [{"name_pattern": "k_{i:04d}.jpg", "count": 1500, "size": [500, 2000]}],
        },
        {
            # tests/ops: two files Drive refuses for good, a skipped one, and images of which
            # the test makes some fail for a while (download quota) and then re-queues them.
            "name": "operated",
            "files": [
                {"name_pattern": "op_{i:02d}.jpg", "count": 20, "size": [1000, 9000]},
                {"name_pattern": "flagged_{i}.jpg", "count": 2, "size": 1500, "abusive": True},
                {"name": "readme.txt", "size": 200},
            ],
        },
        {
            # tests/e2e/test_transfer_batches: many batches from each page, and a file big
            # enough (at the tests' multipart threshold) to go in a batch of its own.
            "name": "batched",
            "files": [
                {"name_pattern": "b_{i:03d}.jpg", "count": 250, "size": [500, 3000]},
                {"name": "large.png", "size": "6MB"},
            ],
        },
        {
            # tests/ops: big enough to still be running when the test cancels it.
            "name": "to cancel",
            "files": [{"name_pattern": "x_{i:04d}.jpg", "count": 600, "size": [500, 1500]}],
        },
    ],
}


def small_folder(name: str, **extra: Any) -> dict[str, Any]:
    """Four images, a text file and a subfolder of two images."""
    return {
        "name": name,
        "files": [
            {"name_pattern": "pic_{i}.png", "count": 4, "size": [1000, 3000]},
            {"name": "notes.txt", "size": 200},
        ],
        "folders": [{"name": "sub", "files": [{"name_pattern": "sub_{i}.gif", "count": 2}]}],
        **extra,
    }


def failing_folder(name: str) -> dict[str, Any]:
    """Three images and two files Drive refuses to serve for good (flagged as abusive)."""
    return {
        "name": name,
        "files": [
            {"name_pattern": "ok_{i}.jpg", "count": 3, "size": [1000, 3000]},
            {"name_pattern": "flagged_{i}.jpg", "count": 2, "size": 1500, "abusive": True},
        ],
    }


def busy_folder(name: str) -> dict[str, Any]:
    """300 images: at the default pace of 100 requests a second, seconds of work."""
    return {"name": name, "files": [{"name_pattern": "b_{i:03d}.jpg", "count": 300, "size": 600}]}


# tests/curl: the curl scripts and the Postman collection, each on folders of their own.
TEST_DRIVE_SPEC["folders"] += [
    small_folder("curl photos"),
    small_folder("curl flat"),
    failing_folder("curl failing"),
    busy_folder("curl busy"),
    busy_folder("curl to cancel"),
    failing_folder("postman"),
    busy_folder("postman to cancel"),
]

# tests/api/test_syncs.py, tests/curl and the web's sync pages: folders synced, each its own.
TEST_DRIVE_SPEC["folders"] += [
    small_folder("sync api"),
    small_folder("sync api second"),
    small_folder("sync api deleted"),
    busy_folder("sync api busy"),
    small_folder("curl synced"),
    small_folder("postman synced"),
    small_folder("web synced"),
]

# tests/ops/test_sync_queries.py
TEST_DRIVE_SPEC["folders"] += [small_folder("ops synced")]

# tests/e2e/test_webhooks.py: a synced folder whose every run notifies.
TEST_DRIVE_SPEC["folders"] += [small_folder("webhook synced")]
# tests/web/test_syncs_pages.py: a folder for each test of the web's sync pages.
TEST_DRIVE_SPEC["folders"] += [
    small_folder("web synced twice"),
    small_folder("web synced buttons"),
    small_folder("web synced htmx"),
    small_folder("web synced gallery"),
]

# tests/e2e/test_drive_at_scale.py: transfers still running when a worker stops without grace.
TEST_DRIVE_SPEC["folders"] += [
    {"name": "cut short", "files": [{"name_pattern": "c_{i:03d}.jpg", "count": 120}]}
]
# tests/api/test_syncs.py: imported while the worker deletes the sync's removed images.
TEST_DRIVE_SPEC["folders"] += [small_folder("sync api removal")]

# tests/e2e/test_source_quotas.py: a file over its download quota, and a rate-limited folder.
TEST_DRIVE_SPEC["folders"] += [small_folder("quota popular"), busy_folder("quota rate limited")]

# tests/web/test_ops_console.py: a job aborted while it runs, and an import's failures requeued.
TEST_DRIVE_SPEC["folders"] += [
    small_folder("ops console abort"),
    failing_folder("ops console failing"),
]
