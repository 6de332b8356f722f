"""`--format json|table` for every CLI command: one function prints records either way."""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

__all__ = ["emit", "when"]


def when(timestamp: float | None) -> str | None:
    """Epoch seconds as ISO 8601 UTC (None stays None: never, or not yet)."""
    return None if timestamp is None else datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="seconds")


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, list | tuple):
        return " ".join(str(item) for item in value) or "-"
    return str(value)


def emit(rows: Sequence[Mapping[str, Any]] | Mapping[str, Any], *, fmt: str) -> None:
    """Print one object or a list of them, as JSON or as an aligned table."""
    if fmt == "json":
        json.dump(rows, sys.stdout, indent=2, sort_keys=False)
        sys.stdout.write("\n")
        return
    items = [rows] if isinstance(rows, Mapping) else list(rows)
    if not items:
        print("(none)")
        return
    columns = list(items[0])
    cells = [[_cell(item.get(column)) for column in columns] for item in items]
    widths = [max(len(column), *(len(row[i]) for row in cells)) for i, column in enumerate(columns)]
    print("  ".join(column.upper().ljust(widths[i]) for i, column in enumerate(columns)).rstrip())
    for row in cells:
        print("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip())
