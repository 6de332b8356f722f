"""WordPress-shaped JSON."""

from __future__ import annotations

import json
from typing import Any

import pytest

from proxy.demo.responses import RestError, wp_json_encode


@pytest.mark.parametrize(
    ("value", "encoded"),
    [
        ({"name": "demo/get-post"}, b'{"name":"demo\\/get-post"}'),
        ({"a": [1, True, None]}, b'{"a":[1,true,null]}'),
        ("caf\u00e9", b'"caf\\u00e9"'),
        ("back\\slash/", b'"back\\\\slash\\/"'),
    ],
)
def test_wp_json_encode_is_php_flavoured_and_round_trips(value: Any, encoded: bytes) -> None:
    assert wp_json_encode(value) == encoded
    assert json.loads(encoded) == value


def test_rest_error_body() -> None:
    response = RestError("rest_invalid_json", "Invalid JSON body passed.", 400, json_error_code=4).response()
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/json; charset=UTF-8"
    assert json.loads(bytes(response.body)) == {
        "code": "rest_invalid_json",
        "message": "Invalid JSON body passed.",
        "data": {"status": 400, "json_error_code": 4},
    }
