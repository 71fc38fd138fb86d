"""Output marks in Redis. A batch whose offsets were not committed before a crash or rebalance
is consumed again; marking each input once its outputs were acknowledged, and skipping marked
ones, narrows repeats on the output topic to a kill between the ack and the mark. `key` maps an
id to its mark: a service whose view already holds one key per output uses that key."""
from __future__ import annotations

from typing import Any, Callable

# One call per batch instead of a pipeline of one command per message: packing and parsing a
# pipeline of small commands is a tenth of classify's time.
EXISTS_LUA = """
local out = {}
for i, key in ipairs(KEYS) do out[i] = redis.call('EXISTS', key) end
return out
"""
MARK_LUA = """
for _, key in ipairs(KEYS) do redis.call('SET', key, '1', 'EX', ARGV[1]) end
return #KEYS
"""
DONE_TTL_S = 7 * 86400


class RedisMarks:
    """The marks, through scripts registered by `script(name, lua)` (Runtime.script)."""

    def __init__(self, script: Callable[[str, str], Any], ttl_s: int = DONE_TTL_S):
        self.script, self.ttl_s = script, ttl_s

    async def not_done(self, ids: list[str], *keys: Callable[[str], str]) -> set[str]:
        """The ids that have none of the marks `keys` name (one script call for the whole batch)."""
        if not ids:
            return set()
        present = await self.script("exists", EXISTS_LUA)(keys=[key(i) for i in ids for key in keys])
        n = len(keys)
        return {i for j, i in enumerate(ids) if not any(present[j * n:(j + 1) * n])}

    async def mark_done(self, ids: list[str], key: Callable[[str], str]) -> None:
        if ids:
            await self.script("mark", MARK_LUA)(keys=[key(i) for i in ids], args=[self.ttl_s])
