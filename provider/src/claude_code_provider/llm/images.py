"""Pure: OpenAI ``image_url`` parts as images and ``file`` parts (PDFs) as documents, with their bytes, within
the API's limits, or a 400 naming them.

Only ``data:`` URLs are taken. A remote URL is refused: fetching it from inside a pod that holds someone's
login would let any caller make the pod request what it likes (server-side request forgery)."""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from typing import Any, get_args

from ..errors import ClaudeCodeError, ErrorKind
from ..protocol import ChatTurn, DocumentPart, ImageMediaType, ImagePart, TextPart

MEDIA_TYPES: tuple[str, ...] = get_args(ImageMediaType)
# Anthropic's API limits: 5 MB per image, counted on its base64 text (the API's own check: "image exceeds 5 MB
# maximum: N bytes > 5242880 bytes" on the encoded string, so about 3.75 MiB decoded), 100 images per request.
MAX_IMAGE_BASE64 = 5 * 1024 * 1024
MAX_IMAGES = 100
# And 32 MB per request: what it carries inline (images, PDFs) is refused here before the CLI sends it.
MAX_INLINE_BASE64 = 32 * 1024 * 1024
_DATA_URL = re.compile(r"data:(?P<type>[^;,]*)(?P<params>(?:;[^;,]*)*),(?P<data>.*)", re.DOTALL)
# The first bytes of each format, so a mislabelled image is refused here rather than by the API.
_MAGIC: dict[str, tuple[bytes, ...]] = {
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/gif": (b"GIF87a", b"GIF89a"),
    "image/webp": (b"RIFF",),
}


def _bad(message: str) -> ClaudeCodeError:
    return ClaudeCodeError(ErrorKind.BAD_REQUEST, message)


def _looks_like(media_type: str, data: bytes) -> bool:
    if media_type == "image/webp":
        return data[:4] == b"RIFF" and data[8:12] == b"WEBP"
    return data.startswith(_MAGIC[media_type])


def to_image_part(part: Mapping[str, Any], where: str) -> ImagePart:
    """One ``{"type": "image_url", "image_url": {"url": "data:image/png;base64,..."}}`` part."""
    image_url = part.get("image_url")
    url = image_url.get("url") if isinstance(image_url, Mapping) else image_url
    if not isinstance(url, str) or not url:
        raise _bad(f"{where}: an image_url part needs image_url.url (a data: URL).")
    if re.match(r"https?://", url, re.IGNORECASE):
        raise _bad(
            f"{where}: remote image URLs are not fetched (this pod holds a login; a fetcher in it would be a "
            "server-side request forgery risk). Send the image inline as a data: URL "
            "(data:image/png;base64,...)."
        )
    found = _DATA_URL.fullmatch(url)
    if found is None:
        raise _bad(f"{where}: image_url.url must be a data: URL such as data:image/png;base64,...")
    media_type = found["type"].strip().lower()
    if media_type not in MEDIA_TYPES:
        raise _bad(f"{where}: image type {media_type or '(none)'!r} is not supported (use {', '.join(MEDIA_TYPES)}).")
    data = _decode(found, media_type, where)
    if not _looks_like(media_type, data):
        raise _bad(f"{where}: the data is not a {media_type} image (its bytes do not start like one).")
    # Valid base64 (checked by the decode) is passed on as the client sent it: its length is the API's measure.
    encoded = found["data"]
    if len(encoded) > MAX_IMAGE_BASE64:
        raise _bad(
            f"{where}: the image is {len(encoded)} bytes base64-encoded; the API's limit is {MAX_IMAGE_BASE64} bytes "
            "(5 MB) per image, counted on the base64 text (about 3.75 MiB of image). Send a smaller or more "
            "compressed image (fewer pixels, JPEG or WebP)."
        )
    return ImagePart(media_type=media_type, data=encoded)


def _decode(found: re.Match[str], media_type: str, where: str) -> bytes:
    if "base64" not in [p.strip().lower() for p in found["params"].split(";")]:
        raise _bad(f"{where}: the data: URL must be base64 (data:{media_type};base64,...).")
    try:
        return base64.b64decode(found["data"], validate=True)
    except (binascii.Error, ValueError):
        raise _bad(f"{where}: the data: URL's base64 is malformed.") from None


def to_document_part(part: Mapping[str, Any], where: str) -> DocumentPart:
    """One ``{"type": "file", "file": {"file_data": "data:application/pdf;base64,...", "filename": ...}}`` part."""
    file = part.get("file")
    url = file.get("file_data") if isinstance(file, Mapping) else None
    if not isinstance(url, str) or not url:
        raise _bad(
            f"{where}: a file part needs file.file_data (a data:application/pdf;base64,... URL); uploaded file ids "
            "are not supported."
        )
    found = _DATA_URL.fullmatch(url)
    if found is None:
        raise _bad(f"{where}: file.file_data must be a data: URL such as data:application/pdf;base64,...")
    media_type = found["type"].strip().lower()
    if media_type != "application/pdf":
        raise _bad(
            f"{where}: file type {media_type or '(none)'!r} is not supported: only PDFs (application/pdf) reach the "
            "model as documents; send other text as text, images as image_url."
        )
    if not _decode(found, media_type, where).startswith(b"%PDF-"):
        raise _bad(f"{where}: the data is not a PDF (its bytes do not start with %PDF-).")
    return DocumentPart(data=found["data"])


def check_inline_limits(turns: list[ChatTurn]) -> None:
    """The API's limits on a whole request: the number of images, and the size of what it carries inline."""
    parts = [part for turn in turns for part in turn.parts if not isinstance(part, TextPart)]
    count = sum(isinstance(part, ImagePart) for part in parts)
    if count > MAX_IMAGES:
        raise _bad(f"messages: {count} images in one request; the limit is {MAX_IMAGES}.")
    size = sum(len(part.data) for part in parts)
    if size > MAX_INLINE_BASE64:
        raise _bad(
            f"messages: the images and documents are {size} bytes base64-encoded; the API takes at most "
            f"{MAX_INLINE_BASE64} bytes (32 MB) per request. Send fewer or smaller files."
        )


def split_images(content: Any, index: int) -> tuple[Any, list[TextPart | ImagePart | DocumentPart]]:
    """A user message's content without its images and documents (for the text), and all its parts in order;
    no parts when it has neither."""
    if isinstance(content, str) or not isinstance(content, list):
        return content, []
    if not any(isinstance(part, Mapping) and part.get("type") in ("image_url", "file") for part in content):
        return content, []
    texts: list[Any] = []
    parts: list[TextPart | ImagePart | DocumentPart] = []
    for number, part in enumerate(content):
        kind = part.get("type") if isinstance(part, Mapping) else None
        if kind == "image_url":
            parts.append(to_image_part(part, f"messages[{index}].content[{number}]"))
        elif kind == "file":
            parts.append(to_document_part(part, f"messages[{index}].content[{number}]"))
        else:
            texts.append(part)
            if kind == "text":
                parts.append(TextPart(text=str(part.get("text", ""))))
    return texts, parts
