"""Holding the lab and the bot side by side: start an estate, build the bot's services on
the config the estate writes, run checks through the real runner and collectors."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bot.config import load_settings
from bot.services import Services
from checks.report import Report
from lab.estate import Estate
from lab.scenarios import Scenario


@contextmanager
def lab_services(
    scenario: str | Scenario, tmp_path: Path, *, extra: dict[str, Any] | None = None
) -> Iterator[tuple[Estate, Services, Path]]:
    estate = Estate.start(scenario, workdir=tmp_path / "lab")
    try:
        config = estate.write_config(tmp_path / "wsusbot.toml", extra or {})
        services = Services.open(load_settings(config, env={}))
        try:
            yield estate, services, config
        finally:
            services.close()
    finally:
        estate.stop()


def check_hosts(services: Services, names: list[str] | None = None) -> dict[str, Report]:
    async def go() -> dict[str, Report]:
        targets = (
            [services.inventory.resolve(n) for n in names] if names else services.inventory.all()
        )
        async with services.runner() as runner:
            outcomes = await runner.check_many(targets, "test")
        return {o.report.host: o.report for o in outcomes}

    return asyncio.run(go())
