"""`${VAR}` interpolation in config values, so secrets come from the environment, not the file.

`${VAR}` must be set (an unset one is a config error naming the key); `${VAR:-default}` falls back;
`$${` writes a literal `${`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

__all__ = ["interpolate"]

_PATTERN = re.compile(r"\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def interpolate(
    tree: Any, env: Mapping[str, str], *, source: str, problems: list[str], path: str = ""
) -> Any:
    """Return `tree` with every string interpolated; unset variables are appended to `problems`."""
    if isinstance(tree, dict):
        return {
            key: interpolate(
                value, env, source=source, problems=problems, path=f"{path}.{key}" if path else str(key)
            )
            for key, value in tree.items()
        }
    if isinstance(tree, list):
        return [
            interpolate(value, env, source=source, problems=problems, path=f"{path}.{index}")
            for index, value in enumerate(tree)
        ]
    if not isinstance(tree, str) or "$" not in tree:
        return tree

    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$${":
            return "${"
        name, default = match.group(1), match.group(2)
        if name in env:
            return env[name]
        if default is not None:
            return default
        problems.append(f"{source}: {path}: environment variable {name} is not set (expected by ${{{name}}})")
        return ""

    return _PATTERN.sub(replace, tree)
