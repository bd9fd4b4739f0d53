"""Who may do what, by Slack user id or usergroup id (docs/architecture.md, "Walls").

viewer: run checks (an empty viewer list means every member of an allowed channel);
operator: request fixes; approver: approve or deny them. Channels: an allow-list (empty =
any channel the bot is in).
"""

from __future__ import annotations

import enum
import logging
import threading
import time
from collections.abc import Callable

from bot.config import RolesConfig, SlackConfig

log = logging.getLogger(__name__)

#: usergroup id -> member user ids, as Slack's usergroups.users.list returns them
GroupLookup = Callable[[str], list[str]]


class Role(enum.StrEnum):
    VIEWER = "viewer"
    OPERATOR = "operator"
    APPROVER = "approver"


class Authorizer:
    def __init__(
        self,
        roles: RolesConfig,
        slack: SlackConfig,
        group_members: GroupLookup | None = None,
        *,
        cache_seconds: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._roles = roles
        self._channels = frozenset(slack.channels)
        self._group_members = group_members
        self._cache_seconds = cache_seconds
        self._clock = clock
        self._cache: dict[str, tuple[float, frozenset[str]]] = {}
        self._lock = threading.Lock()

    def channel_allowed(self, channel_id: str) -> bool:
        return not self._channels or channel_id in self._channels

    def allowed_channels(self) -> tuple[str, ...]:
        return tuple(sorted(self._channels))

    def has(self, user_id: str, role: Role) -> bool:
        if role is Role.VIEWER:
            viewers = self._roles.viewers
            # operators and approvers may always look at what they act on
            return (
                not viewers
                or self._member(user_id, viewers)
                or self.has(user_id, Role.OPERATOR)
                or self.has(user_id, Role.APPROVER)
            )
        names = self._roles.operators if role is Role.OPERATOR else self._roles.approvers
        return self._member(user_id, names)

    def _member(self, user_id: str, entries: tuple[str, ...]) -> bool:
        if user_id in entries:
            return True
        return any(user_id in self._group(entry) for entry in entries if entry.startswith("S"))

    def _group(self, group_id: str) -> frozenset[str]:
        if self._group_members is None:
            return frozenset()
        now = self._clock()
        with self._lock:
            cached = self._cache.get(group_id)
            if cached and now - cached[0] < self._cache_seconds:
                return cached[1]
        try:
            members = frozenset(self._group_members(group_id))
        except Exception as exc:
            log.warning("cannot read usergroup %s: %s", group_id, type(exc).__name__)
            return cached[1] if cached else frozenset()
        with self._lock:
            self._cache[group_id] = (now, members)
        return members
