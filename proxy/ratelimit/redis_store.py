"""GCRA state in Redis: one Lua script checks every limit of a request in one round trip.

The script reads the server's clock (TIME), so replicas whose clocks differ still agree on one limit,
and it writes only when every limit admits the request (all-or-nothing, atomic on the server). All keys
of one request share a {hash tag}, so the script also runs on Redis Cluster. Needs Redis >= 5 (script
effects replication, which makes TIME safe in a writing script).
"""

from __future__ import annotations

from collections.abc import Sequence

from redis.asyncio import Redis

from proxy.ratelimit.gcra import Limit, LimitState, evaluate

__all__ = ["RedisCounters"]

# KEYS[i]: TAT of limit i, in microseconds. ARGV[2i-1], ARGV[2i]: its increment (cost x emission interval)
# and tolerance.
# Replies {now, tat_1, ..., tat_n}: the server time and each TAT before this request (never below now),
# from which the caller derives the same decision with gcra.evaluate. Numbers are formatted with %.0f:
# Lua's default %.14g would round microsecond timestamps.
_SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local tats = {}
local admit = true
for i, key in ipairs(KEYS) do
  local tat = math.max(tonumber(redis.call('GET', key)) or 0, now)
  tats[i] = tat
  if tat + tonumber(ARGV[2 * i - 1]) - now > tonumber(ARGV[2 * i]) then
    admit = false
  end
end
if admit then
  for i, key in ipairs(KEYS) do
    local new_tat = tats[i] + tonumber(ARGV[2 * i - 1])
    local ttl_ms = math.ceil((new_tat - now) / 1000)
    redis.call('SET', key, string.format('%.0f', new_tat), 'PX', string.format('%.0f', ttl_ms))
  end
end
local reply = {now}
for i, tat in ipairs(tats) do
  reply[i + 1] = tat
end
return reply
"""


class RedisCounters:
    """The shared backend. Errors (connection, timeout) propagate: the limiter decides what they mean."""

    def __init__(self, client: Redis) -> None:
        # EVALSHA, loading the script again when the server lost it (restart, SCRIPT FLUSH)
        self._script = client.register_script(_SCRIPT)

    async def check(self, limits: Sequence[Limit]) -> tuple[LimitState, ...]:
        args = [value for limit in limits for value in (limit.increment_us, limit.tolerance_us)]
        reply = await self._script(keys=[limit.key for limit in limits], args=args)
        now, *tats = (int(value) for value in reply)
        return evaluate(limits, tats, now).states
