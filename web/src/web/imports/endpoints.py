"""The import pages: the form that starts an import (or a sync) of a folder, the list of
imports, one import's live progress and failed files, and its retry and cancel buttons.

Every page works without JavaScript: forms post and redirect, links page through lists, and a
live import reloads itself. With htmx, the same routes answer with just the fragment to swap.
"""

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any

from litestar import Controller, Response, get, post
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromPath, FromQuery
from litestar.plugins.htmx import HTMXRequest
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_303_SEE_OTHER

from web.api_client import ApiClient, ApiError, ApiUnavailable
from web.formatting import DEFAULT_SYNC_INTERVAL
from web.fragments import go_to, paged_list, wants_fragment
from web.schemas import Import, Sync
from web.sources import SourceCatalogue

logger = logging.getLogger(__name__)

IMPORTS_PER_PAGE = 25
RECENT_IMPORTS = 5
FAILURES_PER_PAGE = 50


@dataclass
class ImportForm:
    url: str = ""
    # A checkbox is sent only when ticked, so a plain form post without it means False.
    recursive: bool = False
    # Only for a link its owner protected; never put back into the form.
    password: str = ""
    # Ticked, the form creates a sync (its first run starts now) instead of a one-off import.
    keep_in_sync: bool = False
    # The API checks these, and says what is wrong with them.
    every: str = DEFAULT_SYNC_INTERVAL
    on_removed: str = "keep"
    # Where the import (or each run of the sync) reports its end; the API checks the address.
    notify_url: str = ""


class ImportPages(Controller):
    @get("/")
    async def new_import(self, api: NamedDependency[ApiClient]) -> Template:
        """The import form, with the latest imports below it."""
        recent = await api.list_imports(limit=RECENT_IMPORTS)
        return Template(
            "home.html", context={**_form_values(ImportForm(recursive=True)), "imports": recent}
        )

    @get("/imports/source")
    async def source_hint(
        self, api: NamedDependency[ApiClient], url: FromQuery[str] = ""
    ) -> Template:
        """Which source the link typed so far belongs to (a hint under the field), as the API
        reads the link."""
        source: str | None = None
        if url.strip():
            try:
                source = (await api.detect_source(url)).source
            except ApiError:
                source = None
        return Template("_source_hint.html", context={"hint_source": source})

    @post("/imports")
    async def start_import(
        self,
        request: HTMXRequest,
        api: NamedDependency[ApiClient],
        data: Annotated[ImportForm, Body(media_type=RequestEncodingType.URL_ENCODED)],
    ) -> Response[Any]:
        """Start an import of the pasted folder link, or a sync of it when "Keep in sync" is
        ticked; show what is wrong with it otherwise."""
        if not data.url.strip():
            sources: SourceCatalogue = request.app.state.sources
            error = f"Paste the link of a {sources.described()} folder."
            return await _import_form_error(request, api, data, error)
        try:
            target = await (_start_sync(api, data) if data.keep_in_sync else _start(api, data))
        except ApiError as exc:
            # A second sync of a folder: the API names the first, which the form links to.
            existing = await _sync_in_the_way(api, exc)
            status_code = 409 if exc.status_code == 409 else 422
            return await _import_form_error(
                request, api, data, exc.detail, status_code=status_code, existing_sync=existing
            )
        except ApiUnavailable as exc:
            logger.warning("web.api_unavailable %s", exc)
            error = "The server's API is not answering, so nothing was started: try again soon."
            return await _import_form_error(request, api, data, error, status_code=503)
        return go_to(request, target)

    @get("/imports")
    async def list_imports(
        self,
        request: HTMXRequest,
        api: NamedDependency[ApiClient],
        cursor: FromQuery[str | None] = None,
    ) -> Template:
        """Recent imports with their status and progress; refreshes itself while any is live."""
        page = await api.list_imports(limit=IMPORTS_PER_PAGE, cursor=cursor)
        live = any(imp.is_live for imp in page.items)
        return paged_list(request, "imports", page, cursor, live=live)

    @get("/imports/{import_id:str}")
    async def show_import(
        self,
        api: NamedDependency[ApiClient],
        import_id: FromPath[str],
        existing: FromQuery[bool] = False,
        failures_cursor: FromQuery[str | None] = None,
    ) -> Template:
        """An import's live progress, its failed files and a retry button."""
        progress = await _progress(api, await api.get_import(import_id), failures_cursor)
        return Template("import.html", context={**progress, "existing": existing})

    @get("/imports/{import_id:str}/progress")
    async def import_progress(
        self, api: NamedDependency[ApiClient], import_id: FromPath[str]
    ) -> Template:
        """The progress section alone, polled by htmx until the import ends."""
        progress = await _progress(api, await api.get_import(import_id))
        return Template("_progress.html", context={**progress, "fragment": True})

    @get("/imports/{import_id:str}/failures")
    async def more_failures(
        self, api: NamedDependency[ApiClient], import_id: FromPath[str], cursor: FromQuery[str]
    ) -> Template:
        """The next rows of the failed-files table."""
        failures = await api.list_failures(import_id, limit=FAILURES_PER_PAGE, cursor=cursor)
        context = {"import_id": import_id, "failures": failures}
        return Template("_failure_rows.html", context=context)

    @post("/imports/{import_id:str}/retry")
    async def retry_failures(
        self, request: HTMXRequest, api: NamedDependency[ApiClient], import_id: FromPath[str]
    ) -> Response[Any]:
        """Queue the failed files of an import again."""
        return await _act_on_import(request, api, import_id, api.retry_failures)

    @post("/imports/{import_id:str}/cancel")
    async def cancel_import(
        self, request: HTMXRequest, api: NamedDependency[ApiClient], import_id: FromPath[str]
    ) -> Response[Any]:
        """Stop a runaway import; what it imported stays."""
        return await _act_on_import(request, api, import_id, api.cancel_import)


