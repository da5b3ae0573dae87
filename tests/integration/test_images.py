"""Images through the real chain: a data: URL reaches the model as an image block with its bytes and media type."""

from __future__ import annotations

import base64
from collections.abc import Callable

import openai
import pytest

from claude_code_devkit.fakes.anthropic_api import FakeAnthropic, TextReply
from claude_code_devkit.stack import Runtime

# 1x1 images in each format the API takes, written out.
PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
JPEG = (
    "/9j/4AAQSkZJRgABAQEASABIAAD/2wBDAP//////////////////////////////////////////////////////////////////"
    "////////////////////wgALCAABAAEBAREA/8QAFBABAAAAAAAAAAAAAAAAAAAAAP/aAAgBAQABPxA="
)
GIF = "R0lGODlhAQABAIAAAP///wAAACH5BAEAAAAALAAAAAABAAEAAAICRAEAOw=="
WEBP = "UklGRhoAAABXRUJQVlA4TA0AAAAvAAAAEAcQERGIiP4HAA=="
# A minimal PDF (base64 of "%PDF-1.4 ... %%EOF").
PDF = "JVBERi0xLjQKMSAwIG9iago8PC9UeXBlL0NhdGFsb2c+PgplbmRvYmoKdHJhaWxlcgo8PC9Sb290IDEgMCBSPj4KJSVFT0YK"


def image(media_type: str, data: str) -> dict[str, object]:
    return {"type": "image_url", "image_url": {"url": f"data:{media_type};base64,{data}"}}


def sent_images(fake: FakeAnthropic) -> list[tuple[str, bytes]]:
    """What the upstream received: (media type, bytes) of every image block, in order."""
    return [
        (block["source"]["media_type"], base64.b64decode(block["source"]["data"]))
        for message in fake.messages_requests[-1].chat_messages
        if isinstance(message["content"], list)
        for block in message["content"]
        if block.get("type") == "image"
    ]


@pytest.mark.parametrize("route", ["", "remote/"])
@pytest.mark.parametrize(
    ("media_type", "data"), [("image/png", PNG), ("image/jpeg", JPEG), ("image/gif", GIF), ("image/webp", WEBP)]
)
def test_an_inline_image_reaches_the_model_with_its_bytes_and_media_type(
    route: str, media_type: str, data: str, fake: FakeAnthropic, client: openai.OpenAI
) -> None:
    fake.enqueue(TextReply("A white pixel."))

    reply = client.chat.completions.create(
        model=f"{route}sonnet",
        messages=[{"role": "user", "content": [{"type": "text", "text": "What is this?"}, image(media_type, data)]}],  # type: ignore[list-item]
    )

    assert reply.choices[0].message.content == "A white pixel."
    assert sent_images(fake) == [(media_type, base64.b64decode(data))]
    (last,) = [m for m in fake.messages_requests[-1].chat_messages if m["role"] == "user"][-1:]
    texts = [b["text"] for b in last["content"] if b.get("type") == "text"]
    assert "What is this?" in texts


def pdf(data: str = PDF) -> dict[str, object]:
    return {"type": "file", "file": {"file_data": f"data:application/pdf;base64,{data}", "filename": "a.pdf"}}


def sent_documents(fake: FakeAnthropic) -> list[dict[str, object]]:
    """What the upstream received: the source of every document block, in order."""
    return [
        block["source"]
        for message in fake.messages_requests[-1].chat_messages
        if isinstance(message["content"], list)
        for block in message["content"]
        if block.get("type") == "document"
    ]


PDF_SOURCE = {"type": "base64", "media_type": "application/pdf", "data": PDF}


@pytest.mark.parametrize("route", ["", "remote/"])
def test_a_pdf_file_part_reaches_the_model_as_a_document_block(
    route: str, fake: FakeAnthropic, client: openai.OpenAI
) -> None:
    fake.enqueue(TextReply("An empty PDF."))
    question = {"role": "user", "content": [{"type": "text", "text": "What is in it?"}, pdf()]}

    reply = client.chat.completions.create(model=f"{route}sonnet", messages=[question])  # type: ignore[list-item]

    assert reply.choices[0].message.content == "An empty PDF."
    (user,) = fake.messages_requests[-1].chat_messages
    assert [{k: v for k, v in block.items() if k != "cache_control"} for block in user["content"]] == [
        {"type": "text", "text": "What is in it?"},
        {"type": "document", "source": PDF_SOURCE},
    ]


