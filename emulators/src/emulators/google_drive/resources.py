"""Rendering a fixture item as a Drive v3 `File` resource, computing only the fields asked for.

Each field has its own small function so a listing of 1,000 files that asks for
`files(id,name)` never hashes a byte, and a missing value (size of a folder, checksum of a Doc)
is simply left out, as Drive leaves it out.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from emulators.google_drive.content import ContentGenerator
from emulators.google_drive.fieldmask import FieldMask, project, wants_all
from emulators.google_drive.fixture import DriveItem

_ABSENT: Any = object()
_DOCS_EXPORTS = {
    "application/vnd.google-apps.document": (
        "document",
        {
            "application/pdf": "pdf",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "docx",
            "text/plain": "txt",
        },
    ),
    "application/vnd.google-apps.spreadsheet": (
        "spreadsheets",
        {
            "application/pdf": "pdf",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "xlsx",
            "text/csv": "csv",
        },
    ),
    "application/vnd.google-apps.presentation": (
        "presentation",
        {
            "application/pdf": "pdf",
            "application/vnd.openxmlformats-officedocument.presentationml.presentation": "pptx",
        },
    ),
}
_OWNER = {
    "kind": "drive#user",
    "displayName": "Emulated Owner",
    "photoLink": "https://lh3.googleusercontent.com/a/default-user=s64",
    "me": False,
    "permissionId": "01234567890123456789",
}


def _number(item: DriveItem, label: str, modulo: int) -> int:
    digest = hashlib.blake2b(f"{label}:{item.id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % modulo


def _with_key(url: str, item: DriveItem, separator: str) -> str:
    return f"{url}{separator}resourcekey={item.resource_key}" if item.resource_key else url


def _web_view_link(item: DriveItem) -> str:
    if item.is_folder:
        return _with_key(f"https://drive.google.com/drive/folders/{item.id}", item, "?")
    if item.mime_type in _DOCS_EXPORTS:
        kind = _DOCS_EXPORTS[item.mime_type][0]
        return _with_key(f"https://docs.google.com/{kind}/d/{item.id}/edit?usp=drivesdk", item, "&")
    return _with_key(f"https://drive.google.com/file/d/{item.id}/view?usp=drivesdk", item, "&")


def _export_links(item: DriveItem) -> Any:
    entry = _DOCS_EXPORTS.get(item.mime_type)
    if entry is None:
        return _ABSENT
    kind, formats = entry
    return {
        mime: f"https://docs.google.com/feeds/download/{kind}/export/Export?id={item.id}"
        f"&exportFormat={extension}"
        for mime, extension in formats.items()
    }


def _capabilities(item: DriveItem) -> dict[str, bool]:
    capabilities = {
        "canAddChildren": False,
        "canComment": False,
        "canCopy": item.has_content,
        "canDelete": False,
        "canDownload": not item.is_folder,
        "canEdit": False,
        "canListChildren": item.is_folder,
        "canModifyContent": False,
        "canReadRevisions": False,
        "canRemoveChildren": False,
        "canRename": False,
        "canShare": False,
        "canTrash": False,
        "canUntrash": False,
    }
    if item.drive_id:
        capabilities["canReadDrive"] = True
    return capabilities


def _shortcut_details(item: DriveItem) -> Any:
    if not item.is_shortcut:
        return _ABSENT
    details = {
        "targetId": item.shortcut_target_id,
        "targetMimeType": item.shortcut_target_mime_type,
    }
    if item.shortcut_target_resource_key:
        details["targetResourceKey"] = item.shortcut_target_resource_key
    return details


def _extension(item: DriveItem) -> str:
    stem, dot, extension = item.name.rpartition(".")
    return extension if dot and stem else ""


class FileRenderer:
    """Builds `File` dicts for one fixture's items."""

    def __init__(self, content: ContentGenerator) -> None:
        self._content = content
        binary = self._binary
        # Insertion order is the key order of the JSON Drive sends for `fields=*`.
        self._fields: dict[str, Callable[[DriveItem], Any]] = {
            "kind": lambda item: "drive#file",
            "id": lambda item: item.id,
            "name": lambda item: item.name,
            "mimeType": lambda item: item.mime_type,
            "description": lambda item: item.description or _ABSENT,
            "starred": lambda item: False,
            "trashed": lambda item: item.trashed,
            "explicitlyTrashed": lambda item: item.explicitly_trashed,
            "trashedTime": lambda item: item.modified_time if item.explicitly_trashed else _ABSENT,
            "parents": lambda item: [item.parent_id] if item.parent_id else _ABSENT,
            "spaces": lambda item: ["drive"],
            "version": lambda item: str(_number(item, "version", 1000) + 1),
            "webContentLink": binary(
                lambda item: _with_key(
                    f"https://drive.google.com/uc?id={item.id}&export=download", item, "&"
                )
            ),
            "webViewLink": _web_view_link,
            "iconLink": lambda item: (
                f"https://drive-thirdparty.googleusercontent.com/16/type/{item.mime_type}"
            ),
            "hasThumbnail": lambda item: item.width > 0,
            "thumbnailVersion": lambda item: "1" if item.width > 0 else "0",
            "viewedByMe": lambda item: False,
            "createdTime": lambda item: item.created_time,
            "modifiedTime": lambda item: item.modified_time,
            "modifiedByMe": lambda item: False,
            "owners": lambda item: _ABSENT if item.drive_id else [dict(_OWNER)],
            "lastModifyingUser": lambda item: dict(_OWNER),
            "shared": lambda item: _ABSENT if item.drive_id else True,
            "ownedByMe": lambda item: False,
            "capabilities": _capabilities,
            "viewersCanCopyContent": lambda item: True,
            "copyRequiresWriterPermission": lambda item: False,
            "writersCanShare": lambda item: _ABSENT if item.drive_id else True,
            "hasAugmentedPermissions": lambda item: False if item.drive_id else _ABSENT,
            "originalFilename": binary(lambda item: item.name),
            "fullFileExtension": binary(lambda item: item.name.partition(".")[2]),
            "fileExtension": binary(_extension),
            "md5Checksum": binary(lambda item: self._content.checksum(item, "md5")),
            "sha1Checksum": binary(lambda item: self._content.checksum(item, "sha1")),
            "sha256Checksum": binary(lambda item: self._content.checksum(item, "sha256")),
            "size": binary(lambda item: str(item.size)),
            "quotaBytesUsed": lambda item: str(item.size or 0),
            "headRevisionId": binary(lambda item: "0B" + hashlib.md5(item.id.encode()).hexdigest()),
            "imageMediaMetadata": lambda item: (
                {"width": item.width, "height": item.height, "rotation": 0}
                if item.is_image and item.width
                else _ABSENT
            ),
            "videoMediaMetadata": lambda item: (
                {
                    "width": item.width,
                    "height": item.height,
                    "durationMillis": str(_number(item, "duration", 120_000) + 1_000),
                }
                if item.mime_type.startswith("video/") and item.width
                else _ABSENT
            ),
            "isAppAuthorized": lambda item: False,
            "exportLinks": _export_links,
            "shortcutDetails": _shortcut_details,
            "resourceKey": lambda item: item.resource_key or _ABSENT,
            "linkShareMetadata": lambda item: (
                {"securityUpdateEligible": True, "securityUpdateEnabled": True}
                if item.resource_key
                else _ABSENT
            ),
            "driveId": lambda item: item.drive_id or _ABSENT,
            "teamDriveId": lambda item: item.drive_id or _ABSENT,
            "inheritedPermissionsDisabled": lambda item: False,
        }
        self._checksum_fields = {"md5Checksum", "sha1Checksum", "sha256Checksum"}

    @staticmethod
    def _binary(produce: Callable[[DriveItem], Any]) -> Callable[[DriveItem], Any]:
        return lambda item: produce(item) if item.has_content else _ABSENT

    def needs_hashing(self, mask: FieldMask | None) -> bool:
        """Whether rendering with `mask` may hash file bytes (worth doing off the event loop)."""
        return wants_all(mask) or any(name in self._checksum_fields for name in mask or {})

    def render(self, item: DriveItem, mask: FieldMask | None) -> dict[str, Any]:
        """The resource with only the fields `mask` selects (`None` or `*`: every field)."""
        everything = wants_all(mask)
        out: dict[str, Any] = {}
        for name, produce in self._fields.items():
            if not everything and name not in mask:  # type: ignore[operator]
                continue
            value = produce(item)
            if value is _ABSENT:
                continue
            sub = mask.get(name) if mask is not None else None
            out[name] = value if sub is None else project(value, sub)
        return out
