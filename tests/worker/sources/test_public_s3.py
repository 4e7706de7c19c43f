"""The public-bucket connector's own quirks (the contract is the conformance suite's): reading
S3's XML as servers send it, telling an MD5 ETag from a multipart one, classifying S3's
errors, and refusing hosts the address policy does not allow."""

import httpx
import pytest

from domain.address_policy import parse_networks
from domain.sources.public_s3 import parse_link
from tests.worker.conftest import guarded_source_client
from worker.pacing import NoPacing
from worker.sources.base import FolderUnavailable, ImportLink, TransientSourceError
from worker.sources.public_s3 import PublicS3Connector
from worker.sources.public_s3_errors import classify_error
from worker.sources.public_s3_objects import object_path
from worker.sources.public_s3_xml import ListedObject, parse_list_page

AMAZON_PAGE = b"""<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Name>photos</Name><Prefix>2024%2F</Prefix><KeyCount>3</KeyCount><MaxKeys>3</MaxKeys>
  <Delimiter>%2F</Delimiter><EncodingType>url</EncodingType><IsTruncated>true</IsTruncated>
  <Contents><Key>2024%2Fa+b%2Bc.jpg</Key><LastModified>2024-01-01T00:00:00.000Z</LastModified>
    <ETag>&quot;9E107D9D372BB6826BD81D3542A419D6&quot;</ETag><Size>12</Size>
    <StorageClass>STANDARD</StorageClass></Contents>
  <Contents><Key>2024%2Fbig.png</Key><ETag>"d41d8cd98f00b204e9800998ecf8427e-3"</ETag>
    <Size>15728640</Size></Contents>
  <CommonPrefixes><Prefix>2024%2Fsummer%2F</Prefix></CommonPrefixes>
  <NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=</NextContinuationToken>
</ListBucketResult>"""

# Google Cloud Storage's XML API: another namespace, and no EncodingType when not asked.
GOOGLE_PAGE = b"""<?xml version='1.0' encoding='UTF-8'?>
<ListBucketResult xmlns="http://doc.s3.amazonaws.com/2006-03-01"><Name>b</Name>
<Prefix>x/</Prefix><IsTruncated>false</IsTruncated>
<Contents><Key>x/a+b.jpg</Key><Generation>1</Generation><ETag>"CJ7Bn7W1uYEDEAE="</ETag>
<Size>5</Size></Contents></ListBucketResult>"""


def test_a_listing_page_decodes_url_encoded_keys_and_keeps_the_continuation_token() -> None:
    page = parse_list_page(AMAZON_PAGE)
    assert [item.key for item in page.objects] == ["2024/a b+c.jpg", "2024/big.png"]
    assert page.common_prefixes == ["2024/summer/"]
    assert page.next_token == "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM="
    assert page.objects[0].size == 12


def test_a_page_without_encoding_type_keeps_its_keys_as_they_are() -> None:
    page = parse_list_page(GOOGLE_PAGE)
    assert [item.key for item in page.objects] == ["x/a+b.jpg"]
    assert page.next_token is None


def test_only_a_32_digit_hex_etag_is_taken_for_an_md5() -> None:
    single, multipart = parse_list_page(AMAZON_PAGE).objects
    assert single.md5 == "9e107d9d372bb6826bd81d3542a419d6"
    assert multipart.md5 is None
    assert ListedObject("k", 1, "CJ7Bn7W1uYEDEAE=").md5 is None


def test_an_xml_body_with_entities_is_refused() -> None:
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaa">]>'
        b"<ListBucketResult>&a;</ListBucketResult>"
    )
    with pytest.raises(ValueError, match="not an XML document"):
        parse_list_page(bomb)


def answer(status: int, body: bytes = b"", **headers: str) -> httpx.Response:
    request = httpx.Request("GET", "https://photos.s3.amazonaws.com/?list-type=2")
    return httpx.Response(status, content=body, headers=headers, request=request)


def error(code: str, message: str = "m") -> bytes:
    return f"<Error><Code>{code}</Code><Message>{message}</Message></Error>".encode()


def test_slow_down_is_a_rate_limit_with_or_without_retry_after() -> None:
    amazon = classify_error(answer(503, error("SlowDown")))
    assert isinstance(amazon, TransientSourceError) and amazon.rate_limited
    assert amazon.retry_after is None
    minio = classify_error(answer(503, error("SlowDown"), **{"retry-after": "120"}))
    assert isinstance(minio, TransientSourceError) and minio.retry_after == 120


@pytest.mark.parametrize(
    ("status", "code", "transient", "says"),
    [
        (500, "InternalError", True, "InternalError"),
        (503, "ServiceUnavailable", True, "ServiceUnavailable"),
        (400, "RequestTimeout", True, "RequestTimeout"),
        (403, "AccessDenied", False, "not public"),
        (404, "NoSuchBucket", False, "no such bucket"),
        (404, "NoSuchKey", False, "no longer in the bucket"),
        (403, "", False, "not public"),
        (301, "PermanentRedirect", False, "a redirect"),
    ],
)
def test_s3_errors_are_transient_or_final_as_documented(
    status: int, code: str, transient: bool, says: str
) -> None:
    failure = classify_error(answer(status, error(code) if code else b""))
    assert isinstance(failure, TransientSourceError) is transient
    assert says in str(failure)


def test_dot_segments_of_a_key_survive_in_its_url() -> None:
    assert object_path("a/../b c/./d+e.jpg") == "a/%2E%2E/b%20c/%2E/d%2Be.jpg"


def connector(http: httpx.AsyncClient, networks: list[str]) -> PublicS3Connector:
    return PublicS3Connector(
        http,
        pacer_for=lambda host: NoPacing(),
        page_size=10,
        allowed_networks=parse_networks(networks),
    )


@pytest.mark.parametrize("host", ["127.0.0.1:9", "localhost:9", "[::1]:9", "169.254.169.254"])
async def test_a_bucket_on_the_machines_own_network_is_refused_before_any_request(
    host: str,
) -> None:
    folder = parse_link(f"s3+http://{host}/photos/")
    async with guarded_source_client([], setting="PUBLIC_S3_ALLOWED_NETWORKS", timeout=5) as http:
        reader = connector(http, []).for_link(ImportLink(folder))
        with pytest.raises(FolderUnavailable, match="PUBLIC_S3_ALLOWED_NETWORKS allows none"):
            await reader.check_folder(folder.root())


async def test_the_client_refuses_to_connect_to_a_name_that_resolves_to_a_refused_address() -> None:
    # As after a DNS answer that changed since the import started (rebinding).
    folder = parse_link("s3+http://localhost:9/photos/")
    async with guarded_source_client([], setting="PUBLIC_S3_ALLOWED_NETWORKS", timeout=5) as http:
        reader = connector(http, []).for_link(ImportLink(folder))
        with pytest.raises(
            TransientSourceError,
            match=r"localhost resolves to .*, a loopback address; PUBLIC_S3_ALLOWED_NETWORKS",
        ):
            await reader.list_page(folder.root(), None)
        with pytest.raises(httpx.TransportError, match="loopback"):
            await http.get("http://localhost:9/photos/")
