"""What a WebDAV error answer from a share's server means for the pipeline: retry (when, and
whether the server is rate limiting this worker's address) or give up on the folder or file,
with a reason an operator can act on. Apart from the requests, so that the reasons can be read,
and tested, as one table of statuses.
"""

import httpx

from worker.http_client import retry_after_seconds
from worker.sources.base import PermanentSourceError, TransientSourceError
from worker.sources.nextcloud.multistatus import sabre_message


def classify_error(
    response: httpx.Response, *, password_sent: bool, what: str | None
) -> TransientSourceError | PermanentSourceError:
    """What a WebDAV error answer means: 429 and 503 say when to retry (Nextcloud's
    brute-force protection answers 429 once too many passwords failed from this address), other
    5xx are retried, the rest is final."""
    status = response.status_code
    detail = sabre_message(response.content) or response.reason_phrase or ""
    subject = f"{what} " if what else ""
    if status == 429:
        retry_after = retry_after_seconds(response)
        wait = f"; retry after {retry_after:g} s" if retry_after is not None else ""
        brute_force = (
            " (its brute-force protection holds off this worker's address after failed share "
            "passwords)"
            if password_sent
            else ""
        )
        return TransientSourceError(
            f"the server is rate limiting{brute_force}: {detail}{wait}".replace(": ;", ";"),
            retry_after=retry_after,
            rate_limited=True,
        )
    if status >= 500:
        return TransientSourceError(
            f"the server answered HTTP {status}: {detail}".rstrip(": "),
            retry_after=retry_after_seconds(response),
            rate_limited=status == 503 and retry_after_seconds(response) is not None,
        )
    if status == 401:
        if password_sent:
            return PermanentSourceError(
                "the server refuses the share's password: send the password the share's owner "
                "set (each wrong one counts towards the server's brute-force protection)"
            )
        return PermanentSourceError(
            'the share is protected by a password: send it beside the link as "password"'
        )
    if 300 <= status < 400:
        location = response.headers.get("location", "no Location")
        return PermanentSourceError(
            f"the server redirects {subject}to {location}: redirects are not followed; paste "
            "the share link as the server shows it (https)"
        )
    if status == 403:
        return PermanentSourceError(
            f"the server forbids reading {subject}(HTTP 403: {detail}): the share may not "
            "allow downloads"
        )
    if status == 404:
        return PermanentSourceError(f"{subject or 'it '}is no longer in the share (HTTP 404)")
    return PermanentSourceError(f"the server refused the request (HTTP {status}: {detail})")
