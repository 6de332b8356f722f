"""Which WordPress REST route a request target really reaches, so every spelling of it is judged the same.

WordPress reaches one REST route through several spellings, and a guard that knows only one is bypassed by
the others. What WordPress does (core `WP::parse_request`, `rest_api_loaded`, `WP_REST_Server`):

- Pretty permalinks: the rewrite rules `^<prefix>/(.*)?` and `^index.php/<prefix>/(.*)?` (prefix `wp-json`
  by default) map the path to the `rest_route` query var, after the site's home path is stripped (without
  a segment boundary, ignoring case).
- `rest_route` in the query (`$_GET`) beats the permalink on ANY path, and `rest_route` in a POSTed form
  (`$_POST`) beats the query; both present and different: WordPress dies with 400.
- PHP mangles parameter names: `rest.route`, `rest route`, `rest[route` and ` rest_route` are all
  `rest_route`; `rest_route[]=` makes an array (WordPress: 400). Duplicates: PHP keeps the last one.
- `?_method=` (or, without it, `X-HTTP-Method-Override`) replaces the method the REST server dispatches.
- Routes are matched with `@^<route>$@i`: case-insensitively; trailing slashes are trimmed.

Our reading, and why (every refusal is 400 `invalid_path`):

- The path is percent-decoded exactly once; `%2F` is a slash, as it is for WordPress when the prefix is
  encoded. A decoded path that still holds an escape (`%252F`) is refused: WordPress decodes the path zero,
  one or two times depending on how it matched, so no single reading is safe.
- NUL and other control characters, backslashes (some servers read them as slashes), invalid UTF-8 and
  fragments are refused.
- Doubled slashes are collapsed and trailing slashes trimmed: neither can move a route between namespaces.
- `.`/`..` segments are resolved for website pages (the web server does), but refused wherever they touch
  a REST route, before or after resolving: WordPress never resolves them inside a route while servers and
  proxies in front of it may, so the two readings could reach different namespaces.
- Routes are lower-cased (ASCII only, like PCRE without `u`) and the REST prefix is matched ignoring case:
  judging a spelling WordPress would not route as REST only makes the guard stricter.
- `rest_route` duplicates must agree: PHP keeps the last, but only within `max_input_vars`, and tools in
  between may keep the first. An empty `rest_route` (which WordPress ignores) does not hide a REST path.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import unquote_to_bytes

from proxy.errors import SidecarError
from proxy.policy.forms import php_form_kind

__all__ = ["NormalizedTarget", "TargetNormalizer", "origin_form", "php_reads_form", "request_path"]

_ROUTE_VAR = "rest_route"
_METHOD_VAR = "_method"
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_SURROGATE = re.compile("[\ud800-\udfff]")  # bytes that were not UTF-8 (see `forms`)
_ESCAPE = re.compile(r"%[0-9A-Fa-f]{2}")
_PHP_NAME_MANGLED = re.compile(r"[ .\[]")
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
_ARRAY = object()  # a PHP parameter given as `name[]=`/`name[key]=`


@dataclass(frozen=True, slots=True)
class NormalizedTarget:
    """Where a request lands: `rest_route` is the canonical lower-case REST route (None: a website page).

    `path` is the decoded path (dot segments resolved, slashes collapsed, case and trailing slash kept);
    `method_override` is the method WordPress's REST server will dispatch instead of the request's own
    (from `_method` or `X-HTTP-Method-Override`), upper-cased; None when not overridden or not REST.
    """

    rest_route: str | None
    path: str
    method_override: str | None = None

    def effective_method(self, method: str) -> str:
        """The method WordPress dispatches: the override when there is one, else the request's."""
        return self.method_override if self.method_override is not None else method.upper()


def php_reads_form(method: str, content_type: str) -> bool:
    """Whether PHP parses this request's body into `$_POST`, so a `rest_route` field in it routes too."""
    return php_form_kind(method, content_type) is not None


def _invalid(message: str) -> SidecarError:
    return SidecarError(400, "invalid_path", message)


def origin_form(target: str) -> str:
    """A request target in origin form (`/path?query`): absolute form loses its scheme and authority.

    Raises SidecarError(400, "invalid_path") for a fragment, a control character or another form.
    """
    if "#" in target:
        raise _invalid("a request target must not carry a fragment")
    if _CONTROL.search(target):
        raise _invalid("the request target contains a control character")
    scheme, sep, rest = target.partition("://")
    if sep and scheme.lower() in ("http", "https"):  # absolute-form: drop the authority
        ends = [at for at in (rest.find("/"), rest.find("?")) if at >= 0]
        remainder = rest[min(ends) :] if ends else ""
        target = remainder if remainder.startswith("/") else "/" + remainder
    if not target.startswith("/"):
        raise _invalid("a request target must start with '/'")
    return target


