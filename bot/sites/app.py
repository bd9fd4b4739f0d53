"""The Celery app both ends share: names, settings, and nothing created at import time.

At-most-once for fixes starts here: a task is acknowledged when the worker receives it
(``task_acks_late=False``), a lost worker never leads to a redelivery
(``task_reject_on_worker_lost=False``), and nothing retries (no ``autoretry_for``, the
tasks never call ``retry``). What a redelivery can still do, the worker's ledger stops
(:mod:`bot.sites.ledger`).
"""

from __future__ import annotations

import os
import re
import socket

from celery import Celery

from bot.config import BrokerConfig
from checks.errors import ConfigError

COLLECT_TASK = "wsusbot.sites.collect"
FIX_TASK = "wsusbot.sites.fix"
#: the payload version both ends speak; a worker refuses any other
PROTOCOL = 1


def queue_name(prefix: str, site: str) -> str:
    return f"{prefix}.site.{site}"


def node_name(prefix: str, site: str) -> str:
    """``<prefix>.<site>.<pid>@<host>``: the site is read back from a ping's answer, and
    the pid keeps two workers on one machine apart (Celery warns on duplicate names)."""
    return f"{prefix}.{site}.{os.getpid()}@{socket.gethostname()}"


_NODE = re.compile(r"(?P<prefix>[a-z][a-z0-9_-]*)\.(?P<site>[a-z0-9-]+)\.\d+@.+")


def site_of_node(prefix: str, hostname: str) -> str | None:
    match = _NODE.fullmatch(hostname)
    if match is None or match["prefix"] != prefix:
        return None
    return match["site"]


def broker_url(broker: BrokerConfig) -> str:
    if broker.url is None:
        raise ConfigError(
            "no broker is configured: set [broker] url or WSUSBOT_BROKER_URL "
            "(docs/config.md, [broker])"
        )
    return broker.url


def make_app(broker: BrokerConfig) -> Celery:
    """A Celery app for this deployment's broker; its tasks are registered by the worker."""
    prefix = broker.queue_prefix
    app = Celery(prefix, broker=broker_url(broker), backend="rpc://", set_as_current=False)
    app.conf.update(
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        result_accept_content=["json"],
        task_acks_late=False,
        task_reject_on_worker_lost=False,
        task_acks_on_failure_or_timeout=True,
        # a worker holds no more than it runs: a queued fix waits in the broker, where a
        # dead worker cannot take it down with it
        worker_prefetch_multiplier=1,
        # the broker confirms each publish, so a sent task is known to be in its queue
        broker_transport_options={"confirm_publish": True},
        broker_connection_retry_on_startup=True,
        broker_connection_timeout=5.0,
        # only acks_late tasks are affected; set so Celery does not warn about its default
        worker_cancel_long_running_tasks_on_connection_loss=True,
        # pings and events of this deployment only (two prefixes can share one vhost)
        control_exchange=f"{prefix}.control",
        event_exchange=f"{prefix}.events",
        task_default_queue=f"{prefix}.default",
        result_persistent=False,
        worker_hijack_root_logger=False,
        worker_send_task_events=False,
        task_send_sent_event=False,
    )
    return app
