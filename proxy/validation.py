"""Turn pydantic validation errors into the one line per problem that operators read.

Format: `FILE: key.path: what was expected, what was found`.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

__all__ = ["ConfigError", "describe_validation_error"]


class ConfigError(Exception):
    """A config or rules file is invalid; `problems` holds one formatted line per problem."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


_SECRET_HINTS = ("password", "secret", "pepper", "session_key", "token", "redis_url", "headers")


def _found(value: Any, path: str) -> str:
    """The offending value, unless the key may hold a secret: config errors must not print secrets."""
    if any(hint in path.lower() for hint in _SECRET_HINTS):
        return "(value hidden: the key may hold a secret)"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _expected(message: str) -> str:
    """pydantic says 'Input should be a valid integer'; operators read 'expected a valid integer'."""
    message = message.removeprefix("Value error, ").removeprefix("Assertion failed, ")
    for prefix in ("Input should be ", "Input should "):
        if message.startswith(prefix):
            return "expected " + message[len(prefix) :]
    return "expected: " + message[0].lower() + message[1:] if message else "expected a valid value"


def describe_validation_error(source: str, error: ValidationError) -> list[str]:
    """One line per problem, naming the file, the dotted key path, what was expected and found."""
    lines = []
    for item in error.errors(include_url=False):
        path = ".".join(str(part) for part in item["loc"]) or "(top level)"
        if item["type"] == "extra_forbidden":
            lines.append(
                f"{source}: {path}: unknown key (check the spelling), found {_found(item['input'], path)}"
            )
            continue
        if item["type"] == "missing":
            lines.append(f"{source}: {path}: required key is missing")
            continue
        expected = _expected(item["msg"])
        lines.append(f"{source}: {path}: {expected}, found {_found(item['input'], path)}")
    return lines
