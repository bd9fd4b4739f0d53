"""The contract between the WS-Management transport and a simulated host.

The transport decodes what pywinrm sent and calls the host's executor once per command,
when the command's input is complete; the executor decides what the command answers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class CommandRequest:
    """One command as the simulated host receives it."""

    command_line: str
    """The raw command and its arguments, joined by a space."""
    script: str | None
    """The decoded PowerShell text when the command line carried -EncodedCommand (any
    accepted spelling), else None: None means "not a PowerShell script"."""
    stdin: bytes
    """Everything received through Send for this command (empty when nothing was sent)."""
    username: str
    """The authenticated user, as the client named it (NTLM: ``DOMAIN\\user``)."""


@dataclass(frozen=True)
class ExecResult:
    """What a command answers."""

    stdout: bytes
    stderr: bytes = b""
    exit_code: int = 0
    duration_s: float = 0.0
    """Simulated run time: Receive answers the OperationTimeout fault until this much wall
    time has passed since the executor returned."""


class Executor(Protocol):
    """A simulated host's command runner. It may raise: the client then gets a WSManFault."""

    def __call__(self, request: CommandRequest) -> ExecResult: ...
