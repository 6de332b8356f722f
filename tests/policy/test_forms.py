"""Form bodies read as PHP reads them: every field PHP would put in $_POST, or a refusal."""

from __future__ import annotations

import aiohttp
import pytest

from proxy.errors import SidecarError
from proxy.policy.forms import form_fields, php_form_kind

MULTIPART = "multipart/form-data; boundary=XyZ"


def multipart(*parts: bytes, boundary: bytes = b"XyZ", epilogue: bytes = b"") -> bytes:
    """Parts (headers, blank line, value) framed by CRLF delimiters, then the close delimiter."""
    body = b"".join(b"--" + boundary + b"\r\n" + part + b"\r\n" for part in parts)
    return body + b"--" + boundary + b"--\r\n" + epilogue


def field(disposition: bytes, value: bytes = b"/wp-abilities/v1/x", *headers: bytes) -> bytes:
    return b"".join(h + b"\r\n" for h in (b"Content-Disposition: " + disposition, *headers)) + b"\r\n" + value


@pytest.mark.parametrize(
    ("method", "content_type", "kind"),
    [
        ("POST", "application/x-www-form-urlencoded", "urlencoded"),
        ("post", "Multipart/Form-Data; boundary=x", "multipart"),
        ("POST", "multipart/form-data,text/plain", "multipart"),  # PHP cuts at ','
        ("POST", "application/x-www-form-urlencoded charset=x", "urlencoded"),  # and at ' '
        ("POST", "multipart/form-data\t; boundary=x", None),  # but not at a tab
        ("POST", "application/json", None),
        ("PUT", "application/x-www-form-urlencoded", None),
        ("POST", "", None),
    ],
)
def test_php_form_kind(method: str, content_type: str, kind: str | None) -> None:
    assert php_form_kind(method, content_type) == kind


class TestUrlencoded:
    def test_fields_decoded_like_php(self) -> None:
        body = b"a=1&rest.route=%2Fwp+json&flag&=x&rest%5Broute=%2F"
        assert form_fields("urlencoded", "", body) == [
            ("a", "1"),
            ("rest.route", "/wp json"),
            ("flag", ""),
            ("", "x"),
            ("rest[route", "/"),
        ]

    def test_only_ampersand_separates(self) -> None:
        assert form_fields("urlencoded", "", b"a=1;rest_route=/x") == [("a", "1;rest_route=/x")]

    def test_bytes_that_are_not_utf8_stay_visible(self) -> None:
        ((name, value),) = form_fields("urlencoded", "", b"rest_route=%2Fx%FF\xfe")
        assert name == "rest_route"
        assert value.encode("utf-8", "surrogateescape") == b"/x\xff\xfe"


