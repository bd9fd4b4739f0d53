"""The bot's end of the site workers: route a host's work to its site's queue.

``RoutingCollector`` and ``SiteFixRunner`` implement the seams the runner and the approval
step already use (``Collector.collect``, ``FixRunner.run``); a host without a site runs in
this process as before. ``SiteClient`` owns the Celery client: one thread publishes tasks
and drains the answers (Celery's result consumer is not safe across threads), and the
event loop waits on futures with the host's own deadline, so nothing here can hang a
check: a site with no live worker is ``no worker for site NAME`` at once, an answer that
does not come is a timeout at the deadline.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from celery.result import AsyncResult

from bot.config import BrokerConfig
from bot.sites.app import COLLECT_TASK, FIX_TASK, PROTOCOL, make_app, queue_name, site_of_node
from bot.sites.protocol import raise_answer_error
from checks.errors import (
    CollectionError,
    CollectionTimeoutError,
    NoSiteWorkerError,
)
from checks.facts import HostFacts, parse_host_facts
from checks.fixes import FixMeta
from handlers.collector import CursorSource
from handlers.fixes import FixResult, FixRunner, parse_fix_result, runnable_probe
from handlers.runner import Collector
from handlers.target import HostTarget

log = logging.getLogger(__name__)

SiteOf = Callable[[HostTarget], str | None]
#: the answer is waited for until this long before the host's deadline, so the runner's
#: own deadline (a second later) never has to cut a site call short
_MARGIN_S = 0.25


def no_worker(site: str, host: str) -> NoSiteWorkerError:
    return NoSiteWorkerError(f"{host}: no worker for site {site}", host=host)


@dataclass
class _Call:
    task: str
    site: str
    payload: dict[str, Any]
    expires: datetime
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[Any]
    task_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    published: threading.Event = field(default_factory=threading.Event)


class SiteClient:
    def __init__(self, broker: BrokerConfig) -> None:
        self._broker = broker
        self._app = make_app(broker)
        self._inbox: queue.SimpleQueue[_Call | str | None] = queue.SimpleQueue()
        self._pending: dict[str, tuple[_Call, AsyncResult[Any]]] = {}
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self._ping_lock = threading.Lock()
        self._live: dict[str, int] = {}
        self._live_at = -1e9

    # ------------------------------------------------------------------ liveness

    def live_workers(self, *, fresh: bool = False) -> dict[str, int]:
        """Live workers per site, from Celery's own ping (answers cached briefly)."""
        with self._ping_lock:
            age = time.monotonic() - self._live_at
            if fresh or age > self._broker.liveness_ttl_s:
                self._live = ping_sites(self._app, self._broker)
                self._live_at = time.monotonic()
            return dict(self._live)

    # ------------------------------------------------------------------ calls

    async def call(
        self, site: str, task: str, payload: dict[str, Any], host: str, deadline: float
    ) -> dict[str, Any]:
        """Send ``payload`` to ``site``'s queue and wait for the answer until ``deadline``
        (monotonic). Raises NoSiteWorkerError when no worker of the site is alive; a
        timeout after the task was published has ``delivered`` set (for a fix: it may
        have run)."""
        live = await asyncio.to_thread(self.live_workers)
        if not live.get(site):
            raise no_worker(site, host)
        remaining = deadline - time.monotonic() - _MARGIN_S
        if remaining <= 0:
            raise CollectionTimeoutError(f"{host}: no time left to reach site {site}", host=host)
        loop = asyncio.get_running_loop()
        call = _Call(
            task=task,
            site=site,
            payload={**payload, "v": PROTOCOL, "not_after": time.time() + remaining},
            # Celery drops a task received after this (clocks in sync, as for any expiry):
            # a fix the bot stopped waiting for never runs later
            expires=datetime.now(UTC) + timedelta(seconds=remaining),
            loop=loop,
            future=loop.create_future(),
        )
        self._ensure_thread()
        self._inbox.put(call)
        try:
            answer = await asyncio.wait_for(asyncio.shield(call.future), timeout=remaining)
        except TimeoutError:
            self._inbox.put(call.task_id)  # stop waiting for it
            if not call.published.is_set():
                raise CollectionTimeoutError(
                    f"{host}: the broker did not take the task for site {site} in time",
                    host=host,
                ) from None
            live = await asyncio.to_thread(self.live_workers, fresh=True)
            exc: CollectionError = (
                no_worker(site, host)
                if not live.get(site)
                else CollectionTimeoutError(
                    f"{host}: no answer from site {site}'s worker within the deadline", host=host
                )
            )
            exc.delivered = True
            raise exc from None
        return raise_answer_error(host, answer)

    def close(self) -> None:
        thread = self._thread
        if thread is not None:
            self._inbox.put(None)
            thread.join(timeout=10)
            self._thread = None
        self._app.close()

    # ------------------------------------------------------------------ the broker thread

    def _ensure_thread(self) -> None:
        with self._start_lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._serve, name="wsusbot-sites", daemon=True
                )
                self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                item = self._inbox.get(timeout=0.05 if self._pending else 1.0)
            except queue.Empty:
                item = ""
            if item is None:
                self._stop_consumer()
                return
            if isinstance(item, _Call):
                self._publish(item)
            elif item:
                entry = self._pending.pop(item, None)
                if entry is not None:
                    self._backend().remove_pending_result(entry[1])
            if self._pending:
                consumer = self._backend().result_consumer
                try:
                    consumer.drain_events(timeout=0.05)
                except TimeoutError:
                    pass
                except Exception:  # the broker went away: the waiters time out on their own
                    log.warning("site results: the broker connection failed", exc_info=True)
                    time.sleep(0.2)

    def _stop_consumer(self) -> None:
        consumer = self._backend().result_consumer
        if getattr(consumer, "_connection", None) is not None:
            try:
                consumer.stop()
            except Exception:  # closing a connection the broker already dropped
                log.debug("site results: closing the consumer failed", exc_info=True)

    def _backend(self) -> Any:
        # the rpc backend's consumer API (AsyncBackendMixin) is not in the type stubs
        return self._app.backend

    def _publish(self, call: _Call) -> None:
        try:
            result = self._app.send_task(
                call.task,
                args=[call.payload],
                queue=queue_name(self._broker.queue_prefix, call.site),
                task_id=call.task_id,
                expires=call.expires,
            )
        except Exception as exc:  # kombu/amqp: the broker is unreachable
            error = CollectionError(
                f"cannot publish to site {call.site}: {type(exc).__name__}: {str(exc)[:200]}"
            )
            call.loop.call_soon_threadsafe(_settle, call.future, None, error)
            return
        call.published.set()
        self._pending[call.task_id] = (call, result)

        def done(ready: AsyncResult[Any]) -> None:
            self._pending.pop(call.task_id, None)
            if ready.successful():
                call.loop.call_soon_threadsafe(_settle, call.future, ready.result, None)
            else:
                failure = CollectionError(
                    f"site {call.site}'s worker failed the task: {str(ready.result)[:300]}"
                )
                failure.delivered = True
                call.loop.call_soon_threadsafe(_settle, call.future, None, failure)

        result.then(done)


