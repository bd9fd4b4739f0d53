"""The WinRM client the collector gets, with each round trip timed into the metrics.

A subclass that only wraps ``run`` (the one call a check or a fix makes per host) and the
scripts of a ``session`` (a server's bundle and inventory pages), so the client's own
construction and behaviour stay the handler's business."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from bot.observability.metrics import Metrics
from handlers.winrm import ScriptResult, ShellSession, WinrmClient


class MeteredWinrmClient(WinrmClient):
    metrics: Metrics | None = None

    def run(self, *args: Any, **kwargs: Any) -> Any:
        metrics = self.metrics
        if metrics is None:
            return super().run(*args, **kwargs)
        return metrics.timed_winrm(lambda: super(MeteredWinrmClient, self).run(*args, **kwargs))

    def session(self, *args: Any, **kwargs: Any) -> contextlib.AbstractContextManager[ShellSession]:
        metrics = self.metrics
        opened = super().session(*args, **kwargs)
        if metrics is None:
            return opened
        return _metered(opened, metrics)


@contextlib.contextmanager
def _metered(
    opened: contextlib.AbstractContextManager[ShellSession], metrics: Metrics
) -> Iterator[ShellSession]:
    with opened as shell:
        yield _MeteredShell(shell, metrics)


class _MeteredShell:
    def __init__(self, shell: ShellSession, metrics: Metrics) -> None:
        self._shell = shell
        self._metrics = metrics

    def run(self, script: str, deadline: float) -> ScriptResult:
        result: ScriptResult = self._metrics.timed_winrm(lambda: self._shell.run(script, deadline))
        return result

    def close(self) -> None:
        self._shell.close()