@pytest.mark.parametrize("route", ["", "remote/"])
def test_a_pdf_in_history_reaches_the_model_from_a_transcript(
    route: str, fake: FakeAnthropic, client: openai.OpenAI
) -> None:
    fake.enqueue(TextReply("Still empty."))
    messages = [
        {"role": "user", "content": [pdf(), {"type": "text", "text": "Keep this."}]},
        {"role": "assistant", "content": "Kept."},
        {"role": "user", "content": "What was in it?"},
    ]

    client.chat.completions.create(model=f"{route}sonnet", messages=messages)  # type: ignore[arg-type]

    assert sent_documents(fake) == [PDF_SOURCE]


HISTORY = [
    {"role": "user", "content": [{"type": "text", "text": "Remember this."}, image("image/png", PNG)]},
    {"role": "assistant", "content": "Remembered."},
    {"role": "user", "content": [image("image/gif", GIF), {"type": "text", "text": "And this one?"}]},
]


@pytest.mark.parametrize("route", ["", "remote/"])
def test_images_in_history_reach_the_model_in_order(route: str, fake: FakeAnthropic, client: openai.OpenAI) -> None:
    fake.enqueue(TextReply("Both seen."))

    client.chat.completions.create(model=f"{route}sonnet", messages=HISTORY)  # type: ignore[arg-type]

    assert sent_images(fake) == [("image/png", base64.b64decode(PNG)), ("image/gif", base64.b64decode(GIF))]


def test_images_and_documents_are_served_warm_history_included(
    fake: FakeAnthropic, start: Callable[..., Runtime]
) -> None:
    runtime = start(env={"CLAUDE_CODE_POOL_WARM_MODELS": "sonnet", "CLAUDE_CODE_POOL_SIZE": "1"})
    runtime.wait_for_spares(1)
    fake.enqueue(TextReply("Both seen."))
    png = {"type": "image", "media_type": "image/png", "data": PNG}
    gif = {"type": "image", "media_type": "image/gif", "data": GIF}
    messages = [
        {"role": "user", "content": "Remember this.", "parts": [{"type": "text", "text": "Remember this."}, png]},
        {"role": "assistant", "content": "Remembered."},
        {
            "role": "user",
            "content": "And this one?",
            "parts": [gif, {"type": "document", "data": PDF}, {"type": "text", "text": "And this one?"}],
        },
    ]

    assert runtime.complete({"model": "sonnet", "messages": messages}).is_success

    assert runtime.metric("claude_code_request_paths_total", path="spare") == 1
    assert sent_images(fake) == [("image/png", base64.b64decode(PNG)), ("image/gif", base64.b64decode(GIF))]
    assert sent_documents(fake) == [PDF_SOURCE]


@pytest.mark.parametrize(
    ("part", "says"),
    [
        (
            {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}},
            "messages[0].content[1]: remote image URLs are not fetched",
        ),
        (image("image/bmp", PNG), "messages[0].content[1]: image type 'image/bmp' is not supported"),
        (image("image/png", "not base64!"), "messages[0].content[1]: the data: URL's base64 is malformed"),
        (image("image/jpeg", PNG), "messages[0].content[1]: the data is not a image/jpeg image"),
        (
            # 4 MiB of image is 5,592,408 bytes of base64: over the API's 5 MB, which it counts on the base64.
            image("image/png", base64.b64encode(base64.b64decode(PNG).ljust(4 * 1024 * 1024, b"\0")).decode()),
            "messages[0].content[1]: the image is 5592408 bytes base64-encoded; the API's limit is 5242880 bytes "
            "(5 MB) per image, counted on the base64 text",
        ),
        (
            {"type": "file", "file": {"file_data": f"data:text/csv;base64,{PDF}", "filename": "a.csv"}},
            "messages[0].content[1]: file type 'text/csv' is not supported: only PDFs (application/pdf)",
        ),
    ],
)
def test_an_image_it_cannot_pass_on_is_a_400_naming_the_part(
    part: dict[str, object], says: str, fake: FakeAnthropic, client: openai.OpenAI
) -> None:
    with pytest.raises(openai.BadRequestError) as refused:
        client.chat.completions.create(
            model="remote/sonnet",
            messages=[{"role": "user", "content": [{"type": "text", "text": "Look"}, part]}],  # type: ignore[list-item]
        )

    assert says in refused.value.body["message"]  # type: ignore[index]
    assert fake.messages_requests == []


def test_more_images_than_the_api_takes_is_a_400(fake: FakeAnthropic, client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as refused:
        client.chat.completions.create(
            model="remote/sonnet",
            messages=[{"role": "user", "content": [image("image/gif", GIF)] * 101}],  # type: ignore[list-item]
        )

    assert "messages: 101 images in one request; the limit is 100." in refused.value.body["message"]  # type: ignore[index]
    assert fake.messages_requests == []
