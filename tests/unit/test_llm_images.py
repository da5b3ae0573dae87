"""OpenAI image parts as images with their bytes, in order with the text, within the API's limits, or a 400
naming the part."""

from __future__ import annotations

import base64

import pytest

from claude_code_provider.engine.history import to_user_content
from claude_code_provider.errors import ClaudeCodeError
from claude_code_provider.llm.translate import to_request

# 1x1 images, written out.
GIF = "R0lGODlhAQABAIAAAP///wAAACH5BAEAAAAALAAAAAABAAEAAAICRAEAOw=="
PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
WEBP = "UklGRhoAAABXRUJQVlA4TA0AAAAvAAAAEAcQERGIiP4HAA=="
# "RIFF", a size, then "WAVE" where a WebP has "WEBP" (bytes 8-12).
RIFF_WAVE = base64.b64encode(b"RIFF\x1a\x00\x00\x00WAVEfmt \x10\x00\x00\x00").decode()
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def test_text_and_images_keep_their_order_and_the_text_stays_the_turns_content() -> None:
    content = [
        {"type": "text", "text": "Before "},
        {"type": "image_url", "image_url": {"url": f"data:image/gif;base64,{GIF}"}},
        {"type": "text", "text": "after"},
    ]

    (turn,) = to_request("sonnet", [{"role": "user", "content": content}], {}).messages

    assert turn.content == "Before after"
    assert to_user_content(turn) == [
        {"type": "text", "text": "Before "},
        {"type": "image", "source": {"type": "base64", "media_type": "image/gif", "data": GIF}},
        {"type": "text", "text": "after"},
    ]


def test_a_turn_without_images_stays_plain_text() -> None:
    (turn,) = to_request("sonnet", [{"role": "user", "content": [{"type": "text", "text": "hi"}]}], {}).messages

    assert to_user_content(turn) == "hi"


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("http://10.0.0.1/x.png", "messages[0].content[0]: remote image URLs are not fetched"),
        ("data:image/gif," + GIF, "messages[0].content[0]: the data: URL must be base64"),
        ("data:;base64," + GIF, "messages[0].content[0]: image type '(none)' is not supported"),
        ("ftp://x", "messages[0].content[0]: image_url.url must be a data: URL"),
        ("data:image/webp;base64," + GIF, "messages[0].content[0]: the data is not a image/webp image"),
    ],
)
def test_image_urls_without_a_faithful_form_are_a_400_naming_the_part(url: str, says: str) -> None:
    message = {"role": "user", "content": [{"type": "image_url", "image_url": {"url": url}}]}

    with pytest.raises(ClaudeCodeError) as refused:
        to_request("sonnet", [message], {})

    assert refused.value.message.startswith(says)


def image_part(url: str) -> dict[str, object]:
    return {"type": "image_url", "image_url": {"url": url}}


def png_url(decoded_size: int) -> str:
    """A data: URL of PNG bytes (the signature, then zeros) of this decoded size."""
    return "data:image/png;base64," + base64.b64encode(PNG_SIGNATURE.ljust(decoded_size, b"\0")).decode()


def refusal(*parts: dict[str, object]) -> str:
    with pytest.raises(ClaudeCodeError) as refused:
        to_request("sonnet", [{"role": "user", "content": list(parts)}], {})
    assert refused.value.status == 400
    return refused.value.message


def test_an_image_of_exactly_5_mb_of_base64_passes() -> None:
    url = png_url(3_932_160)  # 5,242,880 characters of base64
    assert len(url) == len("data:image/png;base64,") + 5_242_880

    (turn,) = to_request("sonnet", [{"role": "user", "content": [image_part(url)]}], {}).messages

    assert len(to_user_content(turn)[0]["source"]["data"]) == 5_242_880  # type: ignore[index]


@pytest.mark.parametrize(
    ("decoded_size", "base64_size"),
    [(3_932_161, 5_242_884), (4 * 1024 * 1024, 5_592_408)],
)
def test_an_image_over_5_mb_of_base64_is_a_400_saying_what_to_send(decoded_size: int, base64_size: int) -> None:
    assert refusal(image_part(png_url(decoded_size))) == (
        f"messages[0].content[0]: the image is {base64_size} bytes base64-encoded; the API's limit is 5242880 "
        "bytes (5 MB) per image, counted on the base64 text (about 3.75 MiB of image). Send a smaller or more "
        "compressed image (fewer pixels, JPEG or WebP)."
    )


@pytest.mark.parametrize(("media_type", "data"), [("image/png", PNG), ("image/webp", WEBP), ("image/gif", GIF)])
def test_an_image_whose_bytes_are_its_declared_type_passes(media_type: str, data: str) -> None:
    (turn,) = to_request(
        "sonnet", [{"role": "user", "content": [image_part(f"data:{media_type};base64,{data}")]}], {}
    ).messages
    assert to_user_content(turn) == [
        {"type": "image", "source": {"type": "base64", "media_type": media_type, "data": data}}
    ]


