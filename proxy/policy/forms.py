"""The fields PHP puts in `$_POST` for a request body, read the way PHP reads them.

A `rest_route` field in a POSTed form routes the request to the REST API (see `paths`), so the guard must
see every field PHP sees. Generic parsers (aiohttp's multipart reader included) follow RFC 7578; PHP's
reader (`main/rfc1867.c`) differs exactly where a smuggled field would hide:

- Content type: cut at the first `;`, `,` or space, then lower-cased (`multipart/form-data,x` is a form).
- Boundary: the first `boundary` substring of the Content-Type (any parameter, even `xboundary=`), then
  the first `=` after it; quoted up to the next `"`, else up to `,` or `;`.
- Parts start at every line that is exactly `--boundary`, including lines after the closing delimiter.
- Part headers: a line that starts with white space, or has no `:`, continues the previous header (joined
  with no separator); a line of spaces is not the blank line that ends the headers; the first
  `Content-Disposition` wins.
- In `Content-Disposition`, the last `name=` wins, values may be in single or double quotes, an unquoted
  value ends at white space; a part with a `filename=` parameter is a file, not a `$_POST` field.
- A value ends before the next `\\n--boundary`; one `\\r` before it is dropped. No transfer decoding.

Bytes are kept exactly: names and values are decoded as UTF-8 with `surrogateescape`, so anything that is
not UTF-8 stays visible (and `paths` refuses it in a routing field). Where a body could be read two ways,
it is refused (400 `invalid_path`): the boundary string anywhere but on a delimiter line, NUL bytes or
overlong lines in part headers, part headers that never end.
"""

from __future__ import annotations

import re
from typing import Literal
from urllib.parse import parse_qsl

from proxy.errors import SidecarError

__all__ = ["FormKind", "form_fields", "php_form_kind"]

FormKind = Literal["urlencoded", "multipart"]

_KINDS: dict[str, FormKind] = {
    "application/x-www-form-urlencoded": "urlencoded",
    "multipart/form-data": "multipart",
}
_MEDIA_TYPE_END = re.compile(r"[;, ]")
_C_SPACE = b" \t\n\v\f\r"  # C isspace() in the "C" locale
_MAX_HEADER_LINE = 1024  # PHP reads lines through a 5 KiB buffer; longer ones it splits, we refuse
_Field = tuple[str, str]


def _invalid(message: str) -> SidecarError:
    return SidecarError(400, "invalid_path", message)


def php_form_kind(method: str, content_type: str) -> FormKind | None:
    """Which form PHP parses into `$_POST` for this request: only for POST, by PHP's media-type reading."""
    if method.upper() != "POST":
        return None
    return _KINDS.get(_MEDIA_TYPE_END.split(content_type, maxsplit=1)[0].lower())


def form_fields(kind: FormKind, content_type: str, body: bytes) -> list[_Field]:
    """The (name, value) pairs PHP registers in `$_POST`, names not yet mangled (`paths` does that)."""
    if kind == "urlencoded":
        return _urlencoded(body)
    boundary = _php_boundary(content_type)
    return [] if boundary is None else _multipart(body, boundary)


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", "surrogateescape")


def _urlencoded(body: bytes) -> list[_Field]:
    # latin-1 both ways keeps every byte (raw or percent-encoded) exactly; PHP splits POST data on '&' only
    pairs = parse_qsl(body.decode("latin-1"), keep_blank_values=True, encoding="latin-1", separator="&")
    return [(_text(name.encode("latin-1")), _text(value.encode("latin-1"))) for name, value in pairs]


def _php_boundary(content_type: str) -> bytes | None:
    """The boundary as PHP finds it; None when PHP finds none (it then reads no fields at all)."""
    start = content_type.find("boundary")
    if start < 0:
        start = content_type.lower().find("boundary")
    equals = content_type.find("=", start) if start >= 0 else -1
    if equals < 0:
        return None
    value = content_type[equals + 1 :]
    if value.startswith('"'):
        end = value.find('"', 1)
        if end < 0:
            return None
        value = value[1:end]
    else:
        value = re.split("[,;]", value, maxsplit=1)[0]
    if not value:
        raise _invalid("a multipart body with an empty boundary")
    return value.encode("utf-8", "surrogateescape")