def _settle(future: asyncio.Future[Any], value: Any, error: BaseException | None) -> None:
    if future.done():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(value)


def ping_sites(app: Any, broker: BrokerConfig) -> dict[str, int]:
    """Celery's ``control.ping`` to every worker on the broker, counted per site."""
    try:
        replies = app.control.ping(timeout=broker.ping_timeout_s) or []
    except Exception:  # the broker is down: no site has a live worker
        log.warning("site liveness: the broker did not answer the ping", exc_info=True)
        return {}
    counts: dict[str, int] = {}
    for reply in replies:
        for hostname in reply:
            site = site_of_node(broker.queue_prefix, hostname)
            if site is not None:
                counts[site] = counts.get(site, 0) + 1
    return counts


class RoutingCollector:
    """The runner's ``Collector``: a site's host goes to its site's worker, which returns
    the facts document; evaluation stays in the bot."""

    def __init__(
        self,
        local: Collector,
        sites: SiteClient,
        site_of: SiteOf,
        *,
        cursors: CursorSource | None = None,
    ) -> None:
        self._local = local
        self._sites = sites
        self._site_of = site_of
        self._cursors = cursors

    async def collect(self, target: HostTarget, deadline: float) -> HostFacts:
        site = self._site_of(target)
        if site is None:
            return await self._local.collect(target, deadline)
        cursor = self._cursors(target) if self._cursors and target.role != "client" else None
        payload = {
            "host": target.name,
            "cursor": cursor.model_dump(mode="json") if cursor else None,
        }
        answer = await self._sites.call(site, COLLECT_TASK, payload, target.name, deadline)
        return parse_host_facts(answer.get("facts"))


class SiteFixRunner:
    """``FixRunner.run`` with an idempotency key: here for a host without a site, else on
    the site's worker, which claims the key in its ledger before the fix runs."""

    def __init__(self, local: FixRunner, sites: SiteClient | None, site_of: SiteOf) -> None:
        self._local = local
        self._sites = sites
        self._site_of = site_of

    async def run(
        self, target: HostTarget, fix: FixMeta, deadline: float, *, key: str
    ) -> FixResult:
        site = self._site_of(target) if self._sites is not None else None
        if site is None or self._sites is None:
            return await self._local.run(target, fix, deadline)
        runnable_probe(fix, target)  # refused here, before anything is queued
        payload = {"host": target.name, "fix": fix.id, "key": key}
        answer = await self._sites.call(site, FIX_TASK, payload, target.name, deadline)
        return parse_fix_result(target.name, fix, answer.get("result"))
