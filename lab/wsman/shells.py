"""Shells and commands of one simulated host: the state behind Create/Command/Send/Receive."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from lab.wsman.clixml import clixml_error, is_clixml
from lab.wsman.commandline import decode_powershell_script
from lab.wsman.executor import CommandRequest, ExecResult, Executor
from lab.wsman.faults import (
    INVALID_SOAP_BODY,
    PROVIDER_FAILURE,
    RESOURCE_NOT_FOUND,
    UNEXPECTED_SELECTORS,
    WsmanFault,
    operation_timed_out,
)
from lab.wsman.stats import StatsRecorder

log = logging.getLogger(__name__)

# Output is cut into Stream elements of at most this many bytes, as Windows does.
STREAM_PIECE_BYTES = 8192
# Windows' default shell IdleTimeout: a shell nobody touched for this long is dropped.
SHELL_IDLE_TIMEOUT_S = 7200.0


@dataclass(frozen=True)
class ReceivedOutput:
    """One Receive's worth of output; ``exit_code`` is None while output remains."""

    chunks: tuple[tuple[str, bytes], ...]
    exit_code: int | None


@dataclass
class _Command:
    command_id: str
    command_line: str
    script: str | None
    stdin: bytearray = field(default_factory=bytearray)
    input_started: bool = False
    input_ended: bool = False
    executing: bool = False
    result: ExecResult | None = None
    failure: WsmanFault | None = None
    ready_at: float = 0.0
    stdout_sent: int = 0
    stderr_sent: int = 0


@dataclass
class _Shell:
    shell_id: str
    owner: str
    last_used: float
    commands: dict[str, _Command] = field(default_factory=dict)


def _shell_not_found(shell_id: str) -> WsmanFault:
    return WsmanFault(
        UNEXPECTED_SELECTORS,
        f"The request for the Windows Remote Shell with ShellId {shell_id[:64]} failed because"
        " the shell was not found on the server.",
        subcode="w:InvalidSelectors",
        code="s:Sender",
    )


def _command_not_found(command_id: str) -> WsmanFault:
    return WsmanFault(
        RESOURCE_NOT_FOUND,
        f"The command with CommandId {command_id[:64]} was not found in the shell.",
        subcode="w:InvalidSelectors",
        code="s:Sender",
    )


