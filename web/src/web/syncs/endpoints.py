"""The sync pages: every sync with its schedule and last run, one sync's page, the buttons
that pause, resume, run and delete one, and the form that changes its settings. Thin like the
other pages: ask the API, render."""

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import quote

from litestar import Controller, Response, get, post
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromPath, FromQuery
from litestar.plugins.htmx import ClientRedirect, HTMXRequest
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_200_OK, HTTP_303_SEE_OTHER

from web.api_client import ApiClient, ApiError
from web.auth import service as auth
from web.fragments import go_to, paged_list, wants_fragment
from web.schemas import Sync

SYNCS_PER_PAGE = 25


@dataclass
class SyncActionForm:
    # The page the button was on, to go back to without JavaScript.
    back: str = "/syncs"


@dataclass
class SyncSettingsForm:
    # The form sends all three; as in the API's PATCH, a field left out stays as it is.
    every: str | None = None
    on_removed: str | None = None
    # An empty field clears it.
    notify_url: str | None = None

    def changes(self) -> dict[str, str | None]:
        """The PATCH body: the API checks every value, and says what is wrong with it."""
        changes: dict[str, str | None] = {}
        if self.every is not None:
            changes["every"] = self.every
        if self.on_removed is not None:
            changes["on_removed"] = self.on_removed
        if self.notify_url is not None:
            changes["notify_url"] = self.notify_url.strip() or None
        return changes


class SyncPages(Controller):
    @get("/syncs")
    async def list_syncs(
        self,
        request: HTMXRequest,
        api: NamedDependency[ApiClient],
        cursor: FromQuery[str | None] = None,
    ) -> Template:
        """Every sync with its schedule and last run; refreshes itself while a run is live."""
        page = await api.list_syncs(limit=SYNCS_PER_PAGE, cursor=cursor)
        live = any(s.last_run and s.last_run.is_live for s in page.items)
        return paged_list(request, "syncs", page, cursor, live=live)

    @get("/syncs/{sync_id:str}")
    async def show_sync(
        self,
        api: NamedDependency[ApiClient],
        sync_id: FromPath[str],
        saved: FromQuery[bool] = False,
    ) -> Template:
        """One sync: its schedule, its last run, its buttons and its settings."""
        sync = await api.get_sync(sync_id)
        # Its buttons come back to this page, not to the confirmation of a change.
        back = f"/syncs/{sync.sync_id}"
        context = {**_settings_values(sync), "sync": sync, "saved": saved, "back": back}
        return Template("sync.html", context=context)

    # A change, not a creation: htmx's redirect comes with a 200.
    @post("/syncs/{sync_id:str}/settings", status_code=HTTP_200_OK)
    async def change_sync_settings(
        self,
        request: HTMXRequest,
        api: NamedDependency[ApiClient],
        sync_id: FromPath[str],
        data: Annotated[SyncSettingsForm, Body(media_type=RequestEncodingType.URL_ENCODED)],
    ) -> Response[Any]:
        """Change a sync's interval, what becomes of images whose file is gone, and its notify
        URL; what the API refuses is shown beside the form, with what was sent."""
        try:
            sync = await api.change_sync(sync_id, **data.changes())
        except ApiError as exc:
            if exc.status_code in (409, 422):
                return await _settings_error(request, api, sync_id, data, exc)
            if exc.status_code != 404 or not wants_fragment(request):
                raise
            # Deleted meanwhile: its page says so (htmx swaps no 404 into the form).
            return ClientRedirect(f"/syncs/{quote(sync_id, safe='')}")
        return go_to(request, f"/syncs/{sync.sync_id}?saved=1#settings")

    @post("/syncs/{sync_id:str}/pause")
    async def pause_sync(
        self,
        request: HTMXRequest,
        api: NamedDependency[ApiClient],
        sync_id: FromPath[str],
        data: Annotated[SyncActionForm, Body(media_type=RequestEncodingType.URL_ENCODED)],
    ) -> Response[Any]:
        """No more runs until resumed; a run under way ends as usual."""
        return await _act_on_sync(
            request, api, sync_id, data.back, lambda: api.change_sync(sync_id, paused=True)
        )

    @post("/syncs/{sync_id:str}/resume")
    async def resume_sync(
        self,
        request: HTMXRequest,
        api: NamedDependency[ApiClient],
        sync_id: FromPath[str],
        data: Annotated[SyncActionForm, Body(media_type=RequestEncodingType.URL_ENCODED)],
    ) -> Response[Any]:
        """Runs start again on the schedule."""
        return await _act_on_sync(
            request, api, sync_id, data.back, lambda: api.change_sync(sync_id, paused=False)
        )

    @post("/syncs/{sync_id:str}/run")
    async def run_sync_now(
        self,
        request: HTMXRequest,
        api: NamedDependency[ApiClient],
        sync_id: FromPath[str],
        data: Annotated[SyncActionForm, Body(media_type=RequestEncodingType.URL_ENCODED)],
    ) -> Response[Any]:
        """A run now, whatever the schedule."""
        return await _act_on_sync(request, api, sync_id, data.back, lambda: api.run_sync(sync_id))

    @post("/syncs/{sync_id:str}/delete")
    async def delete_sync(
        self,
        request: HTMXRequest,
        api: NamedDependency[ApiClient],
        sync_id: FromPath[str],
        data: Annotated[SyncActionForm, Body(media_type=RequestEncodingType.URL_ENCODED)],
    ) -> Response[Any]:
        """Stop syncing the folder; its images stay."""
        try:
            await api.delete_sync(sync_id)
        except ApiError as exc:
            if exc.status_code != 404 or not wants_fragment(request):
                raise
            return Template("_sync_gone_row.html", context={"message": exc.detail})
        if wants_fragment(request):
            message = "Deleted: this folder is no longer synced. Its images stay."
            return Template("_sync_gone_row.html", context={"message": message})
        back = _back_to_syncs(data.back)
        # Its own page is gone with it.
        target = "/syncs" if back.startswith(f"/syncs/{sync_id}") else back
        return Redirect(target, status_code=HTTP_303_SEE_OTHER)


