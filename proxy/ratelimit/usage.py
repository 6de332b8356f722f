"""What one request spends from its limits: requests against the tier, calls against named limits."""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field

__all__ = ["ONE_REQUEST", "Usage"]


@dataclass(frozen=True, slots=True)
class Usage:
    """The amounts one request counts as.

    `requests` is spent from the caller's tier limit: 1 for a plain request, one per message of a
    JSON-RPC batch (else a batch would be a way around every limit). `tools`, `toolsets` and
    `commands` count the calls of this request per name; each is spent from that name's own limit,
    when the settings have one. Every count is at least 1.
    """

    requests: int = 1
    tools: Mapping[str, int] = field(default_factory=dict)
    toolsets: Mapping[str, int] = field(default_factory=dict)
    commands: Mapping[str, int] = field(default_factory=dict)
    # Every count above as one hashable value: equal usages share the limits worked out for them.
    key: Hashable = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        counts = [self.requests, *self.tools.values(), *self.toolsets.values(), *self.commands.values()]
        if any(count < 1 for count in counts):
            raise ValueError(f"usage counts must be at least 1: {self}")
        named = tuple(tuple(sorted(spent.items())) for spent in (self.tools, self.toolsets, self.commands))
        object.__setattr__(self, "key", (self.requests, *named))


ONE_REQUEST = Usage()  # most requests (initialize, ping, tools/list): shared, not rebuilt each time