def _delimiters(body: bytes, delimiter: bytes) -> tuple[list[int], list[int]]:
    """Where `--boundary` occurs (every occurrence ends a value) and which occurrences start a part.

    Every occurrence must begin a line and be followed by a line end, `--` (the close delimiter) or the
    end of the body; anywhere else PHP's reading and ours could differ, so the body is refused.
    """
    occurrences: list[int] = []
    starts: list[int] = []
    at = body.find(delimiter)
    while at >= 0:
        after = body[at + len(delimiter) : at + len(delimiter) + 2]
        if at > 0 and body[at - 1 : at] != b"\n":
            raise _invalid("the multipart boundary appears inside a line")
        if after.startswith(b"\n") or after == b"\r\n":
            starts.append(at + len(delimiter) + after.index(b"\n") + 1)
        elif after not in (b"--", b"", b"\r"):  # a lone b"\r" is the last byte of the body
            raise _invalid("a multipart delimiter line carries extra characters")
        occurrences.append(at)
        at = body.find(delimiter, at + 1)
    return occurrences, starts


def _multipart(body: bytes, boundary: bytes) -> list[_Field]:
    occurrences, starts = _delimiters(body, b"--" + boundary)
    fields: list[_Field] = []
    for start in starts:
        disposition, value_start = _part_headers(body, start)
        name, is_file = _php_disposition(disposition) if disposition is not None else (None, False)
        if name is None or is_file:
            continue
        end = next((at - 1 for at in occurrences if at - 1 >= value_start), len(body))
        value = body[value_start:end]
        if end < len(body) and value.endswith(b"\r"):
            value = value[:-1]
        fields.append((_text(name), _text(value)))
    return fields


def _part_headers(body: bytes, start: int) -> tuple[bytes | None, int]:
    """The part's first Content-Disposition (PHP's header folding applied), and where its value starts."""
    headers: list[list[bytes]] = []  # [name, value] in order
    at = start
    while True:
        newline = body.find(b"\n", at)
        if newline < 0:
            raise _invalid("the headers of a multipart part never end")
        line = body[at:newline]
        at = newline + 1
        if line.endswith(b"\r"):
            line = line[:-1]
        if not line:
            break
        if b"\x00" in line or len(line) > _MAX_HEADER_LINE:
            raise _invalid("a multipart part header is too long or contains a NUL byte")
        colon = line.find(b":")
        if line[0] not in _C_SPACE and colon >= 0:
            headers.append([line[:colon], line[colon + 1 :].lstrip(_C_SPACE)])
        elif headers:
            headers[-1][1] += line
    disposition = next((value for name, value in headers if name.lower() == b"content-disposition"), None)
    return disposition, at


def _php_disposition(value: bytes) -> tuple[bytes | None, bool]:
    """(the `name` parameter, whether a `filename` parameter is present), as PHP reads them."""
    name: bytes | None = None
    is_file = False
    rest = value.lstrip(_C_SPACE)
    while rest:
        pair, rest = _php_word(rest, b";")
        rest = rest.lstrip(_C_SPACE)
        if b"=" not in pair:
            continue
        key, raw = _php_word(pair, b"=")
        if key.lower() == b"name":
            name = _php_value(raw)
        elif key.lower() == b"filename":
            is_file = True
    return name, is_file


def _php_word(text: bytes, stop: bytes) -> tuple[bytes, bytes]:
    """Up to the first `stop` outside quotes (a backslash escapes the quote), and what follows the stops."""
    at, quote = 0, 0
    while at < len(text):
        char = text[at]
        if quote:
            if char == ord("\\") and text[at + 1 : at + 2] == bytes([quote]):
                at += 1
            elif char == quote:
                quote = 0
        elif char in b"\"'":
            quote = char
        elif text[at : at + 1] == stop:
            word = text[:at]
            while text[at : at + 1] == stop:
                at += 1
            return word, text[at:]
        at += 1
    return text, b""


def _php_value(raw: bytes) -> bytes:
    """A parameter value: quoted (to the closing quote; `\\\\`, `\\<quote>` unescaped) or to white space."""
    raw = raw.lstrip(_C_SPACE)
    quote = raw[:1] if raw[:1] in (b'"', b"'") else b""
    raw = raw[1:] if quote else re.split(rb"[ \t\n\v\f\r]", raw, maxsplit=1)[0]
    out = bytearray()
    at = 0
    while at < len(raw) and raw[at : at + 1] != quote:
        following = raw[at + 1 : at + 2]
        if raw[at : at + 1] == b"\\" and following in (b"\\", quote or b"\\"):
            at += 1
        out += raw[at : at + 1]
        at += 1
    return bytes(out)
