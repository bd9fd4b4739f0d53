"""A site worker: a Celery worker that consumes only its site's queue and runs the
handlers for its site's hosts, with its own configuration and credentials.

A task names a host; the worker resolves it in *its own* inventory and refuses a host that
is not of its site, so a message on the broker cannot point the worker at anything else.
The bot never needs the site's WinRM password (docs/security.md, "Site workers").
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from celery import Celery

from bot.config import Settings
from bot.inventory import Inventory
from bot.secrets import Secret
from bot.services import (
    collect_settings,
    http_verify,
    password_for,
    server_endpoints,
    winrm_client,
)
from bot.sites.app import COLLECT_TASK, FIX_TASK, PROTOCOL, make_app, node_name, queue_name
from bot.sites.ledger import FixLedger
from bot.sites.protocol import error_answer
from checks.errors import (
    CollectionError,
    CollectionTimeoutError,
    FixError,
    UsageError,
    WsusbotError,
)
from checks.facts import LogCursor, dump
from checks.fixes import get_fix
from handlers.collector import LiveCollector
from handlers.fixes import FixRunner
from handlers.http import HttpProber
from handlers.target import HostTarget

log = logging.getLogger(__name__)
T = TypeVar("T")


class SiteHandlers:
    """What the task bodies call: the worker's inventory, WinRM client, HTTP prober and
    fix ledger, with one event loop (in its own thread) for the async handlers."""

    def __init__(self, settings: Settings, site: str, state_dir: Path, concurrency: int) -> None:
        self.settings = settings
        self.site = site
        self.inventory = Inventory(settings)
        self.ledger = FixLedger(state_dir / "fix-ledger.sqlite")
        self._passwords: dict[Path | None, Secret] = {}
        self._winrm = winrm_client(settings)
        self._executor = ThreadPoolExecutor(
            max_workers=max(concurrency, 1), thread_name_prefix="wsusbot-site-winrm"
        )
        self._servers = server_endpoints(settings, self.inventory)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._http = self._on_loop(self._make_prober())

    async def _make_prober(self) -> HttpProber:
        return HttpProber(
            timeout_s=self.settings.runner.http_timeout_s, verify=http_verify(self.settings)
        )

    def _on_loop(self, work: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        return asyncio.run_coroutine_threadsafe(work, self._loop).result(timeout)

    def close(self) -> None:
        self._on_loop(self._http.aclose(), 10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._executor.shutdown(wait=False, cancel_futures=True)

    # ------------------------------------------------------------------ the tasks

    def target(self, payload: Any) -> tuple[HostTarget, float]:
        """The payload's host, resolved here and of this site, and its monotonic deadline."""
        if not isinstance(payload, dict) or payload.get("v") != PROTOCOL:
            raise UsageError(f"not a wsusbot site task of protocol {PROTOCOL}")
        target = self.inventory.resolve(str(payload.get("host", "")))
        site = self.inventory.site_of(target)
        if site != self.site:
            raise UsageError(
                f"{target.name} is not a host of site {self.site} in this worker's inventory"
            )
        not_after = payload.get("not_after")
        if not isinstance(not_after, int | float):
            raise UsageError("the task has no deadline")
        remaining = float(not_after) - time.time()
        if remaining <= 0:
            raise _late(target.name)
        return target, time.monotonic() + remaining

    def collect(self, payload: Any) -> dict[str, Any]:
        try:
            target, deadline = self.target(payload)
            raw_cursor = payload.get("cursor")
            cursor = LogCursor.model_validate(raw_cursor) if raw_cursor else None
            collector = LiveCollector(
                self._winrm,
                self._http,
                self._password,
                servers=self._servers,
                cursors=lambda _target: cursor,
                settings=collect_settings(self.settings),
                executor=self._executor,
            )
            facts = self._on_loop(
                collector.collect(target, deadline), deadline - time.monotonic() + 5
            )
        except WsusbotError as exc:
            return error_answer(exc)
        except TimeoutError:
            return error_answer(_late(str(payload.get("host"))))
        except ValueError as exc:  # pydantic: a cursor that is not one
            return error_answer(UsageError(f"the task's log cursor does not parse: {exc}"))
        return {"ok": True, "facts": dump(facts)}

    def fix(self, payload: Any, task_id: str) -> dict[str, Any]:
        try:
            target, deadline = self.target(payload)
            fix = get_fix(str(payload.get("fix", "")))
            key = str(payload.get("key", ""))
        except WsusbotError as exc:
            return error_answer(exc)
        try:
            earlier = self.ledger.claim(key, task_id=task_id, host=target.name, fix=fix.id)
        except WsusbotError as exc:
            return error_answer(exc)
        if earlier is not None:
            log.warning(
                "fix %s for %s: key %s was claimed before; not run again", fix.id, target.name, key
            )
            if earlier.answer is not None:
                return {**earlier.answer, "replayed": True}
            unknown = CollectionError(
                f"{target.name}: fix {fix.id} was claimed at {earlier.claimed_at} by an "
                "earlier delivery that never finished (its worker died?): it may or may not "
                "have run, and it is not run again",
                host=target.name,
            )
            unknown.delivered = True
            return error_answer(unknown)
        runner = FixRunner(self._winrm, self._password, self._executor)
        try:
            result = self._on_loop(
                runner.run(target, fix, deadline), deadline - time.monotonic() + 5
            )
            answer: dict[str, Any] = {"ok": True, "result": result.to_json()}
        except WsusbotError as exc:
            answer = error_answer(exc)
        except TimeoutError:
            late = _late(target.name)
            late.delivered = True
            answer = error_answer(late)
        self.ledger.finish(key, answer)
        return answer

    def _password(self, target: HostTarget) -> Secret | None:
        return password_for(target, self._passwords)


def _late(host: str) -> CollectionError:
    return CollectionTimeoutError(f"{host}: the site task's deadline passed", host=host)


def site_app(settings: Settings, handlers: SiteHandlers) -> Celery:
    """The Celery app with the two task bodies bound to ``handlers``. Never retried:
    ``max_retries=0`` and no ``autoretry_for``; acknowledged on receipt."""
    app = make_app(settings.broker)

    def collect(payload: dict[str, Any]) -> dict[str, Any]:
        return handlers.collect(payload)

    def fix(self: Any, payload: dict[str, Any]) -> dict[str, Any]:
        if not isinstance(payload, dict):
            return error_answer(FixError("not a fix task"))
        return handlers.fix(payload, str(self.request.id))

    app.task(name=COLLECT_TASK, acks_late=False, max_retries=0, reject_on_worker_lost=False)(
        collect
    )
    app.task(name=FIX_TASK, bind=True, acks_late=False, max_retries=0, reject_on_worker_lost=False)(
        fix
    )
    return app


def run_worker(
    settings: Settings, site: str, state_dir: Path, concurrency: int, log_level: str = "INFO"
) -> int:
    """Run the site's worker in this process until it is stopped (SIGTERM: warm shutdown)."""
    handlers = SiteHandlers(settings, site, state_dir, concurrency)
    app = site_app(settings, handlers)
    try:
        worker = app.Worker(
            hostname=node_name(settings.broker.queue_prefix, site),
            queues=[queue_name(settings.broker.queue_prefix, site)],
            concurrency=concurrency,
            pool_cls="threads",
            loglevel=log_level.upper(),
            without_gossip=True,
            without_mingle=True,
            optimization="fair",
        )
        worker.start()
        return int(worker.exitcode or 0)
    finally:
        handlers.close()
        app.close()
