"""Per-server counters for tests and the demo."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from lab.wsman.faults import OPERATION_TIMED_OUT


@dataclass(frozen=True)
class WsmanStats:
    """A snapshot; ``open_shells`` is live state, the rest count since the last reset."""

    requests_by_action: Mapping[str, int] = field(default_factory=dict)
    shells_created: int = 0
    commands_run: int = 0
    open_shells: int = 0
    auth_failures: int = 0
    encrypted_requests: int = 0
    #: every HTTP POST to /wsman, the authentication legs included (the round trips)
    http_posts: int = 0
    faults_by_code: Mapping[int, int] = field(default_factory=dict)

    @property
    def requests(self) -> int:
        return sum(self.requests_by_action.values())

    @property
    def operation_timeouts(self) -> int:
        return self.faults_by_code.get(OPERATION_TIMED_OUT, 0)


class StatsRecorder:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: Counter[str] = Counter()
        self._faults: Counter[int] = Counter()
        self._shells_created = 0
        self._commands_run = 0
        self._auth_failures = 0
        self._encrypted_requests = 0
        self._http_posts = 0

    def http_post(self) -> None:
        with self._lock:
            self._http_posts += 1

    def request(self, action: str) -> None:
        with self._lock:
            self._requests[action] += 1

    def fault(self, wsman_code: int) -> None:
        with self._lock:
            self._faults[wsman_code] += 1

    def shell_created(self) -> None:
        with self._lock:
            self._shells_created += 1

    def command_run(self) -> None:
        with self._lock:
            self._commands_run += 1

    def auth_failure(self) -> None:
        with self._lock:
            self._auth_failures += 1

    def encrypted_request(self) -> None:
        with self._lock:
            self._encrypted_requests += 1

    def snapshot(self, open_shells: int) -> WsmanStats:
        with self._lock:
            return WsmanStats(
                requests_by_action=MappingProxyType(dict(self._requests)),
                shells_created=self._shells_created,
                commands_run=self._commands_run,
                open_shells=open_shells,
                auth_failures=self._auth_failures,
                encrypted_requests=self._encrypted_requests,
                http_posts=self._http_posts,
                faults_by_code=MappingProxyType(dict(self._faults)),
            )

    def reset(self) -> None:
        with self._lock:
            self._requests.clear()
            self._faults.clear()
            self._shells_created = 0
            self._commands_run = 0
            self._auth_failures = 0
            self._encrypted_requests = 0
            self._http_posts = 0
