"""Which links are public buckets, and what each names: the endpoint, the bucket and the prefix
(a folder, always ending with `/`)."""

import pytest

from domain.sources.public_s3 import (
    AWS_ENDPOINT,
    GCS_ENDPOINT,
    PublicS3Folder,
    PublicS3Settings,
    check_bucket_host,
    parse_link,
)
from domain.sources.registry import InvalidLink, load_registry

AWS, GCS = AWS_ENDPOINT, GCS_ENDPOINT
OI = "open-images"
DOTTED = "my.dotted.bucket"
WASABI = "https://s3.wasabisys.com"
GCP = "gcp-public-data"
CONSOLE = "https://s3.console.aws.amazon.com/s3/buckets/open-images"
GCS_CONSOLE = "https://console.cloud.google.com/storage/browser"


@pytest.mark.parametrize(
    ("link", "endpoint", "bucket", "prefix", "region"),
    [
        ("s3://open-images/train/", AWS, OI, "train/", None),
        ("s3://open-images/train", AWS, OI, "train/", None),
        ("s3://open-images", AWS, OI, "", None),
        ("s3://open-images/100% real?/", AWS, OI, "100% real?/", None),
        (
            f"https://{OI}.s3.eu-west-1.amazonaws.com/a/b/",
            AWS_ENDPOINT,
            OI,
            "a/b/",
            "eu-west-1",
        ),
        ("https://open-images.s3.amazonaws.com/a%20b/", AWS, OI, "a b/", None),
        ("https://open-images.s3-us-west-2.amazonaws.com/", AWS, OI, "", "us-west-2"),
        (
            f"https://s3.us-east-2.amazonaws.com/{DOTTED}/x",
            AWS_ENDPOINT,
            DOTTED,
            "x/",
            "us-east-2",
        ),
        ("https://s3.amazonaws.com/open-images/train/", AWS, OI, "train/", None),
        (f"{CONSOLE}?region=us-east-1&prefix=train/", AWS, OI, "train/", "us-east-1"),
        (
            f"https://storage.googleapis.com/{GCP}/images/",
            GCS_ENDPOINT,
            GCP,
            "images/",
            None,
        ),
        (
            f"https://{GCP}.storage.googleapis.com/images",
            GCS_ENDPOINT,
            GCP,
            "images/",
            None,
        ),
        ("gs://gcp-public-data/images/", GCS, GCP, "images/", None),
        (f"{GCS_CONSOLE}/{GCP}/images", GCS, GCP, "images/", None),
        (
            "s3+https://s3.wasabisys.com/photos/2024/",
            "https://s3.wasabisys.com",
            "photos",
            "2024/",
            None,
        ),
        ("s3+http://127.0.0.1:8333/photos/", "http://127.0.0.1:8333", "photos", "", None),
    ],
)
def test_every_link_form_names_its_endpoint_bucket_and_folder(
    link: str, endpoint: str, bucket: str, prefix: str, region: str | None
) -> None:
    folder = parse_link(link)
    assert (folder.endpoint, folder.bucket, folder.prefix, folder.region) == (
        endpoint,
        bucket,
        prefix,
        region,
    )
    assert folder.folder_id == f"{endpoint.split('://')[1]}/{bucket}/{prefix}"
    assert folder.root().folder_id == folder.folder_id


def test_every_form_of_an_amazon_folder_is_one_folder() -> None:
    ids = {
        parse_link(link).folder_id
        for link in (
            "s3://open-images/train/",
            "https://open-images.s3.eu-west-1.amazonaws.com/train/",
            "https://s3.amazonaws.com/open-images/train",
        )
    }
    assert ids == {"s3.amazonaws.com/open-images/train/"}


def test_the_registry_gives_bucket_links_to_this_source_and_leaves_others_alone() -> None:
    registry = load_registry()
    for link in ("s3://a-bucket/x/", "https://storage.googleapis.com/a-bucket/"):
        assert registry.detect(link)[0].name == "public_s3"
    assert registry.detect("https://drive.google.com/drive/folders/1AbCdEfGhIjKlMnOp")[0].name == (
        "google_drive"
    )
    # A plain link to a host nobody named is not guessed to be a bucket: a Nextcloud share
    # looks like bucket `s`, and is the Nextcloud source's.
    assert registry.detect("https://cloud.example.org/s/abcdef")[0].name == "nextcloud"
    with pytest.raises(InvalidLink, match="not a folder link"):
        registry.detect("https://cloud.example.org/a-bucket/photos/")


def test_a_host_listed_in_public_s3_endpoints_takes_plain_links(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(
        "PUBLIC_S3_ENDPOINTS", "https://minio.example.org:9000/, https://s3.example.com"
    )
    registry = load_registry()
    spec, folder = registry.detect("https://minio.example.org:9000/photos/2024/")
    assert spec.name == "public_s3"
    assert folder == PublicS3Folder(
        "minio.example.org:9000/photos/2024/", "https://minio.example.org:9000", "photos", "2024/"
    )
    _, virtual = registry.detect("https://photos.s3.example.com/2024")
    assert (virtual.endpoint, virtual.bucket, virtual.prefix) == (
        "https://s3.example.com",
        "photos",
        "2024/",
    )


@pytest.mark.parametrize(
    ("link", "says"),
    [
        ("s3:///prefix/", "names no bucket"),
        ("s3://-bad-/x", "is not a bucket name"),
        ("s3+https:///b/x", "names no host"),
        ("https://s3.console.aws.amazon.com/s3/home", "S3 console"),
        ("s3://bucket/" + "k" * 1100, "longer than S3's 1024 bytes"),
        ("s3://bucket/a\x01b/", "control characters"),
    ],
)
def test_a_malformed_bucket_link_says_what_is_wrong(link: str, says: str) -> None:
    with pytest.raises(InvalidLink, match=says):
        parse_link(link)


def test_endpoints_that_are_not_base_urls_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PUBLIC_S3_ENDPOINTS", "https://s3.example.com/bucket")
    with pytest.raises(ValueError, match="is not a base URL"):
        PublicS3Settings()


async def test_the_api_s_check_resolves_a_named_endpoint_and_leaves_amazon_and_google_alone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with pytest.raises(
        InvalidLink,
        match=r"^refused: localhost resolves to .*, a loopback address; "
        r"PUBLIC_S3_ALLOWED_NETWORKS allows none$",
    ):
        await check_bucket_host(parse_link("s3+http://localhost:9000/photos/"))
    with pytest.raises(InvalidLink, match=r"^refused: 10\.1\.2\.3 is a private address"):
        await check_bucket_host(parse_link("s3+https://10.1.2.3/photos/"))
    # Public by name: no lookup (none would answer here).
    await check_bucket_host(parse_link("s3://open-images-dataset/validation/"))
    await check_bucket_host(parse_link("https://storage.googleapis.com/gcp-public-data/x/"))
    monkeypatch.setenv("PUBLIC_S3_ALLOWED_NETWORKS", "127.0.0.0/8,::1/128")
    await check_bucket_host(parse_link("s3+http://localhost:9000/photos/"))
