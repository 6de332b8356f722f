"""Core's Abilities REST API (`wp-abilities/v1`): the second way to run an ability.

It bypasses mcp-adapter entirely (no `meta.mcp.public` check, only `show_in_rest`), so it
must really work here for a sidecar's block of it to be worth testing.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from proxy.demo.abilities import Ability, AbilityError, run_ability
from proxy.demo.responses import RestError, WPJSONResponse
from proxy.demo.rest_server import RestCall, RestRoute
from proxy.demo.users import DemoUser

__all__ = ["abilities_routes"]

_NAME = r"(?P<name>[a-zA-Z0-9\-\/]+?)"
_QUERY_KEY = re.compile(r"input\[([^\]]+)\]")
_ALL_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


def _can_read(user: DemoUser | None) -> bool:
    return user is not None and user.can("read")


def _ability(call: RestCall) -> Ability:
    ability = call.site.abilities.get(call.params["name"])
    if ability is None or not ability.show_in_rest:
        raise RestError("rest_ability_not_found", "Ability not found.", 404)
    return ability


async def _list(call: RestCall) -> WPJSONResponse:
    shown = [ability.describe() for ability in call.site.abilities.values() if ability.show_in_rest]
    return WPJSONResponse(shown, headers={"X-WP-Total": str(len(shown)), "X-WP-TotalPages": "1"})


async def _get(call: RestCall) -> WPJSONResponse:
    return WPJSONResponse(_ability(call).describe())


def _expected_method(ability: Ability) -> tuple[str, str]:
    if ability.readonly:
        return "GET", "Read-only abilities require GET method."
    if ability.destructive and ability.idempotent:
        return "DELETE", "Abilities that perform destructive actions require DELETE method."
    return "POST", "Abilities that perform updates require POST method."


def _coerce(value: Any, schema: Mapping[str, Any]) -> Any:
    """Query strings carry only strings; type them after the schema as WordPress 7.1 does."""
    if not isinstance(value, dict):
        return value
    properties = schema.get("properties", {})
    typed = dict(value)
    for key, raw in value.items():
        kind = properties.get(key, {}).get("type")
        if kind == "integer" and re.fullmatch(r"-?\d+", raw):
            typed[key] = int(raw)
        elif kind == "boolean" and raw in ("true", "false", "1", "0"):
            typed[key] = raw in ("true", "1")
    return typed


def _input(call: RestCall, ability: Ability) -> Any:
    """GET/DELETE: `?input[key]=value`; POST: `{"input": ...}` in the JSON body."""
    if call.request.method in ("GET", "DELETE"):
        query = call.request.query_params
        nested = {m[1]: v for k, v in query.multi_items() if (m := _QUERY_KEY.fullmatch(k))}
        return _coerce(nested or query.get("input"), ability.input_schema)
    return call.body.get("input") if isinstance(call.body, dict) else None


async def _run(call: RestCall) -> WPJSONResponse:
    ability = _ability(call)
    expected, message = _expected_method(ability)
    if call.request.method != expected:
        raise RestError("rest_ability_invalid_method", message, 405)
    try:
        result = run_ability(call.site, ability, call.user, _input(call, ability))
    except AbilityError as error:
        if error.code == "ability_invalid_permissions":
            status = 401 if call.user is None else 403
            raise RestError(
                "rest_ability_cannot_execute", "Sorry, you are not allowed to execute this ability.", status
            ) from None
        raise RestError(error.code, error.message, error.status) from None
    return WPJSONResponse(result)


def abilities_routes() -> list[RestRoute]:
    # The run route first: `/abilities/<name>` would otherwise swallow `<name>/run`.
    return [
        RestRoute("wp-abilities/v1", f"/abilities/{_NAME}/run", _ALL_METHODS, _run),
        RestRoute("wp-abilities/v1", "/abilities", ("GET",), _list, _can_read),
        RestRoute("wp-abilities/v1", r"/abilities/(?P<name>[a-zA-Z0-9\-\/]+)", ("GET",), _get, _can_read),
    ]
