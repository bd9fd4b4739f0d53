"""Which site workers are alive, from Celery's own ``control.ping``: for ``doctor`` and
for ``/metrics`` (``live_workers`` is the function the metrics endpoint exports as a
gauge per site; docs/architecture.md, "Sites")."""

from __future__ import annotations

from kombu.utils.url import maybe_sanitize_url

from bot.config import Settings
from bot.sites.app import make_app
from bot.sites.routing import ping_sites

#: (item, ok, detail), as ``wsusbot doctor`` prints it
Line = tuple[str, bool, str]


def configured_sites(settings: Settings) -> list[str]:
    """Every site the inventory names (hosts, patterns, ``[broker] group_sites``)."""
    found = {e.site for e in (*settings.servers, *settings.clients, *settings.patterns) if e.site}
    found.update(settings.broker.group_sites.values())
    return sorted(found)


def live_workers(settings: Settings) -> dict[str, int]:
    """Live workers per site: every configured site (0 when none answers) plus any other
    site whose workers answer on this deployment's prefix. Empty without a broker."""
    if settings.broker.url is None:
        return {}
    app = make_app(settings.broker)
    try:
        counts = ping_sites(app, settings.broker)
    finally:
        app.close()
    return {site: counts.get(site, 0) for site in sorted({*configured_sites(settings), *counts})}


def doctor_lines(settings: Settings) -> list[Line]:
    """One line for the broker, one per site: a site with hosts and no live worker fails
    (its hosts would be ``no worker for site NAME``)."""
    if settings.broker.url is None:
        return []
    where = maybe_sanitize_url(settings.broker.url)
    app = make_app(settings.broker)
    try:
        with app.connection_for_write() as connection:
            connection.ensure_connection(
                max_retries=1, timeout=int(settings.broker.ping_timeout_s) + 4
            )
    except Exception as exc:  # kombu/amqp: unreachable, refused, bad credentials
        app.close()
        return [("broker", False, f"cannot connect to {where}: {type(exc).__name__}")]
    try:
        counts = ping_sites(app, settings.broker)
    finally:
        app.close()
    lines: list[Line] = [("broker", True, f"{where}, prefix {settings.broker.queue_prefix}")]
    for site in sorted({*configured_sites(settings), *counts}):
        live = counts.get(site, 0)
        detail = (
            f"{live} live worker(s)"
            if live
            else f"no live worker: start wsusbot worker --site {site} near its hosts"
        )
        lines.append((f"site {site}", live > 0, detail))
    return lines
