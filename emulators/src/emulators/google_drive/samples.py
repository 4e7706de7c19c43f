"""Built-in fixtures: the `sample` demo folder and a bulk folder for load tests."""

from __future__ import annotations

from typing import Any

SAMPLE_ROOT = "Holiday photos"
BULK_FOLDER = "bulk"


def bulk_folder_spec(count: int, name: str = BULK_FOLDER) -> dict[str, Any]:
    """One folder of `count` small JPEGs, cheap enough to list and hash by the hundred thousand."""
    return {
        "name": name,
        "files": [
            {
                "name_pattern": "IMG_{i:06d}.jpg",
                "count": count,
                "mime_type": "image/jpeg",
                "size": [200, 4000],
            }
        ],
    }


def sample_spec(extra_files: int = 0, seed: int = 0) -> dict[str, Any]:
    """About 60 images in two subfolders plus the awkward cases a real share contains."""
    summer = {
        "name": "2023 Summer",
        "files": [
            {
                "name_pattern": "IMG_{i:04d}.jpg",
                "count": 30,
                "mime_type": "image/jpeg",
                "size": [40_000, 400_000],
            },
            {"name": "panorama.png", "size": "2.5MB"},
        ],
    }
    winter = {
        "name": "2024 Winter",
        "files": [
            {"name_pattern": "snow-{i:02d}.png", "count": 14, "size": [20_000, 300_000]},
            {"name_pattern": "ski-{i:02d}.webp", "count": 8, "size": [10_000, 120_000]},
            {"name_pattern": "sledge-{i:02d}.gif", "count": 2, "size": [5_000, 60_000]},
            {"name": "IMG_0001.jpg", "size": 150_000},  # same name as in "2023 Summer"
        ],
    }
    old_share = {
        "name": "Old share (needs resource key)",
        "resource_key": True,
        "files": [
            {"name": "old-1.jpg", "size": 80_000},
            {"name": "old-2.jpg", "size": 90_000, "resource_key": True},
        ],
    }
    root: dict[str, Any] = {
        "name": SAMPLE_ROOT,
        "folders": [summer, winter, old_share],
        "files": [
            {"name": "<img src=x onerror=alert(1)>.png", "size": 12_345},
            {"name": "Fête à Noël 🎄.jpg", "size": 64_000},
            {"name": "日本語の写真.png", "size": 48_000},
            {"name": "Ελληνικά.gif", "size": 9_000},
            {"name": "\"quotes\" & 'apostrophes'.jpg", "size": 7_000},
            {"name": "empty.jpg", "size": 0},
            {"name": "deleted.jpg", "size": 30_000, "trashed": True},
            {"name": "flagged.jpg", "size": 25_000, "abusive": True},
            {"name": "README.txt", "size": 1_200},
            {"name": "itinerary.pdf", "size": 85_000},
            {"name": "clip.mp4", "size": 900_000},
            {"name": "Trip plan", "mime_type": "application/vnd.google-apps.document"},
            {"name": "Budget", "mime_type": "application/vnd.google-apps.spreadsheet"},
            {"name": "best shot.jpg", "shortcut_to": [SAMPLE_ROOT, "2023 Summer", "IMG_0007.jpg"]},
            {"name": "Winter folder", "shortcut_to": [SAMPLE_ROOT, "2024 Winter"]},
            {"name": "gone.jpg", "shortcut_to_id": "1DanglingShortcutTargetXXXXXXXXXX"},
        ],
    }
    if extra_files:
        root["folders"].append(bulk_folder_spec(extra_files))
    return {"seed": seed, "folders": [root]}
