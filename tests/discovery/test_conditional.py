"""Conditional GET over a fixed representation: RFC 9110 section 13, one case per line."""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Mapping

import pytest
from multidict import CIMultiDict

from proxy.discovery.conditional import Outcome, Representation, evaluate, response_headers

LAST_MODIFIED = 784111777.75  # Sun, 06 Nov 1994 08:49:37.75 GMT
LM_DATE = "Sun, 06 Nov 1994 08:49:37 GMT"
BEFORE = "Sun, 06 Nov 1994 08:49:36 GMT"
AFTER = "Mon, 07 Nov 1994 08:49:37 GMT"
NOW = 1_800_000_000.0  # 2027
REP = Representation.of_json({"b": [1, 2], "a": "x"}, last_modified=LAST_MODIFIED)
TAG = REP.etag
OTHER = '"0000"'


def run(method: str = "GET", rep: Representation = REP, **headers: str) -> Outcome:
    fields = CIMultiDict((name.replace("_", "-"), value) for name, value in headers.items())
    return evaluate(method, fields, rep, max_age=300, now=NOW)


def test_etag_is_the_quoted_sha256_of_the_body() -> None:
    assert REP.body == b'{"a":"x","b":[1,2]}'
    assert REP.etag == f'"{hashlib.sha256(REP.body).hexdigest()}"'
    assert "etag" not in {f.name for f in dataclasses.fields(REP) if f.init}  # always derived


def test_response_headers() -> None:
    assert response_headers(REP, max_age=60) == {
        "ETag": TAG,
        "Last-Modified": LM_DATE,
        "Cache-Control": "public, max-age=60",
    }


def test_last_modified_is_never_shown_in_the_future() -> None:
    ahead = dataclasses.replace(REP, last_modified=NOW + 1)
    shown = run(rep=ahead).headers["Last-Modified"]
    assert shown == "Fri, 15 Jan 2027 08:00:00 GMT"  # NOW
    assert run(rep=ahead, if_modified_since=shown).status == 200  # the date shown is older than the bytes


def test_200_then_304_with_the_same_etag() -> None:
    first = run()
    assert first.status == 200
    assert first.body == REP.body
    assert first.headers == {
        "ETag": TAG,
        "Last-Modified": LM_DATE,
        "Cache-Control": "public, max-age=300",
        "Content-Type": "application/json",
        "Content-Length": str(len(REP.body)),
    }
    second = run(If_None_Match=first.headers["ETag"])
    assert second.status == 304
    assert second.body == b""
    assert second.headers == {"ETag": TAG, "Last-Modified": LM_DATE, "Cache-Control": "public, max-age=300"}


@pytest.mark.parametrize(
    ("if_none_match", "status"),
    [
        (TAG, 304),
        (f"W/{TAG}", 304),  # weak comparison: a gzip-ing proxy weakened our tag
        (OTHER, 200),
        (f"W/{OTHER}", 200),
        (f"{OTHER}, {TAG}", 304),
        (f"{OTHER},{TAG}", 304),
        (f"  {OTHER} ,\t W/{TAG}  ", 304),
        (f'"a,b", {TAG}', 304),  # a comma inside a tag is not a separator
        (f'"a,b", {OTHER}', 200),
        (f", , {TAG},", 304),  # empty list members are allowed
        ("*", 304),
        (" * ", 304),
        ("", 200),  # an empty list matches nothing
        (TAG.strip('"'), 200),  # unquoted: not an entity-tag, the field is ignored
        (f"{TAG} garbage", 200),
        (f"{OTHER}, W/", 200),
        (f"w/{TAG}", 200),  # the weak prefix is case-sensitive
        (TAG.upper(), 200),  # opaque tags compare octet by octet
    ],
)
def test_if_none_match(if_none_match: str, status: int) -> None:
    assert run(If_None_Match=if_none_match).status == status


def test_repeated_if_none_match_lines_are_one_list() -> None:
    fields = CIMultiDict([("If-None-Match", OTHER), ("if-none-match", TAG)])
    assert evaluate("GET", fields, REP, max_age=300, now=NOW).status == 304


def test_a_plain_mapping_works_too() -> None:
    headers: Mapping[str, str] = {"If-None-Match": TAG}
    assert evaluate("GET", headers, REP, max_age=300, now=NOW).status == 304


