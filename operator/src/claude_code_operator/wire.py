"""Pure: the few value formats the operator reads and writes (RFC 3339 times, JSON objects)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

#: The most of a text taken from a pod (a reason, a readiness message) that reaches a status message.
MAX_POD_TEXT = 1024


def truncate(text: str, limit: int = MAX_POD_TEXT) -> str:
    """`text`, cut to `limit` characters (the cut marked): a pod's words never outgrow the status schema."""
    return text if len(text) <= limit else text[: limit - 3] + "..."


def to_rfc3339(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_rfc3339(value: object) -> datetime | None:
    """A time as Kubernetes and the runtime write it; None for anything else (a naive time is UTC)."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def json_object(raw: bytes | None) -> dict[str, Any] | None:
    """`raw` as a JSON object (UTF-8, no byte-order mark, as the CLI writes it), else None."""
    if raw is None:
        return None
    try:
        value = json.loads(raw.decode("utf-8"))
    except ValueError:  # not UTF-8, not JSON, or a UTF-8 byte-order mark
        return None
    return value if isinstance(value, dict) else None
