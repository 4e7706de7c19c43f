"""How often a sync runs, as people write it: `15m`, `1h`, `1h30m`, `2d`, or ISO 8601's
`PT1H` / `P1D`. Parsed to seconds once, and written back in the short form."""

import re

_SHORT = re.compile(r"(?:(\d{1,4})d)?(?:(\d{1,5})h)?(?:(\d{1,6})m)?(?:(\d{1,7})s)?")
_ISO = re.compile(r"P(?:(\d{1,4})D)?(?:T(?:(\d{1,5})H)?(?:(\d{1,6})M)?(?:(\d{1,7})S)?)?")
_UNITS = (("d", 86400), ("h", 3600), ("m", 60), ("s", 1))


class InvalidInterval(ValueError):
    pass


def parse_interval(text: str) -> int:
    """Seconds in `text`; raises InvalidInterval saying what is accepted."""
    compact = text.strip().replace(" ", "")
    for pattern, case in ((_SHORT, str.lower), (_ISO, str.upper)):
        match = pattern.fullmatch(case(compact))
        if match and any(match.groups()) and not compact.upper().endswith("T"):
            days, hours, minutes, seconds = (int(part or 0) for part in match.groups())
            return days * 86400 + hours * 3600 + minutes * 60 + seconds
    raise InvalidInterval(
        f"every: {text!r} is not an interval; write it like 15m, 1h, 1h30m, 2d or PT1H"
    )


def format_interval(seconds: int) -> str:
    """The short form: 5400 → `1h30m`."""
    parts = []
    for unit, size in _UNITS:
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts) or "0s"
