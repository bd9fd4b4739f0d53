"""The shell table on its own, with a controllable clock."""

from __future__ import annotations

import pytest

from lab.wsman import CommandRequest, ExecResult
from lab.wsman.faults import OPERATION_TIMED_OUT, UNEXPECTED_SELECTORS, WsmanFault
from lab.wsman.shells import STREAM_PIECE_BYTES, ShellService
from lab.wsman.stats import StatsRecorder


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _service(
    respond: ExecResult | None = None, idle_timeout_s: float = 60.0
) -> tuple[ShellService, FakeClock, list[CommandRequest]]:
    result = respond or ExecResult(stdout=b"out")
    clock = FakeClock()
    seen: list[CommandRequest] = []

    def executor(request: CommandRequest) -> ExecResult:
        seen.append(request)
        return result

    return ShellService(executor, StatsRecorder(), clock, idle_timeout_s), clock, seen


def test_idle_shells_are_reaped_when_a_shell_is_created() -> None:
    service, clock, _ = _service()
    old = service.create_shell("LAB\\a")
    clock.now += 30
    kept = service.create_shell("LAB\\a")
    clock.now += 45  # old idle 75 s, kept idle 45 s
    service.create_shell("LAB\\a")
    assert service.open_shell_count() == 2
    with pytest.raises(WsmanFault) as raised:
        service.start_command(old, "LAB\\a", "ipconfig")
    assert raised.value.wsman_code == UNEXPECTED_SELECTORS
    service.start_command(kept, "lab\\A", "ipconfig")


def test_receive_with_zero_timeout_before_the_duration_is_a_timeout() -> None:
    service, clock, seen = _service(ExecResult(stdout=b"late", duration_s=5))
    shell = service.create_shell("u")
    command = service.start_command(shell, "u", "cmd /c slow")
    with pytest.raises(WsmanFault) as raised:
        service.receive(shell, "u", command, timeout_s=0, max_bytes=1000)
    assert raised.value.wsman_code == OPERATION_TIMED_OUT
    clock.now += 5
    output = service.receive(shell, "u", command, timeout_s=0, max_bytes=1000)
    assert (output.chunks, output.exit_code) == ((("stdout", b"late"),), 0)
    assert len(seen) == 1


def test_output_is_cut_by_the_budget_and_into_pieces() -> None:
    stdout = b"a" * (STREAM_PIECE_BYTES * 2 + 10)
    service, _, _ = _service(ExecResult(stdout=stdout, stderr=b"e" * 10, exit_code=7))
    shell = service.create_shell("u")
    command = service.start_command(shell, "u", "x")
    first = service.receive(shell, "u", command, 0, max_bytes=STREAM_PIECE_BYTES + 5)
    assert [len(data) for _, data in first.chunks] == [STREAM_PIECE_BYTES, 5]
    assert first.exit_code is None
    rest = service.receive(shell, "u", command, 0, max_bytes=10 * STREAM_PIECE_BYTES)
    assert [(name, len(data)) for name, data in rest.chunks] == [
        ("stdout", STREAM_PIECE_BYTES),
        ("stdout", 5),
        ("stderr", 10),
    ]
    assert rest.exit_code == 7
    joined = b"".join(data for name, data in first.chunks + rest.chunks if name == "stdout")
    assert joined == stdout


def test_send_after_end_is_a_fault() -> None:
    service, _, seen = _service()
    shell = service.create_shell("u")
    command = service.start_command(shell, "u", "x")
    service.send_input(shell, "u", command, b"all", end=True)
    with pytest.raises(WsmanFault):
        service.send_input(shell, "u", command, b"more", end=True)
    assert [request.stdin for request in seen] == [b"all"]


def test_powershell_stderr_becomes_clixml_but_other_commands_keep_theirs() -> None:
    service, _, _ = _service(ExecResult(stdout=b"", stderr=b"oops", exit_code=1))
    shell = service.create_shell("u")
    ps = service.start_command(shell, "u", "powershell -enc eAA=")
    cmd = service.start_command(shell, "u", "cmd /c x")
    ps_err = b"".join(data for _, data in service.receive(shell, "u", ps, 0, 10_000).chunks)
    cmd_err = b"".join(data for _, data in service.receive(shell, "u", cmd, 0, 10_000).chunks)
    assert ps_err.startswith(b"#< CLIXML\r\n")
    assert b"oops" in ps_err
    assert cmd_err == b"oops"
