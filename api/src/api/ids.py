"""Ids in paths: a resource's id is a UUID, and anything else names no such resource."""

import uuid

from api.errors import NotFound


def parse_id(value: str, kind: str) -> str:
    """`value` as the canonical UUID text; NotFound ("no <kind> with id ...") when it is none."""
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise NotFound(f"no {kind} with id {value}") from None