class ShellService:
    """Thread-safe shell table. The executor runs outside the lock, once per command."""

    def __init__(
        self,
        executor: Executor,
        stats: StatsRecorder,
        clock: Callable[[], float] = time.monotonic,
        idle_timeout_s: float = SHELL_IDLE_TIMEOUT_S,
    ) -> None:
        self._executor = executor
        self._idle_timeout_s = idle_timeout_s
        self._stats = stats
        self._clock = clock
        self._changed = threading.Condition()
        self._shells: dict[str, _Shell] = {}
        self._stopping = False

    def open_shell_count(self) -> int:
        with self._changed:
            return len(self._shells)

    def stop(self) -> None:
        """Release every Receive that is waiting (they answer the timeout fault)."""
        with self._changed:
            self._stopping = True
            self._changed.notify_all()

    def create_shell(self, owner: str) -> str:
        shell_id = str(uuid.uuid4()).upper()
        with self._changed:
            now = self._clock()
            # Abandoned shells (a client that failed before Delete) are reaped lazily here.
            for stale in [
                shell
                for shell in self._shells.values()
                if now - shell.last_used > self._idle_timeout_s
            ]:
                del self._shells[stale.shell_id]
            self._shells[shell_id] = _Shell(shell_id, owner, now)
        self._stats.shell_created()
        return shell_id

    def delete_shell(self, shell_id: str | None, user: str) -> None:
        with self._changed:
            shell = self._shell(shell_id, user)
            del self._shells[shell.shell_id]
            self._changed.notify_all()

    def start_command(self, shell_id: str | None, user: str, command_line: str) -> str:
        command_id = str(uuid.uuid4()).upper()
        script = decode_powershell_script(command_line)
        with self._changed:
            shell = self._shell(shell_id, user)
            shell.commands[command_id] = _Command(command_id, command_line, script)
        return command_id

    def send_input(
        self, shell_id: str | None, user: str, command_id: str, data: bytes, end: bool
    ) -> None:
        with self._changed:
            shell = self._shell(shell_id, user)
            command = self._command(shell, command_id)
            if command.input_ended or command.executing or command.result is not None:
                raise WsmanFault(
                    INVALID_SOAP_BODY,
                    "The command's input stream is already closed.",
                    subcode="w:InvalidParameter",
                    code="s:Sender",
                )
            command.stdin.extend(data)
            command.input_started = True
            command.input_ended = end
            if end:
                command.executing = True
        if end:
            self._execute(shell.owner, command)

    def receive(
        self, shell_id: str | None, user: str, command_id: str, timeout_s: float, max_bytes: int
    ) -> ReceivedOutput:
        deadline = self._clock() + timeout_s
        with self._changed:
            shell = self._shell(shell_id, user)
            command = self._command(shell, command_id)
            # With no Send at all the command's input is empty and complete.
            run_now = not (command.input_started or command.executing) and (
                command.result is None and command.failure is None
            )
            if run_now:
                command.input_ended = True
                command.executing = True
        if run_now:
            self._execute(shell.owner, command)
        with self._changed:
            while True:
                shell = self._shell(shell_id, user)
                command = self._command(shell, command_id)
                if command.failure is not None:
                    raise command.failure
                now = self._clock()
                if command.result is not None and now >= command.ready_at:
                    return self._take_output(command, command.result, max_bytes)
                if self._stopping or now >= deadline:
                    raise operation_timed_out()
                wait_until = deadline
                if command.result is not None:
                    wait_until = min(deadline, command.ready_at)
                self._changed.wait(max(0.0, wait_until - now))

    def signal(self, shell_id: str | None, user: str, command_id: str) -> None:
        """Terminate: the command and its output are gone (every signal code is treated so)."""
        with self._changed:
            shell = self._shell(shell_id, user)
            self._command(shell, command_id)
            del shell.commands[command_id]
            self._changed.notify_all()

    def _shell(self, shell_id: str | None, user: str) -> _Shell:
        shell = self._shells.get(shell_id or "")
        # Another user's shell is invisible, as on Windows.
        if shell is None or shell.owner.casefold() != user.casefold():
            raise _shell_not_found(shell_id or "")
        shell.last_used = self._clock()
        return shell

    @staticmethod
    def _command(shell: _Shell, command_id: str) -> _Command:
        command = shell.commands.get(command_id)
        if command is None:
            raise _command_not_found(command_id)
        return command

    def _execute(self, owner: str, command: _Command) -> None:
        request = CommandRequest(
            command_line=command.command_line,
            script=command.script,
            stdin=bytes(command.stdin),
            username=owner,
        )
        self._stats.command_run()
        result: ExecResult | None = None
        failure: WsmanFault | None = None
        try:
            result = self._executor(request)
        except Exception as error:
            log.warning("executor raised %s for a command", type(error).__name__)
            failure = WsmanFault(
                PROVIDER_FAILURE,
                f"The simulated host failed to run the command ({type(error).__name__}).",
            )
        if result is not None and command.script is not None:
            result = _as_powershell_output(result)
        with self._changed:
            command.executing = False
            command.result = result
            command.failure = failure
            if result is not None:
                command.ready_at = self._clock() + max(0.0, result.duration_s)
            self._changed.notify_all()
        if failure is not None:
            raise failure

    @staticmethod
    def _take_output(command: _Command, result: ExecResult, max_bytes: int) -> ReceivedOutput:
        budget = max(1, max_bytes)
        chunks: list[tuple[str, bytes]] = []
        for name, data, sent in (
            ("stdout", result.stdout, command.stdout_sent),
            ("stderr", result.stderr, command.stderr_sent),
        ):
            take = min(budget, len(data) - sent)
            for start in range(sent, sent + take, STREAM_PIECE_BYTES):
                chunks.append((name, data[start : min(start + STREAM_PIECE_BYTES, sent + take)]))
            budget -= take
            if name == "stdout":
                command.stdout_sent += take
            else:
                command.stderr_sent += take
        finished = command.stdout_sent >= len(result.stdout) and command.stderr_sent >= len(
            result.stderr
        )
        return ReceivedOutput(tuple(chunks), result.exit_code if finished else None)


def _as_powershell_output(result: ExecResult) -> ExecResult:
    """Windows PowerShell writes errors to a redirected stderr as CLIXML."""
    if not result.stderr or is_clixml(result.stderr):
        return result
    return ExecResult(
        stdout=result.stdout,
        stderr=clixml_error(result.stderr.decode("utf-8", errors="replace")),
        exit_code=result.exit_code,
        duration_s=result.duration_s,
    )