async def _act_on_sync(
    request: HTMXRequest,
    api: ApiClient,
    sync_id: str,
    back: str,
    action: Callable[[], Awaitable[object]],
) -> Response[Any]:
    """Pause, resume or run a sync; a conflict (paused, or a run already live) is shown in its
    row, or on its page without JavaScript."""
    action_error = None
    try:
        await action()
    except ApiError as exc:
        if exc.status_code == 404 and wants_fragment(request):
            return Template("_sync_gone_row.html", context={"message": exc.detail})
        if exc.status_code != 409:
            raise
        action_error = exc.detail
    if action_error is None and not wants_fragment(request):
        return Redirect(_back_to_syncs(back), status_code=HTTP_303_SEE_OTHER)
    sync = await api.get_sync(sync_id)
    status_code = 409 if action_error else 200
    if wants_fragment(request):
        context = {"sync": sync, "row_error": action_error, "back": back}
        return Template("_sync_row.html", context=context, status_code=status_code)
    context = {"sync": sync, "action_error": action_error, "back": f"/syncs/{sync.sync_id}"}
    return Template("sync.html", context=context, status_code=status_code)


def _settings_values(sync: Sync) -> dict[str, Any]:
    """What the settings form shows: the sync's settings as they are."""
    return {
        "form_every": sync.every,
        "form_on_removed": sync.on_removed,
        "form_notify_url": sync.notify_url or "",
    }


async def _settings_error(
    request: HTMXRequest, api: ApiClient, sync_id: str, data: SyncSettingsForm, exc: ApiError
) -> Template:
    """The settings form again with the API's refusal and what was sent (a field left out
    shows the sync's own value); the form alone for htmx, else the whole page."""
    sync = await api.get_sync(sync_id)
    sent = {
        "form_every": data.every,
        "form_on_removed": data.on_removed,
        "form_notify_url": data.notify_url,
    }
    context = {
        "sync": sync,
        "back": f"/syncs/{sync.sync_id}",
        **_settings_values(sync),
        **{name: value for name, value in sent.items() if value is not None},
        "form_error": exc.detail,
        # The API names the field it refused; the form shows its words beside it.
        "form_error_field": exc.field,
    }
    status_code = 409 if exc.status_code == 409 else 422
    template = "_sync_settings_form.html" if wants_fragment(request) else "sync.html"
    return Template(template, context=context, status_code=status_code)


SYNC_PAGE = re.compile(r"/syncs(\?.*|/[^/?]+)?")


def _back_to_syncs(back: str) -> str:
    """A page of the sync list or a sync's page; never anywhere else."""
    target = auth.safe_next(back)
    return target if SYNC_PAGE.fullmatch(target) else "/syncs"
