"""The WinRM collector's transport rules against the lab's WS-Management endpoint:
HTTPS with a CA bundle (and failing validation without it), Basic only over HTTPS unless
explicitly allowed, wrong credentials, and the password never in an error."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from checks.errors import AuthenticationFailedError, CollectionTimeoutError, ConfigError, TlsError
from checks.secret import Secret
from handlers.target import HostTarget
from handlers.winrm import WinrmClient, WinrmSettings
from lab.wsman import AuthPolicy, CommandRequest, ExecResult, WsmanServer, generate_tls_files

PASSWORD = "S3cret-basic-pw"


def echo(request: CommandRequest) -> ExecResult:
    return ExecResult(stdout=b'{"got": %d}' % len(request.stdin))


@pytest.fixture
def https_server(tmp_path: Path) -> Iterator[tuple[WsmanServer, Path]]:
    tls = generate_tls_files(tmp_path / "tls", addresses=("127.0.0.1",))
    server = WsmanServer(
        echo,
        address="127.0.0.1",
        port=0,
        tls=tls,
        auth=AuthPolicy(ntlm=False, basic=True, basic_users={"wsusbot": PASSWORD}),
    )
    with server.start():
        yield server, tls.ca_cert


def target(url: str, *, ca: Path | None, verify: bool = True) -> HostTarget:
    return HostTarget(
        name="h1",
        role="client",
        address="127.0.0.1",
        winrm_url=url,
        transport="basic",
        username="wsusbot",
        password_file=None,
        verify_tls=verify,
        ca_bundle=ca,
    )


def client(**kwargs: object) -> WinrmClient:
    return WinrmClient(
        WinrmSettings(operation_timeout_s=2, read_timeout_s=4, connect_retries=0, **kwargs)
    )  # type: ignore[arg-type]


def deadline() -> float:
    return time.monotonic() + 20


def test_basic_over_https_with_the_ca_bundle(https_server: tuple[WsmanServer, Path]) -> None:
    server, ca = https_server
    result = client().run(
        target(server.url, ca=ca), Secret(PASSWORD), "x" * 5000, deadline=deadline()
    )
    assert result.exit_code == 0
    assert result.stdout == b'{"got": 5000}'


def test_certificate_validation_fails_without_the_ca(
    https_server: tuple[WsmanServer, Path],
) -> None:
    server, _ = https_server
    with pytest.raises(TlsError) as caught:
        client().run(target(server.url, ca=None), Secret(PASSWORD), "x", deadline=deadline())
    assert PASSWORD not in str(caught.value)
    # validation switched off (an explicit, per-host decision) connects
    result = client().run(
        target(server.url, ca=None, verify=False), Secret(PASSWORD), "x", deadline=deadline()
    )
    assert result.exit_code == 0


def test_wrong_password_is_an_auth_error_without_the_password(
    https_server: tuple[WsmanServer, Path],
) -> None:
    server, ca = https_server
    with pytest.raises(AuthenticationFailedError) as caught:
        client().run(
            target(server.url, ca=ca), Secret("wrong-" + PASSWORD), "x", deadline=deadline()
        )
    assert PASSWORD not in str(caught.value)


def test_basic_over_plain_http_is_refused_unless_allowed() -> None:
    server = WsmanServer(
        echo,
        address="127.0.0.1",
        port=0,
        auth=AuthPolicy(ntlm=False, basic=True, basic_users={"wsusbot": PASSWORD}),
    )
    with server.start():
        plain = target(server.url, ca=None)
        with pytest.raises(ConfigError, match="clear text"):
            client().run(plain, Secret(PASSWORD), "x", deadline=deadline())
        assert server.stats().requests == 0, "nothing was sent"
        result = client(allow_insecure_basic=True).run(
            plain, Secret(PASSWORD), "x", deadline=deadline()
        )
        assert result.exit_code == 0


def test_pywinrm_hosts_keep_the_same_deadline_rules(tmp_path: Path) -> None:
    """A Basic (pywinrm) host's command still running at the deadline: the same rules as
    the lean client's (handlers/wsman/shell.py::gather_output): polled through operation
    timeouts, ended by the shell's Delete, never signalled past the deadline."""
    tls = generate_tls_files(tmp_path / "tls", addresses=("127.0.0.1",))
    slow = WsmanServer(
        lambda _request: ExecResult(stdout=b"late", duration_s=30),
        address="127.0.0.1",
        port=0,
        tls=tls,
        auth=AuthPolicy(ntlm=False, basic=True, basic_users={"wsusbot": PASSWORD}),
    )
    with slow.start():
        started = time.monotonic()
        with pytest.raises(CollectionTimeoutError) as caught:
            client().run(
                target(slow.url, ca=tls.ca_cert), Secret(PASSWORD), "x", deadline=started + 3
            )
        assert time.monotonic() - started < 6
        assert caught.value.delivered
        stats = slow.stats()
        assert stats.operation_timeouts >= 1
        assert "Signal" not in stats.requests_by_action
        assert stats.requests_by_action["Delete"] == 1
        assert stats.open_shells == 0
