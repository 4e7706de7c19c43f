"""Small checks every source's link parser shares."""

from domain.sources.registry import InvalidLink

# A source's folder id or key: Drive ids are 33 to 44 characters, Dropbox's a few dozen; one of
# hundreds is no link a source gave.
MAX_ID_LENGTH = 200


def checked_length(value: str, name: str) -> str:
    if len(value) > MAX_ID_LENGTH:
        raise InvalidLink(
            f"the link's {name} is {len(value)} characters long: a source's are at most "
            f"{MAX_ID_LENGTH}; paste the folder's link as the source gave it"
        )
    return value


def single(query: dict[str, list[str]], name: str) -> str | None:
    """A query parameter given exactly once and not empty."""
    values = query.get(name)
    return values[0] if values and len(values) == 1 and values[0] else None