def _decode(text: str, *, plus_is_space: bool, what: str) -> str:
    """Percent-decode once (strict UTF-8), then `_checked`."""
    if plus_is_space:
        text = text.replace("+", " ")
    try:
        decoded = unquote_to_bytes(text).decode("utf-8")
    except UnicodeDecodeError:
        raise _invalid(f"the {what} is not valid UTF-8 once percent-decoded") from None
    return _checked(decoded, what=what)


def _checked(decoded: str, *, what: str) -> str:
    """Refuse control characters, backslashes and escapes left after decoding (see module doc)."""
    if _CONTROL.search(decoded):
        raise _invalid(f"the {what} contains a control character")
    if _SURROGATE.search(decoded):
        raise _invalid(f"the {what} is not valid UTF-8")
    if "\\" in decoded:
        raise _invalid(f"the {what} contains a backslash")
    if _ESCAPE.search(decoded):
        raise _invalid(f"the {what} is percent-encoded twice")
    return decoded


def _path_segments(raw_path: str) -> tuple[str, list[str], list[str]]:
    """(normalised path, its decoded segments, the segments with dot segments resolved)."""
    decoded = _decode(raw_path, plus_is_space=False, what="path")
    segments = [segment for segment in decoded.split("/") if segment]
    resolved: list[str] = []
    for segment in segments:
        if segment == "..":
            if resolved:
                resolved.pop()
        elif segment != ".":
            resolved.append(segment)
    path = "/" + "/".join(resolved)
    if resolved and decoded.endswith("/"):
        path += "/"
    return path, segments, resolved


def request_path(target: str) -> str:
    """The path a web server serves for a request target: percent-decoded once, `.`/`..` resolved,
    doubled slashes collapsed; case and a trailing slash kept. What a site is picked by (its prefix).

    Raises SidecarError(400, "invalid_path") like `TargetNormalizer.normalize`.
    """
    return _path_segments(origin_form(target).partition("?")[0])[0]


def _canonical_route(text: str) -> str:
    """`/ns/route` lower-cased, slashes collapsed and trimmed; dot segments refused (see module doc)."""
    segments = [segment for segment in text.split("/") if segment]
    if any(segment in (".", "..") for segment in segments):
        raise _invalid("a REST route must not contain '.' or '..' segments")
    return "/" + "/".join(segments).translate(_ASCII_LOWER)


def _php_name(raw: str) -> tuple[str, bool]:
    """The `$_GET`/`$_POST` key PHP registers for a parameter name, and whether it becomes an array."""
    name = raw.split("\x00", 1)[0].lstrip(" ")
    bracket = name.find("[")
    head = name if bracket < 0 else name[:bracket]
    head = head.replace(" ", "_").replace(".", "_")
    if bracket <= 0:
        return ("" if bracket == 0 else head), False
    tail = name[bracket + 1 :]
    if "]" in tail:
        return head, True
    # An unmatched '[' is not an array: PHP turns it (and later ' ', '.', '[') into '_'.
    return head + "_" + _PHP_NAME_MANGLED.sub("_", tail), False


def _agreed(values: list[str | object], name: str) -> str | None:
    """The one value PHP-style duplicates of `name` agree on; arrays and disagreements are refused."""
    if not values:
        return None
    if any(value is _ARRAY for value in values):
        raise _invalid(f"'{name}' must be a single string, not an array")
    distinct = set(values)
    if len(distinct) > 1:
        raise _invalid(f"'{name}' is given more than once with different values")
    value = values[0]
    assert isinstance(value, str)
    return value


@dataclass(frozen=True, slots=True)
class _Params:
    """The parameters WordPress reads to route: `rest_route` and `_method` (None when absent)."""

    rest_route: str | None
    method: str | None


def _params(pairs: Iterable[tuple[str, str | object]]) -> _Params:
    """`rest_route` and `_method` from (undecoded PHP name, checked value) pairs."""
    found: dict[str, list[str | object]] = {_ROUTE_VAR: [], _METHOD_VAR: []}
    for raw_name, value in pairs:
        name, is_array = _php_name(raw_name)
        if name in found:
            found[name].append(_ARRAY if is_array else value)
    return _Params(_agreed(found[_ROUTE_VAR], _ROUTE_VAR), _agreed(found[_METHOD_VAR], _METHOD_VAR))


def _routing(name: str) -> bool:
    return _php_name(name)[0] in (_ROUTE_VAR, _METHOD_VAR)


def _query_pairs(query: str, separators: str) -> Iterable[tuple[str, str]]:
    """Split a raw query like PHP; only the values WordPress routes by are decoded (strictly)."""
    for chunk in re.split(f"[{re.escape(separators)}]", query):
        raw_name, _, raw_value = chunk.partition("=")
        name = unquote_to_bytes(raw_name.replace("+", " ")).decode("utf-8", "replace")
        if _routing(name):
            yield name, _decode(raw_value, plus_is_space=True, what="routing parameter")


