"""Fixtures: a credential file for the NTLM acceptor, a recording executor, servers."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import winrm
from winrm.protocol import Protocol

from lab.wsman import (
    AuthPolicy,
    CommandRequest,
    ExecResult,
    WsmanServer,
)

BASIC_USER = "basicadmin"
BASIC_PASSWORD = "Basic-Passw0rd!"
BASIC_AUTH = (BASIC_USER, BASIC_PASSWORD)


def winrm_session(url: str, auth: tuple[str, str], transport: str, **kwargs: Any) -> winrm.Session:
    """A stock pywinrm session that ignores this machine's proxy and CA environment."""
    kwargs.setdefault("ca_trust_path", None)
    kwargs.setdefault("proxy", None)
    return winrm.Session(url, auth=auth, transport=transport, **kwargs)


def winrm_protocol(url: str, auth: tuple[str, str], transport: Any, **kwargs: Any) -> Protocol:
    kwargs.setdefault("ca_trust_path", None)
    kwargs.setdefault("proxy", None)
    username, password = auth
    return Protocol(url, transport=transport, username=username, password=password, **kwargs)


def echo(request: CommandRequest) -> ExecResult:
    """Answers what it was given, so a test sees what reached the host."""
    text = request.script if request.script is not None else request.command_line
    return ExecResult(stdout=f"ran: {text}".encode())


class RecordingExecutor:
    def __init__(self, respond: Callable[[CommandRequest], ExecResult] = echo) -> None:
        self.respond = respond
        self.requests: list[CommandRequest] = []
        self._lock = threading.Lock()

    def __call__(self, request: CommandRequest) -> ExecResult:
        with self._lock:
            self.requests.append(request)
        return self.respond(request)


@pytest.fixture
def executor() -> RecordingExecutor:
    return RecordingExecutor()


ServerFactory = Callable[..., WsmanServer]


@pytest.fixture
def make_server(ntlm_user_file: Path) -> Iterator[ServerFactory]:
    servers: list[WsmanServer] = []

    def make(executor: RecordingExecutor, **kwargs: object) -> WsmanServer:
        kwargs.setdefault(
            "auth", AuthPolicy(ntlm=True, basic=True, basic_users={BASIC_USER: BASIC_PASSWORD})
        )
        server = WsmanServer(executor, **kwargs)  # type: ignore[arg-type]
        servers.append(server)
        return server.start()

    yield make
    for server in servers:
        server.stop()


@pytest.fixture
def server(make_server: ServerFactory, executor: RecordingExecutor) -> WsmanServer:
    return make_server(executor)