class TestMultipart:
    async def test_a_body_written_by_aiohttp(self) -> None:
        form = aiohttp.FormData()
        form.add_field("title", "hello")
        form.add_field("rest.route", "/wp-abilities/v1/x")
        form.add_field("upload", b"rest_route=/y", filename="a.txt", content_type="text/plain")
        payload = form()
        writer = _Collect()
        await payload.write(writer)  # type: ignore[arg-type]
        fields = form_fields("multipart", payload.content_type, b"".join(writer.chunks))
        assert fields == [("title", "hello"), ("rest.route", "/wp-abilities/v1/x")]

    @pytest.mark.parametrize(
        ("disposition", "name"),
        [
            (b'form-data; name="rest_route"', b"rest_route"),
            (b"form-data; name=rest_route", b"rest_route"),
            (b"form-data; name='rest_route'", b"rest_route"),  # single quotes: a token to RFC readers
            (b'form-data; NAME="rest route"', b"rest route"),
            (b'form-data; name="x"; name="rest[route"', b"rest[route"),  # the last one wins
            (b'form-data;name=" rest_route"', b" rest_route"),
            (b'form-data; name="re\\"st"', b're"st'),
            (b'form-data; name="a\\_b"', b"a\\_b"),  # only \\ and \" are escapes
            (b"form-data; name=rest_route trailing", b"rest_route"),
            (b'form-data; x="a;name=b"; name=c', b"c"),  # quotes hide the ';'
            (b"name=rest_route", b"rest_route"),  # no form-data type needed
            (b"form-data; filename*=UTF-8''a.txt; name=rest_route", b"rest_route"),  # not a file to PHP
        ],
    )
    def test_names_as_php_reads_them(self, disposition: bytes, name: bytes) -> None:
        body = multipart(field(disposition, b"v"))
        assert form_fields("multipart", MULTIPART, body) == [(name.decode(), "v")]

    @pytest.mark.parametrize(
        "disposition",
        [b'form-data; name="f"; filename="a.txt"', b"form-data; name=f; FILENAME=", b"form-data", b"name"],
    )
    def test_files_and_nameless_parts_are_not_fields(self, disposition: bytes) -> None:
        assert form_fields("multipart", MULTIPART, multipart(field(disposition))) == []

    def test_headers_fold_the_way_php_folds_them(self) -> None:
        # A line of spaces does not end PHP's headers; a line without ':' continues the last header.
        part = (
            b'Content-Disposition: form-data; name="x"\r\n   \r\n; name=rest_route\r\n\r\n/wp-abilities/v1/x'
        )
        assert form_fields("multipart", MULTIPART, multipart(part)) == [("rest_route", "/wp-abilities/v1/x")]

    def test_the_first_content_disposition_wins(self) -> None:
        part = field(b"form-data; name=a", b"v", b"Content-Disposition: form-data; name=rest_route")
        assert form_fields("multipart", MULTIPART, multipart(part)) == [("a", "v")]

    def test_parts_after_the_close_delimiter_are_read(self) -> None:
        epilogue = b"--XyZ\r\n" + field(b"form-data; name=rest_route", b"/x") + b"\r\n"
        body = multipart(field(b"form-data; name=a", b"v"), epilogue=epilogue)
        # with no delimiter after it, the value runs to the end of the body, line end included
        assert form_fields("multipart", MULTIPART, body) == [("a", "v"), ("rest_route", "/x\r\n")]

    @pytest.mark.parametrize(
        ("content_type", "boundary"),
        [
            ('multipart/form-data; boundary="q;uo,ted"', b"q;uo,ted"),
            ("multipart/form-data; xboundary=first; boundary=second", b"first"),  # PHP: first substring
            ("multipart/form-data; BOUNDARY=upper", b"upper"),
            ("multipart/form-data; boundary=a,b", b"a"),
        ],
    )
    def test_boundary_found_as_php_finds_it(self, content_type: str, boundary: bytes) -> None:
        body = multipart(field(b"form-data; name=rest_route", b"/x"), boundary=boundary)
        assert form_fields("multipart", content_type, body) == [("rest_route", "/x")]

    @pytest.mark.parametrize("content_type", ["multipart/form-data", 'multipart/form-data; boundary="open'])
    def test_no_boundary_no_fields(self, content_type: str) -> None:
        assert form_fields("multipart", content_type, multipart(field(b"name=rest_route"))) == []

    def test_values_end_before_the_next_delimiter_line(self) -> None:
        body = b"--XyZ\nContent-Disposition: form-data; name=a\n\nline one\r\nline two\r\n\r\n--XyZ--"
        assert form_fields("multipart", MULTIPART, body) == [("a", "line one\r\nline two\r\n")]

    @pytest.mark.parametrize(
        ("body", "message"),
        [
            (b"x--XyZ\r\n" + field(b"name=a"), "inside a line"),
            (multipart(field(b"name=a", b"v\r\nsee --XyZ here")), "inside a line"),
            (b"--XyZ \r\n" + field(b"name=a") + b"\r\n--XyZ--", "extra characters"),
            (b"--XyZ\x00\r\n" + field(b"name=a") + b"\r\n--XyZ--", "extra characters"),
            (multipart(b"Content-Disposition: form-data; name=\x00a\r\n\r\nv"), "NUL"),
            (multipart(field(b"name=a", b"v", b"X-Pad: " + b"p" * 1100)), "too long"),
            (b"--XyZ\r\nContent-Disposition: form-data; name=a\r\n", "never end"),
        ],
    )
    def test_ambiguous_bodies_are_refused(self, body: bytes, message: str) -> None:
        with pytest.raises(SidecarError, match=message) as caught:
            form_fields("multipart", MULTIPART, body)
        assert (caught.value.status, caught.value.code) == (400, "invalid_path")

    def test_an_empty_boundary_is_refused(self) -> None:
        with pytest.raises(SidecarError, match="empty boundary"):
            form_fields("multipart", "multipart/form-data; boundary=", b"----\r\n")


class _Collect:
    """The minimal writer aiohttp's payloads write to."""

    def __init__(self) -> None:
        self.chunks: list[bytes] = []

    async def write(self, chunk: bytes) -> None:
        self.chunks.append(bytes(chunk))
