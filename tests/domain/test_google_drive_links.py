import pytest

from domain.sources.google_drive import GoogleDriveFolder, parse_link
from domain.sources.registry import InvalidLink

FOLDER_ID = "1AbCdEfGhIjKlMnOpQrStUvWxYz012345"


@pytest.mark.parametrize(
    "url",
    [
        f"https://drive.google.com/drive/folders/{FOLDER_ID}",
        f"https://drive.google.com/drive/folders/{FOLDER_ID}/",
        f"https://drive.google.com/drive/folders/{FOLDER_ID}?usp=sharing",
        f"https://drive.google.com/drive/folders/{FOLDER_ID}?usp=share_link",
        f"https://drive.google.com/drive/u/0/folders/{FOLDER_ID}",
        f"https://drive.google.com/drive/u/3/folders/{FOLDER_ID}?usp=drive_link",
        f"https://drive.google.com/drive/mobile/folders/{FOLDER_ID}",
        f"https://drive.google.com/open?id={FOLDER_ID}",
        f"https://docs.google.com/open?id={FOLDER_ID}",
        f"https://drive.google.com/folderview?id={FOLDER_ID}&usp=sharing",
        f"https://drive.google.com/embeddedfolderview?id={FOLDER_ID}#grid",
        f"https://drive.google.com/a/example.com/open?id={FOLDER_ID}",
        f"drive.google.com/drive/folders/{FOLDER_ID}",
        f"  https://drive.google.com/drive/folders/{FOLDER_ID}?fbclid=xyz  ",
        FOLDER_ID,
    ],
)
def test_every_common_folder_link_form_gives_the_folder_id(url: str) -> None:
    assert parse_link(url) == GoogleDriveFolder(FOLDER_ID, None)


def test_resource_key_is_read_from_the_link() -> None:
    link = parse_link(
        f"https://drive.google.com/drive/folders/{FOLDER_ID}?usp=sharing&resourcekey=0-WWs_XOSctfaY_0-sJBKRSQ"
    )
    assert link == GoogleDriveFolder(FOLDER_ID, "0-WWs_XOSctfaY_0-sJBKRSQ")


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("", "empty"),
        ("https://example.com/drive/folders/abc", "not a Google Drive link"),
        ("https://www.dropbox.com/sh/abc/def?dl=0", "not a Google Drive link"),
        (f"https://drive.google.com/file/d/{FOLDER_ID}/view", "single file"),
        (f"https://docs.google.com/document/d/{FOLDER_ID}/edit", "single file"),
        ("https://drive.google.com/open?id=", "no valid folder id"),
        ("https://drive.google.com/drive/my-drive", "no folder id"),
        ("ftp://drive.google.com/drive/folders/abc", "not a Google Drive link"),
        ("not a link at all", "not a Google Drive link"),
    ],
)
def test_a_link_that_is_not_a_drive_folder_is_refused_with_a_reason(url: str, message: str) -> None:
    with pytest.raises(InvalidLink, match=message):
        parse_link(url)
