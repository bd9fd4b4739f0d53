"""Schedules: APScheduler 3 (asyncio, on the worker loop) with its job store in the
project's database; digests are cron jobs, and one persisted interval job runs "due work"
(follow-up checks) by the bot's own clock.

With several replicas on PostgreSQL only the holder of an advisory lock runs schedules; when
it dies its session ends, the lock is free, and another replica takes over within
``leader_check_seconds``. SQLite means one process: it always leads.

Why a process-wide pointer (``_ACTIVE``): APScheduler persists a job as a *text* reference
to a module-level function; the function must find the running bot from there.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.events import EVENT_JOB_SUBMITTED, JobSubmissionEvent
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from sqlalchemy import Connection, text
from sqlalchemy.exc import SQLAlchemyError

from bot.store.db import Database
from checks.errors import ConfigError

if TYPE_CHECKING:
    from bot.usecases.context import BotContext

log = logging.getLogger(__name__)

DueWork = Callable[["BotContext"], Awaitable[None]]
#: the advisory lock key: any constant shared by every replica of one deployment
LEADER_LOCK_KEY = 0x7755_5553  # "wUUS"
JOB_TABLE = "apscheduler_jobs"
DUE_WORK_JOB = "wsusbot:due-work"
DIGEST_JOB_PREFIX = "digest:"

_ACTIVE: Schedules | None = None


def cron_trigger(expression: str, timezone: str) -> CronTrigger:
    """Parse a 5-field crontab; a ConfigError says what is wrong."""
    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            f"unknown timezone {timezone!r} (use an IANA name, e.g. Europe/Paris)"
        ) from None
    try:
        return CronTrigger.from_crontab(expression, timezone=zone)
    except ValueError as exc:
        raise ConfigError(
            f"cron expression {expression!r} does not parse ({exc}); use five fields: "
            "minute hour day-of-month month day-of-week, e.g. '0 8 * * 1-5'"
        ) from None


class LeaderLock:
    """Who runs schedules. PostgreSQL: a session advisory lock on a dedicated connection."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._connection: Connection | None = None

    def try_acquire(self) -> bool:
        if self._db.dialect != "postgresql":
            return True
        if self._connection is not None:
            return True
        connection = self._db.engine.connect()
        try:
            got = connection.execute(
                text("SELECT pg_try_advisory_lock(:key)"), {"key": LEADER_LOCK_KEY}
            ).scalar_one()
            connection.commit()
        except SQLAlchemyError:
            connection.close()
            return False
        if got:
            self._connection = connection
            return True
        connection.close()
        return False

    def still_held(self) -> bool:
        if self._db.dialect != "postgresql":
            return True
        if self._connection is None:
            return False
        try:
            self._connection.execute(text("SELECT 1"))
            self._connection.commit()
        except SQLAlchemyError:
            self.release()
            return False
        return True

    def release(self) -> None:
        connection, self._connection = self._connection, None
        if connection is None:
            return
        try:
            connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": LEADER_LOCK_KEY})
            connection.commit()
        except SQLAlchemyError:
            pass
        finally:
            connection.close()


