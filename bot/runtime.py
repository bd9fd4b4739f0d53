"""The running bot: services, Slack connection (Socket Mode or HTTP), health endpoints,
restart recovery and schedules, started and stopped as one."""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from bot.config import Settings
from bot.scheduling import Schedules
from bot.secrets import Secret, read_secret
from bot.services import Clock, Services, utc_now
from bot.slack.app import build_app, build_context, build_web_client
from bot.slack.serve import HttpServer, Readiness, SlackAsgi, SocketModeRunner, metrics_only
from bot.usecases.approvals.recovery import recover_after_restart
from bot.usecases.context import BotContext
from checks.errors import ConfigError

log = logging.getLogger(__name__)

Mode = Literal["socket", "http"]


@dataclass(frozen=True)
class SlackSecrets:
    bot_token: Secret
    app_token: Secret | None
    signing_secret: Secret | None


def read_slack_secrets(
    settings: Settings, mode: Mode, env: Mapping[str, str] | None = None
) -> SlackSecrets:
    slack = settings.slack
    bot = read_secret(
        "SLACK_BOT_TOKEN", "Slack bot token", file_from_config=slack.bot_token_file, env=env
    )
    app = read_secret(
        "SLACK_APP_TOKEN",
        "Slack app-level token (Socket Mode)",
        file_from_config=slack.app_token_file,
        env=env,
        required=mode == "socket",
    )
    signing = read_secret(
        "SLACK_SIGNING_SECRET",
        "Slack signing secret",
        file_from_config=slack.signing_secret_file,
        env=env,
        required=mode == "http",
    )
    assert bot is not None
    if not bot.reveal().startswith("xox"):
        raise ConfigError("the Slack bot token does not look like one (it starts with xoxb-)")
    if mode == "socket" and app is not None and not app.reveal().startswith("xapp-"):
        raise ConfigError(
            "the Slack app-level token does not look like one (it starts with "
            "xapp-); Socket Mode needs it"
        )
    return SlackSecrets(bot, app, signing)


class BotRuntime:
    def __init__(
        self,
        settings: Settings,
        *,
        mode: Mode = "socket",
        host: str = "127.0.0.1",
        port: int = 3000,
        health_port: int | None = 0,
        clock: Clock = utc_now,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.settings = settings
        self.mode = mode
        self._host = host
        self._port = port
        self._health_port = health_port
        self._clock = clock
        self._env = env
        self.ctx: BotContext | None = None
        self._socket: SocketModeRunner | None = None
        self._http: HttpServer | None = None
        self._metrics_http: HttpServer | None = None
        self._stopped = threading.Event()
        self._schedules: Schedules | None = None
        self._closed = False

    @property
    def schedules(self) -> Schedules | None:
        return self._schedules

    @property
    def http_port(self) -> int | None:
        return self._http.port if self._http else None

    @property
    def metrics_url(self) -> str | None:
        """Where Prometheus scrapes (None when [metrics] is off)."""
        if not self.settings.metrics.enabled:
            return None
        if self._metrics_http is not None:
            host = _url_host(self.settings.metrics.bind)
            return f"http://{host}:{self._metrics_http.port}/metrics"
        if self._http is not None:
            return f"http://{_url_host(self._host)}:{self._http.port}/metrics"
        return None

    def start(self) -> BotRuntime:
        secrets = read_slack_secrets(self.settings, self.mode, self._env)
        services = Services.open(self.settings, clock=self._clock)
        client = build_web_client(self.settings, secrets.bot_token)
        ctx = build_context(services, client)
        self.ctx = ctx
        ctx.start()
        app = build_app(
            ctx, client, signing_secret=secrets.signing_secret if self.mode == "http" else None
        )
        # restart safety: approvals a crash left mid-flight become "interrupted"
        recover_after_restart(ctx, at_startup=True)
        metrics = services.metrics if self.settings.metrics.enabled else None
        if self.mode == "socket":
            assert secrets.app_token is not None
            self._socket = SocketModeRunner(app, secrets.app_token.reveal()).start()
            readiness = Readiness(ctx, self._socket.connected)
            if self._health_port is not None:
                self._http = HttpServer(
                    SlackAsgi(None, readiness), self._host, self._health_port
                ).start()
            if metrics is not None:
                config = self.settings.metrics
                self._metrics_http = HttpServer(
                    metrics_only(metrics), config.bind, config.port
                ).start()
        else:
            readiness = Readiness(ctx, lambda: ctx.services.db.ping())
            self._http = HttpServer(
                SlackAsgi(app, readiness, metrics=metrics), self._host, self._port
            ).start()
        self._start_schedules(ctx)
        log.info("wsusbot running (%s mode)", self.mode)
        return self

    def _start_schedules(self, ctx: BotContext) -> None:
        schedules = Schedules(ctx)
        schedules.start()
        self._schedules = schedules

    def wait(self) -> None:
        self._stopped.wait()

    def request_stop(self) -> None:
        """From a signal handler: wake :meth:`wait`; the caller then calls :meth:`stop`."""
        self._stopped.set()

    def stop(self) -> None:
        """Stop everything once; later calls do nothing."""
        if self._closed:
            return
        self._closed = True
        if self._schedules is not None:
            self._schedules.stop()
            self._schedules = None
        if self._socket is not None:
            self._socket.stop()
        if self._http is not None:
            self._http.stop()
        if self._metrics_http is not None:
            self._metrics_http.stop()
        if self.ctx is not None:
            self.ctx.stop()
            self.ctx.services.close()
        self._stopped.set()

    def __enter__(self) -> BotRuntime:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()


def _url_host(address: str) -> str:
    return f"[{address}]" if ":" in address else address
