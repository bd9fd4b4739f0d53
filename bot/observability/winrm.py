"""The WinRM client the collector gets, with each round trip timed into the metrics.

A subclass that only wraps ``run`` (the one call a check or a fix makes per host), so the
client's own construction and behaviour stay the handler's business."""

from __future__ import annotations

from typing import Any

from bot.observability.metrics import Metrics
from handlers.winrm import WinrmClient


class MeteredWinrmClient(WinrmClient):
    metrics: Metrics | None = None

    def run(self, *args: Any, **kwargs: Any) -> Any:
        metrics = self.metrics
        if metrics is None:
            return super().run(*args, **kwargs)
        return metrics.timed_winrm(lambda: super(MeteredWinrmClient, self).run(*args, **kwargs))
