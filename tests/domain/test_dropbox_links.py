import pytest

from domain.sources.dropbox import DropboxFolder, parse_link
from domain.sources.registry import InvalidLink

SCL_ID, SCL_KEY, RLKEY = (
    "4y8m1ykw2ebc8hz7mnhc6",
    "AKmx3dCsbLq_Jmj-9ZN8rW0",
    "x9v2tq8s0o1x5l3bq4mz1y7tq",
)
SH_ID, SH_HASH = "abxtgdx860hb680", "AAcM-rvYowI4kmOx0LiF5YFxU"
SCL = f"https://www.dropbox.com/scl/fo/{SCL_ID}/{SCL_KEY}"
SH = f"https://www.dropbox.com/sh/{SH_ID}/{SH_HASH}"


@pytest.mark.parametrize(
    "query",
    [
        f"?rlkey={RLKEY}&dl=0",
        f"?rlkey={RLKEY}",
        f"?rlkey={RLKEY}&dl=1",
        f"?rlkey={RLKEY}&st=8kqzv1ab&dl=0",
        f"?rlkey={RLKEY}&e=1&st=8kqzv1ab&dl=0",
        f"?dl=0&rlkey={RLKEY}",
    ],
)
def test_the_current_folder_link_form_gives_its_id_and_keeps_its_parameters(query: str) -> None:
    assert parse_link(SCL + query) == DropboxFolder(f"scl/fo/{SCL_ID}/{SCL_KEY}", SCL + query)


@pytest.mark.parametrize("query", ["?dl=0", "", "?dl=1", "?st=8kqzv1ab&dl=0", "?e=1"])
def test_the_legacy_folder_link_form_gives_its_id_and_keeps_its_parameters(query: str) -> None:
    assert parse_link(SH + query) == DropboxFolder(f"sh/{SH_ID}/{SH_HASH}", SH + query)


@pytest.mark.parametrize(
    "pasted",
    [
        f"  {SH}?dl=0  ",
        f"http://www.dropbox.com/sh/{SH_ID}/{SH_HASH}?dl=0",
        f"https://dropbox.com/sh/{SH_ID}/{SH_HASH}?dl=0",
        f"www.dropbox.com/sh/{SH_ID}/{SH_HASH}?dl=0",
        f"https://www.dropbox.com/sh/{SH_ID}/{SH_HASH}/?dl=0",
        f"https://WWW.Dropbox.com/sh/{SH_ID}/{SH_HASH}?dl=0#fragment",
    ],
)
def test_links_are_called_on_www_dropbox_com_over_https(pasted: str) -> None:
    assert parse_link(pasted) == DropboxFolder(f"sh/{SH_ID}/{SH_HASH}", f"{SH}?dl=0")


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("", "url is empty"),
        ("   ", "url is empty"),
        (f"https://example.com/sh/{SH_ID}/{SH_HASH}", "not a Dropbox link"),
        (f"https://dl.dropboxusercontent.com/sh/{SH_ID}/{SH_HASH}", "not a Dropbox link"),
        (
            "https://drive.google.com/drive/folders/1AbCdEfGhIjKlMnOpQrStUvWxYz012345",
            "not a Dropbox link",
        ),
        (f"ftp://www.dropbox.com/sh/{SH_ID}/{SH_HASH}", "not a Dropbox link"),
        ("not a link at all", "not a Dropbox link"),
        ("https://www.dropbox.com/s/abc123xyz/photo.jpg?dl=0", "single Dropbox file"),
        (
            f"https://www.dropbox.com/scl/fi/{SCL_ID}/photo.jpg?rlkey={RLKEY}&dl=0",
            "single Dropbox file",
        ),
        ("https://www.dropbox.com/home/Photos", "not a Dropbox shared folder link"),
        ("https://www.dropbox.com/", "not a Dropbox shared folder link"),
        (f"https://www.dropbox.com/sh/{SH_ID}", "malformed Dropbox folder link"),
        (
            f"https://www.dropbox.com/sh/{SH_ID}/{SH_HASH}/IMG_1.jpg?dl=0",
            "malformed Dropbox folder link",
        ),
        (f"https://www.dropbox.com/sh/{SH_ID}/AA%3Cscript%3E", "malformed Dropbox folder link"),
        (f"https://www.dropbox.com/scl/fo/{SCL_ID}?rlkey={RLKEY}", "malformed Dropbox folder link"),
        (f"{SCL}?dl=0", "no rlkey parameter"),
        (f"{SCL}?rlkey=&dl=0", "no rlkey parameter"),
        (f"{SCL}?rlkey=a&rlkey=b", "no rlkey parameter"),
        (f"{SCL}?rlkey=%3Cx%3E", "its rlkey is not a valid key"),
    ],
)
def test_a_link_that_is_not_a_dropbox_folder_is_refused_with_a_reason(
    url: str, message: str
) -> None:
    with pytest.raises(InvalidLink, match=message):
        parse_link(url)
