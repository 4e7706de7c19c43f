"""What an S3 server's error answer means for the pipeline: retry later (a rate limit, which
holds off everyone reading the bucket, or a server's trouble) or give up, in words an operator
can act on. One table for Amazon, Google Cloud Storage's XML API and the S3-compatible servers,
which answer with the same `Error` codes (`public_s3_xml` reads them); apart from the
connector's requests so that it reads, and is tested, as such a table.
"""

import httpx

from worker.http_client import retry_after_seconds
from worker.sources.base import PermanentSourceError, TransientSourceError
from worker.sources.public_s3_xml import parse_error

_MESSAGES = {
    "AccessDenied": (
        "the bucket does not let anonymous users do this (AccessDenied): it is not public, or "
        "it lets anyone read its objects but not list them"
    ),
    "AllAccessDisabled": "all access to this bucket has been disabled (AllAccessDisabled)",
    "NoSuchBucket": "there is no such bucket (NoSuchBucket)",
    "NoSuchKey": "the object is no longer in the bucket (NoSuchKey)",
    "InvalidBucketName": "the bucket name is not valid (InvalidBucketName)",
    "AccountProblem": "the bucket's account has a problem that blocks access (AccountProblem)",
    "InvalidObjectState": "the object is archived and must be restored first (InvalidObjectState)",
    "RequesterPaysNotEnabled": "the bucket makes its readers pay, which needs credentials",
}
_TRANSIENT_CODES = {"SlowDown", "InternalError", "ServiceUnavailable", "RequestTimeout"}


def classify_error(response: httpx.Response) -> TransientSourceError | PermanentSourceError:
    """An S3 error answer as retry-later or give-up: 429, 5xx and the codes S3 documents as
    retryable are transient (SlowDown rate-limits everyone reading the bucket); the rest,
    AccessDenied and NoSuchBucket first, are final."""
    status = response.status_code
    error = parse_error(response.content)
    code = error.code if error else ""
    detail = f"{code}: {error.message}" if error and error.message else code
    host = response.request.url.host
    retry_after = retry_after_seconds(response)
    if status == 429 or code == "SlowDown":
        wait = f"; retry after {retry_after:g} s" if retry_after is not None else ""
        return TransientSourceError(
            f"{host} is rate limiting (HTTP {status} {detail or 'Too Many Requests'}){wait}",
            retry_after=retry_after,
            rate_limited=True,
        )
    if status >= 500 or code in _TRANSIENT_CODES:
        return TransientSourceError(
            f"{host} answered HTTP {status} {detail or response.reason_phrase}".rstrip(),
            retry_after=retry_after,
        )
    if code in _MESSAGES:
        return PermanentSourceError(_MESSAGES[code])
    if 300 <= status < 400:
        location = response.headers.get("location", "no Location")
        return PermanentSourceError(
            f"{host} answered HTTP {status}, a redirect to {location}: the link's endpoint is "
            "not where the bucket is served"
        )
    if status == 403:
        return PermanentSourceError(_MESSAGES["AccessDenied"])
    if status == 404:
        return PermanentSourceError(f"{host} has no such bucket or object (HTTP 404)")
    text = detail or response.text[:200].strip() or response.reason_phrase
    return PermanentSourceError(f"{host} refused the request (HTTP {status}): {text}")
