"""The sources the API imports from, as its `GET /sources` lists them: the pages name sources
and describe links from this list, and never recognise a link themselves."""

import time
from dataclasses import dataclass, field

from web.api_client import ApiClient, ApiError, ApiUnavailable

# The API's list changes only when it is redeployed with another source.
REFRESH_SECONDS = 300.0


@dataclass
class SourceCatalogue:
    """Display names by source name, refreshed from the API now and then (one per process,
    kept in the app's state)."""

    names: dict[str, str] = field(default_factory=dict)
    passwords: set[str] = field(default_factory=set)
    _fetched_at: float = -REFRESH_SECONDS

    async def refresh(self, api: ApiClient) -> None:
        """Fetch the list when it is stale; keep the last one while the API does not answer."""
        if time.monotonic() - self._fetched_at < REFRESH_SECONDS:
            return
        try:
            sources = await api.list_sources()
        except (ApiUnavailable, ApiError):
            return
        self.names = {source.name: source.display_name for source in sources.items}
        self.passwords = {source.name for source in sources.items if source.accepts_password}
        self._fetched_at = time.monotonic()

    def name_of(self, source: str) -> str:
        return self.names.get(source, source)

    def described(self) -> str:
        """`Google Drive, Dropbox or Public S3 bucket`, for help texts: the sources the API
        lists, `shared` until it has answered once."""
        names = list(self.names.values())
        if len(names) < 2:
            return names[0] if names else "shared"
        return f"{', '.join(names[:-1])} or {names[-1]}"