@pytest.mark.parametrize(
    ("url", "message"),
    [
        (
            f"data:image/jpeg;base64,{PNG}",
            "messages[0].content[0]: the data is not a image/jpeg image (its bytes do not start like one).",
        ),
        (
            f"data:image/png;base64,{GIF}",
            "messages[0].content[0]: the data is not a image/png image (its bytes do not start like one).",
        ),
        (
            f"data:image/webp;base64,{RIFF_WAVE}",
            "messages[0].content[0]: the data is not a image/webp image (its bytes do not start like one).",
        ),
        (
            f"data:image/bmp;base64,{PNG}",
            "messages[0].content[0]: image type 'image/bmp' is not supported "
            "(use image/png, image/jpeg, image/gif, image/webp).",
        ),
        ("data:image/png;base64,iVBORw0K!!!", "messages[0].content[0]: the data: URL's base64 is malformed."),
        ("data:image/png;base64,iVBORw0", "messages[0].content[0]: the data: URL's base64 is malformed."),
    ],
)
def test_an_image_that_is_not_what_it_says_is_a_400_naming_the_part(url: str, message: str) -> None:
    assert refusal(image_part(url)) == message


# A minimal PDF, written out (base64 of "%PDF-1.4 ... %%EOF").
PDF = "JVBERi0xLjQKMSAwIG9iago8PC9UeXBlL0NhdGFsb2c+PgplbmRvYmoKdHJhaWxlcgo8PC9Sb290IDEgMCBSPj4KJSVFT0YK"


def file_part(file_data: str | None, **file: str) -> dict[str, object]:
    return {"type": "file", "file": {**({"file_data": file_data} if file_data is not None else {}), **file}}


def test_a_pdf_file_part_is_a_document_block_in_order_with_the_text() -> None:
    content = [{"type": "text", "text": "Read this"}, file_part(f"data:application/pdf;base64,{PDF}", filename="a.pdf")]

    (turn,) = to_request("sonnet", [{"role": "user", "content": content}], {}).messages

    assert turn.content == "Read this"
    assert to_user_content(turn) == [
        {"type": "text", "text": "Read this"},
        {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": PDF}},
    ]


@pytest.mark.parametrize(
    ("part", "message"),
    [
        (
            file_part(f"data:text/plain;base64,{PDF}"),
            "messages[0].content[1]: file type 'text/plain' is not supported: only PDFs (application/pdf) reach the "
            "model as documents; send other text as text, images as image_url.",
        ),
        (
            file_part(None, file_id="file-abc"),
            "messages[0].content[1]: a file part needs file.file_data (a data:application/pdf;base64,... URL); "
            "uploaded file ids are not supported.",
        ),
        (
            file_part("https://example.com/a.pdf"),
            "messages[0].content[1]: file.file_data must be a data: URL such as data:application/pdf;base64,...",
        ),
        (
            file_part(f"data:application/pdf;base64,{PNG}"),
            "messages[0].content[1]: the data is not a PDF (its bytes do not start with %PDF-).",
        ),
        (
            file_part("data:application/pdf;base64,JVBER!"),
            "messages[0].content[1]: the data: URL's base64 is malformed.",
        ),
    ],
)
def test_a_file_part_it_cannot_pass_on_is_a_400_naming_it(part: dict[str, object], message: str) -> None:
    assert refusal({"type": "text", "text": "Read this"}, part) == message


def pdf_of(decoded_size: int) -> dict[str, object]:
    return file_part("data:application/pdf;base64," + base64.b64encode(b"%PDF-".ljust(decoded_size, b"\0")).decode())


def test_what_a_request_carries_inline_is_within_the_apis_32_mb() -> None:
    # 25,165,824 bytes of PDF is 33,554,432 bytes of base64, the API's whole request limit; the GIF adds 60.
    to_request("sonnet", [{"role": "user", "content": [pdf_of(25_165_824)]}], {})

    assert refusal(pdf_of(25_165_824), image_part(f"data:image/gif;base64,{GIF}")) == (
        "messages: the images and documents are 33554492 bytes base64-encoded; the API takes at most 33554432 "
        "bytes (32 MB) per request. Send fewer or smaller files."
    )


def one_gif_turns(count: int) -> list[dict[str, object]]:
    """``count`` images over two user turns, with an answer between them."""
    gif = image_part(f"data:image/gif;base64,{GIF}")
    return [
        {"role": "user", "content": [gif] * (count - count // 2)},
        {"role": "assistant", "content": "Seen."},
        {"role": "user", "content": [gif] * (count // 2)},
    ]


def test_100_images_in_a_request_pass_and_101_are_a_400() -> None:
    request = to_request("sonnet", one_gif_turns(100), {})
    assert sum(len(turn.parts) for turn in request.messages) == 100

    with pytest.raises(ClaudeCodeError) as refused:
        to_request("sonnet", one_gif_turns(101), {})
    assert refused.value.status == 400
    assert refused.value.message == "messages: 101 images in one request; the limit is 100."