def _form_pairs(form: Iterable[tuple[str, str]]) -> Iterable[tuple[str, str]]:
    """The routing fields of an already decoded form body, checked like the query's."""
    for name, value in form:
        if _routing(name):
            yield name, _checked(value, what="routing field")


def _empty(value: str) -> bool:
    """PHP's `empty()` for a string: '' and '0' (WordPress then ignores rest_route)."""
    return value in ("", "0")


@dataclass(frozen=True, slots=True, kw_only=True)
class TargetNormalizer:
    """Reads request targets for one site, compiled once from its REST prefix and sub-directory prefix.

    `rest_prefix`: the site's REST URL prefix (WordPress's `rest_get_url_prefix()`, default `/wp-json`).
    `site_prefix`: the site's home path for sub-directory installs or multisite (`/blog`), or ''.
    `arg_separators`: PHP's `arg_separator.input` (default '&'); set ';&' if the upstream PHP uses it.
    `subdirectory_multisite`: the upstream is a sub-directory multisite, so `/<blog>/wp-json/...` reaches a
    sub-site's REST API through this site's upstream; such routes are judged by this site's rules too.
    """

    rest_prefix: str = "/wp-json"
    site_prefix: str = ""
    arg_separators: str = "&"
    subdirectory_multisite: bool = False
    _prefix: str = field(init=False, repr=False)
    _home: str = field(init=False, repr=False)

    def __post_init__(self) -> None:
        prefix = self.rest_prefix.strip("/").translate(_ASCII_LOWER)
        if not prefix or not self.rest_prefix.startswith("/"):
            raise ValueError(f"rest_prefix must be a path like '/wp-json', got {self.rest_prefix!r}")
        if self.site_prefix and not self.site_prefix.startswith("/"):
            raise ValueError(f"site_prefix must be '' or a path like '/blog', got {self.site_prefix!r}")
        if not self.arg_separators or any(c.isalnum() or c in "=%+" for c in self.arg_separators):
            raise ValueError(f"arg_separators must be separator characters, got {self.arg_separators!r}")
        object.__setattr__(self, "_prefix", prefix)
        object.__setattr__(self, "_home", self.site_prefix.strip("/").translate(_ASCII_LOWER))

    def normalize(
        self,
        target: str,
        *,
        form: Iterable[tuple[str, str]] | None = None,
        method_override_header: str | None = None,
    ) -> NormalizedTarget:
        """Read a raw request target (origin- or absolute-form, undecoded) into where WordPress routes it.

        `form`: the fields PHP reads from a POSTed form body (`forms.form_fields`), when it reads one;
        `method_override_header`: the `X-HTTP-Method-Override` request header, if any.
        Raises SidecarError(400, "invalid_path") for a target whose route cannot be read unambiguously.
        """
        if target == "*":
            return NormalizedTarget(rest_route=None, path="*")
        raw_path, _, query = origin_form(target).partition("?")
        path, path_route = self._read_path(raw_path)
        from_query = _params(_query_pairs(query, self.arg_separators)) if query else _Params(None, None)
        from_form = _params(_form_pairs(form)) if form is not None else _Params(None, None)
        if from_form.rest_route is not None and from_query.rest_route not in (None, from_form.rest_route):
            raise _invalid("'rest_route' differs between the query and the form body")
        chosen = from_form.rest_route if from_form.rest_route is not None else from_query.rest_route
        route = path_route if chosen is None or _empty(chosen) else _canonical_route(chosen)
        if route is None:
            return NormalizedTarget(rest_route=None, path=path)
        override = from_query.method if from_query.method is not None else method_override_header
        return NormalizedTarget(
            rest_route=route,
            path=path,
            method_override=override.translate(_ASCII_LOWER).upper() if override is not None else None,
        )

    def _read_path(self, raw_path: str) -> tuple[str, str | None]:
        """The normalised path and the REST route its permalink reaches (None: not a REST path)."""
        path, segments, resolved = _path_segments(raw_path)
        route = self._permalink_route(resolved)
        has_dots = any(segment in (".", "..") for segment in segments)
        if has_dots and (route is not None or self._permalink_route(segments) is not None):
            raise _invalid("'.' or '..' segments must not lead to or into a REST route")
        return path, route

    def _permalink_route(self, segments: list[str]) -> str | None:
        """The route WordPress's REST rewrite rules give these path segments, or None."""
        rest = "/".join(segments)
        if self._home and rest.translate(_ASCII_LOWER).startswith(self._home):
            rest = rest[len(self._home) :].lstrip("/")
        route = self._prefixed_route(rest)
        if route is None and self.subdirectory_multisite and len(segments) > 1:
            route = self._prefixed_route(rest.partition("/")[2])
        return route

    def _prefixed_route(self, rest: str) -> str | None:
        lowered = rest.translate(_ASCII_LOWER)
        for head in (self._prefix, "index.php/" + self._prefix):
            if lowered == head:
                return "/"
            if lowered.startswith(head + "/"):
                return _canonical_route(rest[len(head) + 1 :])
        return None
