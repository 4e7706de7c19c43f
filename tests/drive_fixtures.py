"""The Drive folders the test suite imports, described for the emulator."""

from typing import Any

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
        {
            "name": "small",
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
        },
        {"name": "empty"},
    ],
}
