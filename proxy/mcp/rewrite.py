"""Hide what a principal may not use: filter tool lists and the abilities WordPress discovers.

WordPress lists every public ability to every user, so the sidecar filters answers to `tools/list`
(and mcp-adapter's `tools/list/all`), to `mcp-adapter-discover-abilities` calls, and to
`resources/list` and `prompts/list` (resources and prompts backed by abilities). Entries that cannot
be read (no string name) are dropped: when in doubt, hide. Every other message passes untouched, and
the rewriter says so (None) so the proxy can forward the original bytes.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from functools import partial
from typing import Any, Protocol

from proxy.mcp.jsonrpc import Message, ParsedBody, RequestId
from proxy.mcp.strict_json import dump_json
from proxy.mcp.target import DISCOVER_ABILITIES_TOOL

__all__ = [
    "TOOL_LIST_METHODS",
    "NamePredicate",
    "ResponseRewriter",
    "Visibility",
    "filter_discovered_abilities",
    "filter_listing",
    "filter_tools_list",
]

NamePredicate = Callable[[str], bool]

TOOL_LIST_METHODS = frozenset({"tools/list", "tools/list/all"})
# The list each listing method answers, and the field naming an entry (resources by URI).
_BACKED_LISTS = {"resources/list": ("resources", "uri"), "prompts/list": ("prompts", "name")}


def _visible(entries: Any, visible: NamePredicate, key: str = "name") -> list[Any]:
    if not isinstance(entries, list):
        return []
    return [e for e in entries if isinstance(e, dict) and isinstance(e.get(key), str) and visible(e[key])]


def filter_listing(
    result: dict[str, Any], visible: NamePredicate, *, entries: str, key: str = "name"
) -> dict[str, Any]:
    """A copy of a listing result (tools/list, resources/list, prompts/list) keeping only the visible
    entries of its `entries` list, each named by `key`.

    A filtered list belongs to one principal, so a stateless-era `cacheScope` becomes "private".
    """
    filtered = {**result, entries: _visible(result.get(entries), visible, key)}
    if "cacheScope" in filtered:
        filtered["cacheScope"] = "private"
    return filtered


def filter_tools_list(result: dict[str, Any], visible_tool: NamePredicate) -> dict[str, Any]:
    """A copy of a tools/list result keeping only visible tools."""
    return filter_listing(result, visible_tool, entries="tools")


def _filter_ability_container(value: Any, visible_ability: NamePredicate) -> dict[str, Any]:
    if not isinstance(value, dict):
        return {"abilities": []}
    return {**value, "abilities": _visible(value.get("abilities"), visible_ability)}


def filter_discovered_abilities(
    call_result: dict[str, Any], visible_ability: NamePredicate
) -> dict[str, Any]:
    """A copy of a discover-abilities CallToolResult listing only visible abilities.

    Both copies of the list are filtered: `structuredContent.abilities` and the JSON in each text
    content item. Fail closed: a text item that is not a JSON object with an abilities list is replaced
    by the filtered structured list (or an empty one), since it cannot be shown to hide nothing.
    Non-text content and error results (`isError: true`) are kept as they are.
    """
    if call_result.get("isError") is True:
        return call_result
    filtered = dict(call_result)
    structured = None
    if "structuredContent" in call_result:
        structured = _filter_ability_container(call_result["structuredContent"], visible_ability)
        filtered["structuredContent"] = structured
    fallback = dump_json(structured if structured is not None else {"abilities": []})

    def text_item(item: dict[str, Any]) -> dict[str, Any]:
        try:
            parsed = json.loads(item["text"]) if isinstance(item.get("text"), str) else None
        except (ValueError, RecursionError):
            parsed = None
        if isinstance(parsed, dict) and isinstance(parsed.get("abilities"), list):
            return {**item, "text": dump_json(_filter_ability_container(parsed, visible_ability))}
        return {**item, "text": fallback}

    content = call_result.get("content")
    if isinstance(content, list):
        filtered["content"] = [
            text_item(item) if isinstance(item, dict) and item.get("type") == "text" else item
            for item in content
        ]
    return filtered


class Visibility(Protocol):
    """What a caller may see (proxy.authz.decision.AccessView)."""

    def tool_visible(self, name: str) -> bool: ...

    def ability_visible(self, name: str) -> bool: ...

    def backed_visible(self, name: str) -> bool: ...


# The methods whose answers may be rewritten (tools/call: only discover-abilities).
_REWRITTEN_METHODS = frozenset({*TOOL_LIST_METHODS, *_BACKED_LISTS, "tools/call"})


class ResponseRewriter:
    """Rewrites the answers to one POST's requests; built from that POST's parsed body.

    Only answers (by id) to tools/list, tools/list/all and discover-abilities calls are changed.
    """

    @classmethod
    def for_body(cls, body: ParsedBody, view: Visibility) -> ResponseRewriter | None:
        """The rewriter of `body`'s answers as `view` sees them, None when there are none to rewrite
        (ping, most tool calls): most requests skip building one."""
        for message in body.messages:
            if message.method in _REWRITTEN_METHODS:
                break
        else:
            return None
        rewriter = cls(
            body,
            visible_tool=view.tool_visible,
            visible_ability=view.ability_visible,
            visible_backed=view.backed_visible,
        )
        return rewriter if rewriter.active else None

    def __init__(
        self,
        requests: ParsedBody | Iterable[Message],
        *,
        visible_tool: NamePredicate,
        visible_ability: NamePredicate,
        visible_backed: NamePredicate | None = None,
    ) -> None:
        messages = requests.messages if isinstance(requests, ParsedBody) else requests
        self._pending: dict[tuple[type, RequestId], Callable[[dict[str, Any]], dict[str, Any]]] = {}
        for message in messages:
            if message.kind != "request" or message.id is None:
                continue
            # partials, not bound methods: the rewriter must not reference itself (a cycle per request)
            backed = _BACKED_LISTS.get(message.method or "")
            rewrite: Callable[[dict[str, Any]], dict[str, Any]]
            if message.method in TOOL_LIST_METHODS:
                rewrite = partial(filter_tools_list, visible_tool=visible_tool)
            elif message.method == "tools/call" and message.params.get("name") == DISCOVER_ABILITIES_TOOL:
                rewrite = partial(filter_discovered_abilities, visible_ability=visible_ability)
            elif backed is not None and visible_backed is not None:
                rewrite = partial(filter_listing, visible=visible_backed, entries=backed[0], key=backed[1])
            else:
                continue
            self._pending[(type(message.id), message.id)] = rewrite

    @property
    def active(self) -> bool:
        """Whether any answer may need rewriting; if not, the proxy streams the response untouched."""
        return bool(self._pending)

    def rewrite_message(self, message: dict[str, Any]) -> dict[str, Any] | None:
        """The rewritten message, or None when it is not an answer to rewrite or nothing changed."""
        message_id = message.get("id")
        if "method" in message or "result" not in message or not isinstance(message_id, str | int):
            return None
        rewrite = self._pending.get((type(message_id), message_id))
        result = message["result"]
        if rewrite is None:
            return None
        new_result = rewrite(result if isinstance(result, dict) else {})
        return None if new_result == result else {**message, "result": new_result}

    def rewrite_body(self, body: bytes) -> bytes | None:
        """A rewritten JSON response body (one message or a batch array), or None to forward as is."""
        if not self._pending:
            return None
        try:
            value = json.loads(body)
        except (ValueError, RecursionError):
            return None  # not JSON-RPC: nothing a client could read as a tool list
        if isinstance(value, dict):
            rewritten = self.rewrite_message(value)
            return None if rewritten is None else dump_json(rewritten).encode()
        if not isinstance(value, list):
            return None
        changed = False
        out: list[Any] = []
        for item in value:
            new_item = self.rewrite_message(item) if isinstance(item, dict) else None
            changed = changed or new_item is not None
            out.append(item if new_item is None else new_item)
        return dump_json(out).encode() if changed else None