@pytest.mark.parametrize(
    ("if_modified_since", "status"),
    [
        (LM_DATE, 304),  # Last-Modified is whole seconds: .75 is not "later" than what was sent
        (AFTER, 304),
        (BEFORE, 200),
        ("Sunday, 06-Nov-94 08:49:37 GMT", 304),  # RFC 850 form
        ("Sun Nov  6 08:49:37 1994", 304),  # asctime form, read as GMT
        ("Sat Nov  5 08:49:37 1994", 200),
        (f"  {LM_DATE}  ", 304),
        ("Wed, 01 Jan 2100 00:00:00 GMT", 200),  # later than now: invalid, ignored
        ("garbage", 200),
        ("", 200),
        ("Sun, 06 Nov 1994 08:49:37 +0000", 200),  # not an HTTP-date
        ("Sun, 06 Nov 1994 08:49:37", 200),
        ("06 Nov 1994 08:49:37 GMT", 200),
        ("Sun, 6 Nov 1994 08:49:37 GMT", 200),
        ("Sun, 31 Feb 1994 08:49:37 GMT", 200),  # the right shape, no such day
        ("Sun, 06 Nov 1994 25:49:37 GMT", 200),
        (f"{LM_DATE}, {LM_DATE}", 200),  # more than one member
        ("784111777", 200),
    ],
)
def test_if_modified_since(if_modified_since: str, status: int) -> None:
    assert run(If_Modified_Since=if_modified_since).status == status


@pytest.mark.parametrize(
    ("if_none_match", "status"),
    [(OTHER, 200), (TAG, 304), ("", 200), ("*", 304)],
)
def test_if_none_match_overrides_if_modified_since(if_none_match: str, status: int) -> None:
    assert run(If_None_Match=if_none_match, If_Modified_Since=AFTER).status == status


def test_an_invalid_if_none_match_is_ignored_as_if_absent() -> None:
    assert run(If_None_Match="not-a-tag", If_Modified_Since=AFTER).status == 304


def test_repeated_if_modified_since_lines_are_ignored() -> None:
    fields = CIMultiDict([("If-Modified-Since", AFTER), ("If-Modified-Since", AFTER)])
    assert evaluate("GET", fields, REP, max_age=300, now=NOW).status == 200


def test_if_modified_since_defaults_to_the_real_clock() -> None:
    fields = CIMultiDict({"If-Modified-Since": AFTER})
    assert evaluate("GET", fields, REP, max_age=300).status == 304
    future = CIMultiDict({"If-Modified-Since": "Fri, 01 Jan 9999 00:00:00 GMT"})
    assert evaluate("GET", future, REP, max_age=300).status == 200


@pytest.mark.parametrize("method", ["HEAD", "head"])
def test_head_has_the_get_headers_and_no_body(method: str) -> None:
    get, head = run("GET"), run(method)
    assert (head.status, head.body) == (200, b"")
    assert head.headers == get.headers  # Content-Length still says what GET would send
    not_modified = run(method, If_None_Match=TAG)
    assert (not_modified.status, not_modified.body) == (304, b"")
    assert run(method, If_Modified_Since=AFTER).status == 304


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE"])
def test_other_methods_get_412_on_a_matching_if_none_match(method: str) -> None:
    assert run(method, If_None_Match=TAG) == Outcome(412, {"ETag": TAG})
    assert run(method, If_None_Match="*").status == 412
    assert run(method, If_None_Match=OTHER).status == 200
    assert run(method, If_Modified_Since=AFTER).status == 200  # only GET and HEAD use it


def test_a_changed_body_no_longer_matches() -> None:
    changed = Representation.of_json({"a": "y", "b": [1, 2]}, last_modified=LAST_MODIFIED)
    assert changed.etag != TAG
    assert run(rep=changed, If_None_Match=TAG).status == 200
    assert run(rep=changed, If_None_Match=f"W/{TAG}").status == 200


def test_a_later_change_beats_an_old_if_modified_since() -> None:
    later = Representation(REP.body, REP.content_type, LAST_MODIFIED + 86400)
    assert later.etag == TAG  # same bytes, same tag
    assert run(rep=later, If_Modified_Since=LM_DATE).status == 200
    assert run(rep=later, If_None_Match=TAG, If_Modified_Since=LM_DATE).status == 304
