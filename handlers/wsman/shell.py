"""A remote shell over an :class:`~handlers.wsman.channel.NtlmChannel`: Create once, then
per script Command, Send (the script on stdin), Receive until done; Delete at the end.

Five SOAP round trips for a one-script check (plus the two of authentication), against
pywinrm's ``run_ps`` eight: no anonymous request, no Signal before the Delete ([MS-WSMV]
3.1.4.4.1: deleting a shell terminates its commands).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from checks.errors import (
    BadOutputError,
    CollectionError,
    CollectionTimeoutError,
    HostUnreachableError,
    RemoteError,
)
from handlers.wsman import envelopes
from handlers.wsman.channel import Answer, NtlmChannel
from handlers.wsman.envelopes import Envelopes, MalformedAnswer

log = logging.getLogger(__name__)

#: a hostile or broken host must not make the bot buffer without bound
MAX_OUTPUT_BYTES = 64 * 2**20

#: the longest a clean-up message (Signal, Delete) may wait: the result is already known
CLEANUP_S = 5.0

#: the least time between two Receives that came back empty
MIN_EMPTY_POLL_S = 0.05

#: the code page the shell runs in: UTF-8, so the probes' JSON arrives as written
UTF8_CODEPAGE = 65001


@dataclass(frozen=True, slots=True)
class CommandOutput:
    stdout: bytes
    stderr: bytes
    exit_code: int


def gather_output(
    host: str,
    receive: Callable[[float], envelopes.Output | None],
    terminate: Callable[[], None],
    deadline: float,
) -> CommandOutput:
    """Receive until the command is done, for either WinRM client: ``receive(seconds_left)``
    is one Receive (None: the host answered "still running, ask again"). The rules are
    the same for both: no Receive started with less than half a second left and no Signal
    then (the shell's Delete ends the command, [MS-WSMV] 3.1.4.4.1); at the output cap the
    command is signalled and refused; an empty answer that came back at once is paced, so a
    broken host cannot make the client spin until the deadline."""
    stdout: list[bytes] = []
    stderr: list[bytes] = []
    received = 0
    while True:
        left = deadline - time.monotonic()
        if left <= 0.5:
            raise CollectionTimeoutError(
                f"{host}: the command did not finish before the deadline", host=host
            )
        sent = time.monotonic()
        part = receive(left)
        if part is None or (not part.stdout and not part.stderr and part.exit_code is None):
            if time.monotonic() - sent < MIN_EMPTY_POLL_S:
                time.sleep(MIN_EMPTY_POLL_S)
            if part is None:
                continue
        stdout.append(part.stdout)
        stderr.append(part.stderr)
        received += len(part.stdout) + len(part.stderr)
        if received > MAX_OUTPUT_BYTES:
            terminate()
            raise BadOutputError(
                f"{host}: the command wrote more than {MAX_OUTPUT_BYTES // 2**20} MiB; "
                "refusing the rest",
                host=host,
            )
        if part.exit_code is not None:
            return CommandOutput(b"".join(stdout), b"".join(stderr), part.exit_code)


class _ReceiveTimedOut(Exception):
    """A Receive answered w:TimedOut: the command runs on, poll again."""


class RemoteShell:
    """One shell on one host. Not thread-safe: one check drives it, one call at a time."""

    def __init__(self, host: str, channel: NtlmChannel, messages: Envelopes) -> None:
        self._host = host
        self._channel = channel
        self._messages = messages
        self._shell_id: str | None = None

    def open(self) -> None:
        """Authenticate and create the shell (the only step worth retrying: nothing ran)."""
        create = self._messages.create_shell(UTF8_CODEPAGE)
        first = self._channel.open(None if self._channel.encrypted else create)
        try:
            answer = first if first is not None else self._channel.post(create)
        except HostUnreachableError as exc:
            # the Create reached the host: a retry could leave this shell behind there
            raise RemoteError(
                f"{self._host}: WinRM dropped the connection while creating the shell ({exc})",
                host=self._host,
            ) from None
        try:
            self._shell_id = envelopes.shell_id(self._checked(answer, "connect"))
        except MalformedAnswer as exc:
            raise self._malformed(exc) from None

    def run(self, command_line: str, stdin: bytes, deadline: float) -> CommandOutput:
        """Run ``command_line`` with ``stdin`` as its whole input; raise CollectionError
        subclasses on failure. ``delivered`` is set on errors after the host took the
        command (what it did there is unknown)."""
        shell_id = self._require_shell()
        try:
            command_id = envelopes.command_id(
                self._call(self._messages.command(shell_id, command_line), "start")
            )
        except MalformedAnswer as exc:
            raise self._malformed(exc) from None
        try:
            self._call(self._messages.send(shell_id, command_id, stdin, end=True), "run")
            return self._receive(shell_id, command_id, deadline)
        except CollectionError as exc:
            exc.delivered = True
            raise
        except MalformedAnswer as exc:
            error = self._malformed(exc)
            error.delivered = True
            raise error from None

    def close(self) -> None:
        """Delete the shell (and with it any command still running), then hang up; never
        raises and waits at most CLEANUP_S: the check's result is already known."""
        try:
            if self._shell_id is not None:
                self._channel.post(
                    self._messages.delete_shell(self._shell_id), time.monotonic() + CLEANUP_S
                )
        except Exception as exc:  # clean-up only; the host ends idle shells itself
            log.debug("%s: deleting the shell failed: %s", self._host, type(exc).__name__)
        finally:
            self._shell_id = None
            self._channel.close()

    # ------------------------------------------------------------------ internals

    def _require_shell(self) -> str:
        if self._shell_id is None:
            raise RuntimeError("run() before open()")
        return self._shell_id

    def _receive(self, shell_id: str, command_id: str, deadline: float) -> CommandOutput:
        def once(left: float) -> envelopes.Output | None:
            message = self._messages.receive(shell_id, command_id, int(left - 0.5))
            answer = self._channel.post(message, deadline)
            try:
                return envelopes.output(self._checked(answer, "run", receiving=True))
            except _ReceiveTimedOut:
                return None

        return gather_output(
            self._host, once, lambda: self._terminate(shell_id, command_id), deadline
        )

    def _terminate(self, shell_id: str, command_id: str) -> None:
        try:
            self._channel.post(
                self._messages.terminate(shell_id, command_id), time.monotonic() + CLEANUP_S
            )
        except Exception as exc:  # best effort; the Delete follows
            log.debug("%s: terminating the command failed: %s", self._host, type(exc).__name__)

    def _call(self, message: bytes, stage: str) -> bytes:
        return self._checked(self._channel.post(message), stage)

    def _checked(self, answer: Answer, stage: str, *, receiving: bool = False) -> bytes:
        if answer.status == 200:
            return answer.body
        fault = envelopes.fault(answer.body)
        if fault is None:
            raise RemoteError(f"{self._host}: WinRM HTTP error {answer.status}", host=self._host)
        if receiving and fault.wsman_code == envelopes.OPERATION_TIMED_OUT:
            # only a Receive's timeout means "still running, ask again"
            raise _ReceiveTimedOut()
        raise RemoteError(
            f"{self._host}: WS-Management fault {fault.wsman_code or fault.code} "
            f"({stage}): {fault.reason[:300]}",
            host=self._host,
        )

    def _malformed(self, exc: MalformedAnswer) -> BadOutputError:
        return BadOutputError(
            f"{self._host}: the WinRM answer is not valid WS-Management XML ({exc})",
            host=self._host,
        )
