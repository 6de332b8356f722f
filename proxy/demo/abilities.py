"""The demo's abilities (WordPress Abilities API), and the one way they run.

Both execution paths of a real site, the MCP `mcp-adapter-execute-ability` tool and the core
REST route `wp-abilities/v1/abilities/<name>/run`, go through `run_ability`, as both go
through `WP_Ability::execute` in WordPress: validate the input, ask the ability's permission
callback (here: one capability), then run.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from jsonschema import Draft4Validator, ValidationError  # type: ignore[import-untyped]
from jsonschema.exceptions import best_match  # type: ignore[import-untyped]

from proxy.demo.users import DemoUser

if TYPE_CHECKING:
    from proxy.demo.site import DemoSite

__all__ = ["DEMO_ABILITIES", "Ability", "AbilityError", "run_ability"]

Schema = Mapping[str, Any]
Execute = Callable[["DemoSite", DemoUser, Any], Any]


class AbilityError(Exception):
    """A `WP_Error` from an ability: stable code, human message, the REST status it maps to."""

    def __init__(self, code: str, message: str, *, status: int = 500) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


@dataclass(frozen=True, slots=True)
class Ability:
    """A registered ability; its permission callback is reduced to one capability."""

    name: str
    label: str
    description: str
    input_schema: Schema
    output_schema: Schema
    capability: str
    execute: Execute
    readonly: bool = False
    destructive: bool = False
    idempotent: bool = False
    mcp_public: bool = True
    show_in_rest: bool = True
    category: str = "demo"

    @property
    def annotations(self) -> dict[str, bool]:
        return {"readonly": self.readonly, "destructive": self.destructive, "idempotent": self.idempotent}

    @property
    def meta(self) -> dict[str, Any]:
        return {
            "annotations": self.annotations,
            "show_in_rest": self.show_in_rest,
            "mcp": {"public": self.mcp_public, "type": "tool"},
        }

    def describe(self) -> dict[str, Any]:
        """The ability as the REST list and `mcp-adapter-get-ability-info` show it."""
        return {
            "name": self.name,
            "label": self.label,
            "description": self.description,
            "category": self.category,
            "input_schema": dict(self.input_schema),
            "output_schema": dict(self.output_schema),
            "meta": self.meta,
        }

    def prepare_input(self, raw: Any) -> Any:
        """Apply the schema default to a missing input, then validate it."""
        value = self.input_schema.get("default") if raw is None else raw
        error = best_match(Draft4Validator(self.input_schema).iter_errors(value))
        if error is not None:
            raise AbilityError(
                "ability_invalid_input",
                f'Ability "{self.name}" has invalid input. Reason: {_reason(error)}',
                status=400,
            )
        return value

    def permits(self, user: DemoUser | None) -> bool:
        return user is not None and user.can(self.capability)


def _reason(error: ValidationError) -> str:
    where = "input" + "".join(f"[{part}]" for part in error.absolute_path)
    if error.validator == "required":
        missing = next(name for name in error.validator_value if name not in error.instance)
        return f"{missing} is a required property of {where}."
    if error.validator == "type":
        return f"{where} is not of type {error.validator_value}."
    return f"{where}: {error.message}"


def run_ability(site: DemoSite, ability: Ability, user: DemoUser | None, raw_input: Any) -> Any:
    """Validate, check permission, run; every refusal is an `AbilityError`."""
    value = ability.prepare_input(raw_input)
    if user is None or not ability.permits(user):
        raise AbilityError(
            "ability_invalid_permissions",
            f'Ability "{ability.name}" does not have necessary permission.',
            status=403,
        )
    site.ability_runs[ability.name] += 1
    return ability.execute(site, user, value)


def _get_post(site: DemoSite, user: DemoUser, params: dict[str, Any]) -> dict[str, Any]:
    post = site.posts.get(params["id"])
    if post is None:
        raise AbilityError("rest_post_invalid_id", "Invalid post ID.", status=404)
    return post.summary()


def _create_post(site: DemoSite, user: DemoUser, params: dict[str, Any]) -> dict[str, Any]:
    return site.add_post(title=params["title"], content=params["content"], author=user.id).summary()


def _list_users(site: DemoSite, user: DemoUser, params: dict[str, Any]) -> dict[str, Any]:
    users = [
        {"id": u.id, "name": u.display_name, "slug": u.login, "roles": list(u.roles)}
        for u in site.users.values()
    ]
    return {"users": users}


def _update_settings(site: DemoSite, user: DemoUser, params: dict[str, Any]) -> dict[str, Any]:
    site.title = params["title"]
    return {"title": site.title}


def _site_health(site: DemoSite, user: DemoUser, params: dict[str, Any]) -> dict[str, Any]:
    return {"wordpress": "7.1", "php": "8.2", "plugins": ["mcp-adapter/0.5.0"], "posts": len(site.posts)}


_NO_INPUT: Schema = {"type": "object", "properties": {}, "additionalProperties": False, "default": {}}
_POST: Schema = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "title": {"type": "string"},
        "content": {"type": "string"},
        "status": {"type": "string"},
        "author": {"type": "integer"},
        "link": {"type": "string"},
    },
}

DEMO_ABILITIES: tuple[Ability, ...] = (
    Ability(
        name="demo/get-post",
        label="Get Post",
        description="Retrieve one post by its ID.",
        input_schema={
            "type": "object",
            "properties": {"id": {"type": "integer", "description": "The post ID."}},
            "required": ["id"],
            "additionalProperties": False,
        },
        output_schema=_POST,
        capability="read",
        execute=_get_post,
        readonly=True,
        idempotent=True,
    ),
    Ability(
        name="demo/create-post",
        label="Create Post",
        description="Create and publish a post.",
        input_schema={
            "type": "object",
            "properties": {
                "title": {"type": "string", "minLength": 1, "description": "The post title."},
                "content": {"type": "string", "description": "The post body (HTML)."},
            },
            "required": ["title", "content"],
            "additionalProperties": False,
        },
        output_schema=_POST,
        capability="edit_posts",
        execute=_create_post,
        destructive=True,
    ),
    Ability(
        name="demo/list-users",
        label="List Users",
        description="List the site's users with their roles.",
        input_schema=_NO_INPUT,
        output_schema={
            "type": "object",
            "properties": {"users": {"type": "array", "items": {"type": "object"}}},
        },
        capability="list_users",
        execute=_list_users,
        readonly=True,
        idempotent=True,
    ),
    Ability(
        name="demo/update-settings",
        label="Update Settings",
        description="Change the site title.",
        input_schema={
            "type": "object",
            "properties": {"title": {"type": "string", "minLength": 1, "description": "The new site title."}},
            "required": ["title"],
            "additionalProperties": False,
        },
        output_schema={"type": "object", "properties": {"title": {"type": "string"}}},
        capability="manage_options",
        execute=_update_settings,
        destructive=True,
    ),
    Ability(
        name="demo/site-health",
        label="Site Health Report",
        description="Internal report; registered for REST only, not exposed via MCP.",
        input_schema=_NO_INPUT,
        output_schema={"type": "object"},
        capability="manage_options",
        execute=_site_health,
        readonly=True,
        idempotent=True,
        mcp_public=False,
    ),
)
