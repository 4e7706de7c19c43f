"""Built-in fixtures: the `sample` demo folder (real photos: `make demo` imports show their
thumbnails, sizes and dates) and a bulk folder of synthetic bytes for load tests."""

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


# Pictures that appear more than once in the sample, as exact duplicates (the same bytes under
# another name or in another folder): one description, one picture.
BEACH = {"seed": 101, "taken_at": "2023-07-16T11:42:10", "camera": ["Apple", "iPhone 13"]}
SUNSET = {
    "seed": 102,
    "taken_at": "2023-07-18T20:55:31",
    "camera": ["Apple", "iPhone 13"],
    "orientation": 6,
    "width": 360,
    "height": 480,
}
IPHONE = ["Apple", "iPhone 13"]
CANON = ["Canon", "Canon EOS R6"]
IPHONE_15 = ["Apple", "iPhone 15 Pro"]
OLD_CAMERA_1 = {"taken_at": "2009-08-02T16:20:00", "camera": ["NIKON CORPORATION", "NIKON D90"]}
OLD_CAMERA_2 = {**OLD_CAMERA_1, "taken_at": "2009-08-02T16:24:31", "orientation": 6}


def sample_spec(extra_files: int = 0, seed: int = 0) -> dict[str, Any]:
    """About 60 real photos (see `emulators.common.pictures`: JPEGs with EXIF dates, cameras
    and orientations, PNGs, WebPs, animated GIFs, HEICs, a few exact duplicates) in nested
    folders, plus the awkward cases a real share contains. A bulk folder, if asked for, keeps
    synthetic bytes: cheap by the hundred thousand."""
    summer = {
        "name": "2023 Summer",
        "files": [
            {
                "name_pattern": "IMG_{i:04d}.jpg",
                "count": 24,
                "picture": {"taken_at": "2023-07-14T09:30:00", "camera": IPHONE},
            },
            {
                # Portraits, stored turned as phones store them: EXIF orientation 6 and 8.
                "name_pattern": "IMG_{i:04d}.jpg",
                "start": 25,
                "count": 3,
                "picture": {
                    "taken_at": "2023-07-15T18:05:00",
                    "camera": IPHONE,
                    "orientation": 6,
                    "width": 360,
                    "height": 480,
                },
            },
            {
                "name_pattern": "IMG_{i:04d}.jpg",
                "start": 28,
                "count": 2,
                "picture": {"taken_at": "2023-07-16T07:12:00", "camera": IPHONE, "orientation": 8},
            },
            {
                "name": "IMG_0030.jpg",
                "picture": {"taken_at": "2023-07-16T08:01:00", "camera": IPHONE, "orientation": 3},
            },
            {"name": "beach.jpg", "picture": BEACH},
            {"name": "sunset.jpg", "picture": SUNSET},
            {
                "name": "panorama.png",
                "picture": {
                    "width": 960,
                    "height": 320,
                    "taken_at": "2023-07-17T13:20:45",
                    "camera": ["Google", "Pixel 8"],
                },
            },
        ],
    }
    winter = {
        "name": "2024 Winter",
        "files": [
            {
                "name_pattern": "snow-{i:02d}.png",
                "count": 12,
                "picture": {"taken_at": "2024-01-20T10:00:00", "camera": CANON},
            },
            {
                "name_pattern": "ski-{i:02d}.webp",
                "count": 8,
                "picture": {"taken_at": "2024-01-21T11:15:00", "camera": CANON},
            },
            {"name_pattern": "sledge-{i:02d}.gif", "count": 2, "picture": {"frames": 4}},
            {
                # Same name as in "2023 Summer", another picture.
                "name": "IMG_0001.jpg",
                "picture": {"taken_at": "2024-01-22T15:30:12", "camera": IPHONE, "orientation": 6},
            },
            {
                "name": "IMG_2041.heic",
                "picture": {"taken_at": "2024-01-23T09:41:00", "camera": IPHONE_15},
            },
            {
                "name": "IMG_2042.heic",
                "picture": {
                    "taken_at": "2024-01-23T09:42:30",
                    "camera": IPHONE_15,
                    "width": 360,
                    "height": 480,
                },
            },
        ],
    }
    favourites = {
        "name": "Favourites",
        "files": [
            {"name": "beach.jpg", "picture": BEACH},  # the same bytes as 2023 Summer/beach.jpg
            {"name": "Sunset on the last day.jpg", "picture": SUNSET},
        ],
    }
    old_share = {
        "name": "Old share (needs resource key)",
        "resource_key": True,
        "files": [
            {"name": "old-1.jpg", "picture": OLD_CAMERA_1},
            {"name": "old-2.jpg", "picture": OLD_CAMERA_2, "resource_key": True},
        ],
    }
    root: dict[str, Any] = {
        "name": SAMPLE_ROOT,
        "folders": [summer, winter, favourites, old_share],
        "files": [
            {"name": "<img src=x onerror=alert(1)>.png", "picture": True},
            {
                "name": "Fête à Noël 🎄.jpg",
                "picture": {"taken_at": "2023-12-24T19:03:44", "camera": IPHONE, "orientation": 8},
            },
            {"name": "日本語の写真.png", "picture": {"taken_at": "2024-04-02T14:10:00"}},
            {"name": "Ελληνικά.gif", "picture": {"frames": 3}},
            {"name": "\"quotes\" & 'apostrophes'.jpg", "picture": True},
            {"name": "beach (1).jpg", "picture": BEACH},  # a third copy, under another name
            {"name": "deleted.jpg", "picture": True, "trashed": True},
            {"name": "flagged.jpg", "picture": True, "abusive": True},
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
