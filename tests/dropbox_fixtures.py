"""The Dropbox shared folders the test suite imports, described for the emulator.

Each test module has its own database, so the credentialed and the key-less end-to-end modules
can import the same folders; within a module, a folder imported twice counts its images as
unchanged the second time, so each test imports a folder of its own unless it tests just that.
"""

from typing import Any

from litestar.testing import AsyncTestClient

DROPBOX_TOKEN = "test-dropbox-token"
LINK_PASSWORD = "open sesame"

UNICODE_NAMES = ["Fête à Noël 🎄.jpg", "日本語の写真.png", "Ελληνικά.gif", "tab\there.jpg"]

# 1,000+ images over three levels, unicode names, non-images, a cloud document, an empty image,
# a file over one 4 MiB content-hash block, and folders whose listing pages come short or empty.
NESTED: dict[str, Any] = {
    "name": "nested",
    "files": [
        {"name_pattern": "IMG_{i:04d}.jpg", "count": 300, "size": [200, 1500]},
        *({"name": name, "size": 700} for name in UNICODE_NAMES),
        {"name": "empty.png", "size": 0},
        {"name": "panorama.png", "size": "4.5MiB"},
        {"name": "README.txt", "size": 300},
        {"name": "clip.mp4", "size": 2000},
        {"name": "Trip plan.paper", "is_downloadable": False, "size": 0},
    ],
    "folders": [
        {
            "name": "2023",
            "short_pages": [1, 0.5, 0],
            "files": [{"name_pattern": "p_{i:03d}.png", "count": 400, "size": [200, 1500]}],
            "folders": [
                {
                    "name": "summer",
                    "files": [
                        {"name_pattern": "s_{i:03d}.webp", "count": 250, "size": [200, 1500]}
                    ],
                }
            ],
        },
        {
            "name": "2024",
            "files": [{"name_pattern": "w_{i:03d}.gif", "count": 100, "size": [200, 1500]}],
            "folders": [
                {
                    "name": "日本語 フォルダ",
                    "files": [{"name_pattern": "j_{i:02d}.jpg", "count": 20, "size": 900}],
                },
                {"name": "nothing here"},
            ],
        },
    ],
}
NESTED_IMAGES = 300 + len(UNICODE_NAMES) + 2 + 400 + 250 + 100 + 20  # 1,076
NESTED_SKIPPED = 3  # README.txt, clip.mp4, Trip plan.paper


def small_folder(name: str, **extra: Any) -> dict[str, Any]:
    """A few images, a non-image and a subfolder."""
    return {
        "name": name,
        "files": [
            {"name_pattern": "photo_{i}.jpg", "count": 4, "size": [1000, 3000]},
            {"name": "notes.txt", "size": 200},
        ],
        "folders": [{"name": "sub", "files": [{"name": "deep.png", "size": 1500}]}],
        **extra,
    }


TEST_DROPBOX_SPEC: dict[str, Any] = {
    "seed": 23,
    "folders": [
        NESTED,
        small_folder("legacy", link="sh"),
        small_folder("protected", password=LINK_PASSWORD),
        small_folder("small"),
        small_folder("unauthorised"),
        {"name": "limited", "files": [{"name_pattern": "r_{i:03d}.jpg", "count": 120}]},
        {"name": "too big", "files": [{"name_pattern": "b_{i:03d}.jpg", "count": 30}]},
        {"name": "empty"},
    ],
}


async def start_dropbox_import(api: AsyncTestClient[Any], url: str, **options: Any) -> str:
    response = await api.post("/import/dropbox", json={"url": url, **options})
    assert response.status_code == 202, response.text
    import_id: str = response.json()["import_id"]
    return import_id