class Schedules:
    def __init__(
        self,
        ctx: BotContext,
        *,
        due_work: Sequence[DueWork] | None = None,
        poll_seconds: float = 15.0,
        leader_check_seconds: float = 5.0,
    ) -> None:
        self.ctx = ctx
        self._due_work = list(due_work) if due_work is not None else _default_due_work()
        self._poll_seconds = poll_seconds
        self._leader_check_seconds = leader_check_seconds
        self._lock = LeaderLock(ctx.services.db)
        self._scheduler: AsyncIOScheduler | None = None
        self._watch: asyncio.Task[None] | None = None
        self._due_lock: asyncio.Lock | None = None

    @property
    def leading(self) -> bool:
        return self._scheduler is not None and self._scheduler.running

    def start(self) -> None:
        global _ACTIVE
        _ACTIVE = self
        # validate every digest's schedule before anything runs (config error = exit 2)
        for digest in self.ctx.services.settings.digests:
            cron_trigger(digest.cron, digest.timezone)
        self.ctx.worker.call(self._start_watch, timeout=30)

    async def _start_watch(self) -> None:
        self._due_lock = asyncio.Lock()
        await self._elect()
        self._watch = asyncio.get_running_loop().create_task(self._watch_leadership())

    async def _watch_leadership(self) -> None:
        while True:
            await asyncio.sleep(self._leader_check_seconds)
            try:
                await self._elect()
            except Exception:
                log.exception("leader election step failed")

    async def _elect(self) -> None:
        if self.leading:
            if not await asyncio.to_thread(self._lock.still_held):
                log.warning("lost the scheduler lock; another replica takes over")
                self._shutdown_scheduler()
            return
        if await asyncio.to_thread(self._lock.try_acquire):
            log.info("this replica now runs schedules")
            self._start_scheduler()

    def _start_scheduler(self) -> None:
        # the job store disposes its engine on shutdown: it must not be the shared one
        jobstore_engine = Database(self.ctx.services.db.url).engine
        scheduler = AsyncIOScheduler(
            jobstores={"default": SQLAlchemyJobStore(engine=jobstore_engine, tablename=JOB_TABLE)},
            job_defaults={
                # a missed slot (bot down at 08:00) runs once when back, if within the grace
                # time; several missed slots collapse into one run
                "coalesce": True,
                "misfire_grace_time": 3600,
                "max_instances": 1,
            },
            timezone=UTC,
            event_loop=asyncio.get_running_loop(),
        )
        scheduler.add_listener(self._observe_submission, EVENT_JOB_SUBMITTED)
        scheduler.start()
        self._scheduler = scheduler
        self._sync_jobs(scheduler)

    def _observe_submission(self, event: JobSubmissionEvent) -> None:
        """Scheduler lag: how late a job is handed to its executor after its slot (a busy
        loop, a paused VM, a replica that just took over)."""
        times = getattr(event, "scheduled_run_times", None) or []
        if not times:
            return
        kind = "digest" if str(event.job_id).startswith(DIGEST_JOB_PREFIX) else "due_work"
        late = (datetime.now(UTC) - times[0]).total_seconds()
        self.ctx.services.metrics.lag(kind, late)

    def _sync_jobs(self, scheduler: AsyncIOScheduler) -> None:
        wanted = set()
        for digest in self.ctx.services.settings.digests:
            job_id = DIGEST_JOB_PREFIX + digest.id
            wanted.add(job_id)
            scheduler.add_job(
                "bot.usecases.digest:scheduled_digest",
                trigger=cron_trigger(digest.cron, digest.timezone),
                id=job_id,
                kwargs={"digest_id": digest.id},
                replace_existing=True,
            )
        scheduler.add_job(
            "bot.scheduling:run_due_work",
            trigger="interval",
            seconds=self._poll_seconds,
            id=DUE_WORK_JOB,
            replace_existing=True,
        )
        for job in scheduler.get_jobs():
            if job.id.startswith(DIGEST_JOB_PREFIX) and job.id not in wanted:
                job.remove()

    async def run_due(self) -> None:
        """Run every due-work callback once (serially: a slow one never overlaps itself)."""
        assert self._due_lock is not None
        async with self._due_lock:
            for work in self._due_work:
                try:
                    await work(self.ctx)
                except Exception:
                    log.exception("due work %s failed", getattr(work, "__name__", work))

    def run_due_now(self, timeout: float = 60.0) -> None:
        """From any thread: run due work now (CLI, tests)."""
        self.ctx.worker.call(self.run_due, timeout=timeout)

    def _shutdown_scheduler(self) -> None:
        scheduler, self._scheduler = self._scheduler, None
        if scheduler is not None and scheduler.running:
            scheduler.shutdown(wait=False)

    def stop(self) -> None:
        global _ACTIVE

        async def stop_on_loop() -> None:
            if self._watch is not None:
                self._watch.cancel()
                await asyncio.gather(self._watch, return_exceptions=True)
            self._shutdown_scheduler()

        with contextlib.suppress(RuntimeError):
            self.ctx.worker.call(stop_on_loop, timeout=10)
        self._lock.release()
        if _ACTIVE is self:
            _ACTIVE = None


def _default_due_work() -> list[DueWork]:
    from bot.usecases.approvals.recovery import run_due_followups

    return [run_due_followups]


async def run_due_work() -> None:
    """The persisted interval job's target."""
    if _ACTIVE is None:
        log.warning("due-work job fired with no running bot")
        return
    await _ACTIVE.run_due()


def active() -> Schedules | None:
    return _ACTIVE
