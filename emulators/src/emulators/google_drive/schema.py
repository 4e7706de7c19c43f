"""Field names of the Drive v3 `File` and `FileList` resources, as the discovery doc lists them.

A field mask is validated against this tree, so a client asking for a misspelt field gets the same
400 it would get from Google. `None` marks a leaf; `OPEN` marks a map whose keys are free-form.
"""

from __future__ import annotations

from typing import Final


class _Open:
    """Marker for map-valued fields (`exportLinks`, `properties`, ...) that accept any sub-key."""

    def __repr__(self) -> str:
        return "OPEN"


OPEN: Final = _Open()

Schema = dict[str, "Schema | _Open | None"]


def _leaves(names: str) -> Schema:
    return dict.fromkeys(names.split())


USER: Final[Schema] = _leaves("displayName emailAddress kind me permissionId photoLink")

PERMISSION: Final[Schema] = {
    **_leaves(
        "allowFileDiscovery deleted displayName domain emailAddress expirationTime id "
        "inheritedPermissionsDisabled kind pendingOwner photoLink role type view"
    ),
    "permissionDetails": _leaves("inherited inheritedFrom permissionType role"),
    "teamDrivePermissionDetails": _leaves("inherited inheritedFrom role teamDrivePermissionType"),
}

CONTENT_RESTRICTION: Final[Schema] = {
    **_leaves("ownerRestricted readOnly reason restrictionTime systemRestricted type"),
    "restrictingUser": USER,
}

DOWNLOAD_RESTRICTION: Final[Schema] = _leaves("restrictedForReaders restrictedForWriters")

LABEL: Final[Schema] = {**_leaves("id kind revisionId"), "fields": OPEN}

CAPABILITIES: Final[Schema] = _leaves(
    "canAcceptOwnership canAccessViaGenAi canAddChildren canAddFolderFromAnotherDrive "
    "canAddMyDriveParent canChangeCopyRequiresWriterPermission canChangeItemDownloadRestriction "
    "canChangeSecurityUpdateEnabled canChangeViewersCanCopyContent canComment canCopy canDelete "
    "canDeleteChildren canDisableInheritedPermissions canDownload canEdit "
    "canEnableInheritedPermissions canListChildren canModifyContent canModifyContentRestriction "
    "canModifyEditorContentRestriction canModifyLabels canModifyOwnerContentRestriction "
    "canMoveChildrenOutOfDrive canMoveChildrenOutOfTeamDrive canMoveChildrenWithinDrive "
    "canMoveChildrenWithinTeamDrive canMoveItemIntoTeamDrive canMoveItemOutOfDrive "
    "canMoveItemOutOfTeamDrive canMoveItemWithinDrive canMoveItemWithinTeamDrive "
    "canMoveTeamDriveItem canReadDrive canReadLabels canReadRevisions canReadTeamDrive "
    "canRemoveChildren canRemoveContentRestriction canRemoveMyDriveParent canRename canShare "
    "canStartApproval canTrash canTrashChildren canUntrash"
)

IMAGE_MEDIA_METADATA: Final[Schema] = {
    **_leaves(
        "aperture cameraMake cameraModel colorSpace exposureBias exposureMode exposureTime "
        "flashUsed focalLength height isoSpeed lens maxApertureValue meteringMode rotation sensor "
        "subjectDistance time whiteBalance width"
    ),
    "location": _leaves("altitude latitude longitude"),
}

FILE: Final[Schema] = {
    **_leaves(
        "copyRequiresWriterPermission createdTime description driveId explicitlyTrashed "
        "fileExtension folderColorRgb fullFileExtension hasAugmentedPermissions hasThumbnail "
        "headRevisionId iconLink id inheritedPermissionsDisabled isAppAuthorized kind md5Checksum "
        "mimeType modifiedByMe modifiedByMeTime modifiedTime name originalFilename ownedByMe "
        "parents permissionIds quotaBytesUsed resourceKey sha1Checksum sha256Checksum shared "
        "sharedWithMeTime size spaces starred teamDriveId thumbnailLink thumbnailVersion trashed "
        "trashedTime version viewedByMe viewedByMeTime viewersCanCopyContent webContentLink "
        "webViewLink writersCanShare"
    ),
    "appProperties": OPEN,
    "capabilities": CAPABILITIES,
    "clientEncryptionDetails": {
        "encryptionState": None,
        "decryptionMetadata": _leaves(
            "aes256GcmChunkSize encryptionResourceKeyHash jwt kaclsId kaclsName keyFormat "
            "wrappedKey"
        ),
    },
    "contentHints": {"indexableText": None, "thumbnail": _leaves("image mimeType")},
    "contentRestrictions": CONTENT_RESTRICTION,
    "downloadRestrictions": {
        "effectiveDownloadRestrictionWithContext": DOWNLOAD_RESTRICTION,
        "itemDownloadRestriction": DOWNLOAD_RESTRICTION,
    },
    "exportLinks": OPEN,
    "imageMediaMetadata": IMAGE_MEDIA_METADATA,
    "labelInfo": {"labels": LABEL},
    "lastModifyingUser": USER,
    "linkShareMetadata": _leaves("securityUpdateEligible securityUpdateEnabled"),
    "owners": USER,
    "permissions": PERMISSION,
    "properties": OPEN,
    "sharingUser": USER,
    "shortcutDetails": _leaves("targetId targetMimeType targetResourceKey"),
    "trashingUser": USER,
    "videoMediaMetadata": _leaves("durationMillis height width"),
}

FILE_LIST: Final[Schema] = {
    "files": FILE,
    "incompleteSearch": None,
    "kind": None,
    "nextPageToken": None,
}
