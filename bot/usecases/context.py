"""Everything a use case needs, built once by the composition root and passed in."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import datetime

from bot.auth import Authorizer
from bot.chat import Chat, ChatError
from bot.services import Services
from bot.store.audit import AuditAction, AuditRecord
from bot.views import AuditLine
from bot.worker import Worker
from handlers.runner import Runner

log = logging.getLogger(__name__)

#: the audit actions that end (or refuse) a fix: wsusbot_fixes_total{fix, outcome}
FIX_OUTCOMES = frozenset(
    {
        AuditAction.FIX_SUCCEEDED,
        AuditAction.FIX_FAILED,
        AuditAction.FIX_OUTCOME_UNKNOWN,
        AuditAction.FIX_INTERRUPTED,
        AuditAction.FIX_DENIED,
        AuditAction.FIX_EXPIRED,
        AuditAction.FIX_REFUSED,
    }
)
#: a batch host's step outcome (audited as ``batch_host``) under the same fix outcomes;
#: a skipped host never ran the fix and is not counted
BATCH_STEP_OUTCOMES = {"fixed": "succeeded", "failed": "failed", "unverified": "outcome_unknown"}


@dataclass
class BotContext:
    services: Services
    chat: Chat
    authorizer: Authorizer
    worker: Worker
    #: this process among the replicas sharing one database (fix leases name it)
    replica: str = field(default_factory=lambda: "replica-" + secrets.token_hex(6))
    _runner: Runner | None = None
    _stack: AsyncExitStack = field(default_factory=AsyncExitStack)

    def now(self) -> datetime:
        return self.services.clock()

    def record(self, record: AuditRecord) -> None:
        """Write the audit line; mirror it to the audit channel when one is configured.

        The row is written now; the Slack mirror is posted by the worker, so a listener
        that audits before it acks never waits on Slack (rate limits included)."""
        self.services.audit.write(record)
        if record.fix and str(record.action) in FIX_OUTCOMES:
            self.services.metrics.fix(record.fix, str(record.action).removeprefix("fix_"))
        elif (
            record.fix
            and record.action == AuditAction.BATCH_HOST
            and record.outcome in BATCH_STEP_OUTCOMES
        ):
            self.services.metrics.fix(record.fix, BATCH_STEP_OUTCOMES[record.outcome])
        channel = self.services.settings.slack.audit_channel
        if channel and self.worker.running:
            self.worker.submit(asyncio.to_thread(self._mirror, channel, record))

    def _mirror(self, channel: str, record: AuditRecord) -> None:
        line = AuditLine(
            action=str(record.action),
            user=record.user,
            host=record.host,
            fix=record.fix,
            approval=record.approval,
            outcome=record.outcome,
        )
        try:
            self.chat.post(channel, line)
        except ChatError as exc:
            log.warning("audit channel post failed: %s", exc.code)

    async def runner(self) -> Runner:
        """The runner lives on the worker loop, with its HTTP client and thread pool."""
        if self._runner is None:
            self._runner = await self._stack.enter_async_context(self.services.runner())
        return self._runner

    async def aclose(self) -> None:
        await self._stack.aclose()
        self._runner = None

    def start(self) -> None:
        self.worker.start()

    def stop(self) -> None:
        if self.worker.pending() or self._runner is not None:
            self.worker.drain()
        with contextlib.suppress(RuntimeError):
            self.worker.call(self.aclose, timeout=10)
        self.worker.stop()
