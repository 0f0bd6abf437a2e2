"""The fields of a decoded body, each checked whole and made fit to keep: strings, maps of strings, times,
links, labels and details. A check that fails appends a Problem to the caller's list and returns None, so a
parser reports every problem of a body at once."""

from __future__ import annotations

import hashlib
import json
import re
from datetime import datetime
from typing import Any, Iterable
from urllib.parse import urlsplit

from voice.intake.decoding import type_name
from voice.intake.models import (
    DETAILS_MAX_BYTES,
    LABEL_KEY_MAX,
    LABEL_VALUE_MAX,
    LABELS_MAX,
    LINK_TEXT_MAX,
    LINKS_MAX,
    URL_MAX,
    Link,
    Problem,
)
from voice.speech.text import printable

_SPACE = re.compile(r"\s+")
_NEWLINES = re.compile(r"\r\n?")
# Go's zero time: Alertmanager's endsAt while an alert fires (https://prometheus.io/docs/alerting/latest/configuration/#webhook_config).
_GO_ZERO_TIME = "0001-01-01T00:00:00Z"
# How much of a sender's structured details is kept before rendering: enough to read, bounded in work.
_DETAILS_DEPTH = 6
_DETAILS_ITEMS = 50


def string(body: dict, name: str, path: str, problems: list[Problem], *, required: bool = False,
           max_chars: int | None = None) -> str | None:
    """body[name] if it is a string (None if absent or null and not required); a required one must not be blank.
    Longer than max_chars is a problem: for keys, which are never cut."""
    value = body.get(name)
    where = f"{path}{name}"
    if value is None:
        if required:
            problems.append(Problem(where, "is missing"))
        return None
    if not isinstance(value, str):
        problems.append(Problem(where, f"must be a string, not {type_name(value)}"))
        return None
    if required and not printable(value).strip():
        problems.append(Problem(where, "is empty"))
        return None
    if max_chars is not None and len(value) > max_chars:
        problems.append(Problem(where, f"is longer than {max_chars} characters"))
        return None
    return value


def string_map(body: dict, name: str, path: str, problems: list[Problem]) -> dict[str, str]:
    """body[name] as a map of strings to strings ({} if absent or null), as Alertmanager's labels are."""
    value = body.get(name)
    if value is None:
        return {}
    if not isinstance(value, dict):
        problems.append(Problem(f"{path}{name}", f"must be an object, not {type_name(value)}"))
        return {}
    if not all(isinstance(item, str) for item in value.values()):
        problems.append(Problem(f"{path}{name}", "must map names to strings"))
        return {}
    return value


def objects(body: dict, name: str, path: str, problems: list[Problem]) -> list[dict]:
    """body[name] as a list of objects ([] if absent or null)."""
    value = body.get(name)
    if value is None:
        return []
    if not isinstance(value, list):
        problems.append(Problem(f"{path}{name}", f"must be a list, not {type_name(value)}"))
        return []
    wrong = next((index for index, item in enumerate(value) if not isinstance(item, dict)), None)
    if wrong is not None:
        problems.append(Problem(f"{path}{name}[{wrong}]", f"must be an object, not {type_name(value[wrong])}"))
        return []
    return value


def timestamp(body: dict, name: str, path: str, problems: list[Problem]) -> datetime | None:
    """body[name] as an aware datetime (RFC 3339 / ISO 8601 with an offset); None if absent or Go's zero time."""
    value = string(body, name, path, problems)
    if value is None or value == _GO_ZERO_TIME:
        return None
    try:
        moment = datetime.fromisoformat(value) if len(value) <= 64 else None
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        problems.append(Problem(f"{path}{name}", "must be a time with its offset, e.g. 2026-12-03T10:01:52Z"))
        return None
    return moment


def one_line(text: str, max_chars: int) -> str:
    """`text` printable, on one line with single spaces, cut to `max_chars` (ending in "…" when cut)."""
    line = _SPACE.sub(" ", printable(text[: max_chars * 4])).strip()
    return line if len(line) <= max_chars else line[: max_chars - 1].rstrip() + "…"


def block(text: str, max_bytes: int = DETAILS_MAX_BYTES) -> str:
    """`text` printable, its lines kept, cut to `max_bytes` of UTF-8 (ending in "…" when cut)."""
    kept = _NEWLINES.sub("\n", printable(text[: max_bytes + 1])).strip()
    encoded = kept.encode("utf-8")
    if len(encoded) <= max_bytes and len(text) <= max_bytes:
        return kept
    return encoded[: max_bytes - 3].decode("utf-8", "ignore").rstrip() + "…"


def rendered(value: Any) -> str:
    """A sender's structured details (any JSON value) as readable text: a string as it is, anything else as
    indented JSON of its first levels and items."""
    if isinstance(value, str):
        return value
    return json.dumps(_pruned(value, _DETAILS_DEPTH), indent=1, ensure_ascii=False)


def link(url: Any, text: str = "") -> Link | None:
    """A Link if `url` is an absolute http(s) URL of sane length; None for anything else (a sender's empty
    generatorURL, a relative path, javascript:, a list)."""
    if not isinstance(url, str) or not url or len(url) > URL_MAX or url != printable(url) or _SPACE.search(url):
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    return Link(url, one_line(text, LINK_TEXT_MAX))


def unique_links(links: Iterable[Link | None]) -> tuple[Link, ...]:
    """The links, each URL once (its first text kept), at most LINKS_MAX."""
    seen: dict[str, Link] = {}
    for each in links:
        if each is not None and each.url not in seen:
            seen[each.url] = each
            if len(seen) == LINKS_MAX:
                break
    return tuple(seen.values())


def labels(pairs: Iterable[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    """A few name/value pairs to show, each printable on one line and bounded; blank names dropped."""
    kept = []
    for name, value in pairs:
        name = one_line(name, LABEL_KEY_MAX)
        if name:
            kept.append((name, one_line(value, LABEL_VALUE_MAX)))
        if len(kept) == LABELS_MAX:
            break
    return tuple(kept)


def digest(text: str) -> str:
    """SHA-256 hex of `text`'s UTF-8, as Alertmanager's notifiers hash a group key (JSON may hold a lone
    surrogate, which has no UTF-8: it is hashed as the surrogate's own three bytes)."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def _pruned(value: Any, depth: int) -> Any:
    if isinstance(value, dict):
        if depth == 0:
            return "{…}"
        items = list(value.items())
        kept = {str(key): _pruned(item, depth - 1) for key, item in items[:_DETAILS_ITEMS]}
        if len(items) > _DETAILS_ITEMS:
            kept["…"] = f"{len(items) - _DETAILS_ITEMS} more"
        return kept
    if isinstance(value, list):
        if depth == 0:
            return "[…]"
        kept_list = [_pruned(item, depth - 1) for item in value[:_DETAILS_ITEMS]]
        if len(value) > _DETAILS_ITEMS:
            kept_list.append(f"… {len(value) - _DETAILS_ITEMS} more")
        return kept_list
    if isinstance(value, str):
        return value[:DETAILS_MAX_BYTES]
    return value