async def _start(api: ApiClient, data: ImportForm) -> str:
    """A one-off import; where to see it."""
    started = await api.start_import(
        data.url.strip(),
        data.recursive,
        data.password or None,
        notify_url=data.notify_url.strip() or None,
    )
    target = f"/imports/{started.import_id}"
    return f"{target}?existing=1" if started.already_live else target


async def _start_sync(api: ApiClient, data: ImportForm) -> str:
    """A sync, whose first run the API starts now; where to see that run."""
    sync = await api.create_sync(
        data.url.strip(),
        every=data.every,
        recursive=data.recursive,
        on_removed=data.on_removed,
        password=data.password or None,
        notify_url=data.notify_url.strip() or None,
    )
    # No first run yet when another import of the folder was live: its page shows the schedule.
    return f"/imports/{sync.last_run.import_id}" if sync.last_run else f"/syncs/{sync.sync_id}"


async def _sync_in_the_way(api: ApiClient, exc: ApiError) -> Sync | None:
    sync_id = exc.conflicting("sync")
    if sync_id is None:
        return None
    try:
        return await api.get_sync(sync_id)
    except (ApiError, ApiUnavailable):
        return None


async def _act_on_import(
    request: HTMXRequest,
    api: ApiClient,
    import_id: str,
    action: Callable[[str], Awaitable[object]],
) -> Response[Any]:
    """Run a retry or cancel; a conflict (the import moved on meanwhile) is shown inline."""
    action_error = None
    try:
        await action(import_id)
    except ApiError as exc:
        if exc.status_code != 409:
            raise
        action_error = exc.detail
    if action_error is None and not wants_fragment(request):
        return Redirect(f"/imports/{import_id}", status_code=HTTP_303_SEE_OTHER)
    progress = await _progress(api, await api.get_import(import_id))
    context = {**progress, "action_error": action_error}
    status_code = 409 if action_error else 200
    if wants_fragment(request):
        return Template(
            "_progress.html", context={**context, "fragment": True}, status_code=status_code
        )
    return Template("import.html", context=context, status_code=status_code)


async def _progress(
    api: ApiClient, imp: Import, failures_cursor: str | None = None
) -> dict[str, Any]:
    """What the progress section shows: the import, a page of its failed files (if any failed)
    and how far its thumbnails are."""
    failures = None
    if imp.counts.failed:
        failures = await api.list_failures(
            imp.import_id, limit=FAILURES_PER_PAGE, cursor=failures_cursor
        )
    thumbnails = await api.thumbnail_progress(imp.import_id)
    return {"imp": imp, "failures": failures, "thumbnails": thumbnails}


def _form_values(data: ImportForm) -> dict[str, Any]:
    """What the import form shows: what was sent, but never the password."""
    return {
        "form_url": data.url,
        "form_recursive": data.recursive,
        "form_keep_in_sync": data.keep_in_sync,
        "form_every": data.every,
        "form_on_removed": data.on_removed,
        "form_notify_url": data.notify_url,
    }


async def _import_form_error(
    request: HTMXRequest,
    api: ApiClient,
    data: ImportForm,
    error: str,
    status_code: int = 422,
    existing_sync: Sync | None = None,
) -> Template:
    context: dict[str, Any] = {
        **_form_values(data),
        "form_error": error,
        "form_existing_sync": existing_sync,
    }
    if wants_fragment(request):
        return Template("_import_form.html", context=context, status_code=status_code)
    try:
        context["imports"] = await api.list_imports(limit=RECENT_IMPORTS)
    except (ApiError, ApiUnavailable):
        context["imports"] = None
    return Template("home.html", context=context, status_code=status_code)
