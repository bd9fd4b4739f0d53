"""The one error hierarchy of wsusbot.

Every error the project raises on purpose derives from :class:`WsusbotError`.
Foreign exceptions (pydantic, pywinrm, httpx, SQLAlchemy, ...) are translated at the
boundary with ``raise ... from exc`` so callers handle a single family, and so the
messages can be written without secrets in them.
"""

from __future__ import annotations

from checks.platforms import WINDOWS_2000_BY_HAND


class WsusbotError(Exception):
    """Root of every error wsusbot raises deliberately."""

    #: process exit code the CLI uses for this family
    exit_code: int = 2


class UsageError(WsusbotError):
    """The caller asked for something malformed (bad argument, unknown id)."""


class ConfigError(WsusbotError):
    """The configuration file or environment is invalid."""


class FactsError(WsusbotError):
    """A facts document is unreadable or does not follow its schema."""


class UnknownHostError(UsageError):
    """The host is not in the inventory and matches no configured pattern."""


class CollectionError(WsusbotError):
    """Facts could not be gathered from a host. ``reason`` is a short stable word (stored
    with the run, shown in Slack); ``next_step`` what the operator should do about it."""

    exit_code = 3
    reason: str = "collection_failed"
    next_step: str = "See the evidence, then re-run the check."

    def __init__(self, message: str, *, host: str | None = None) -> None:
        super().__init__(message)
        self.host = host
        #: True once the command reached the host: for a fix, whether it ran is unknown
        self.delivered = False


class HostUnreachableError(CollectionError):
    reason = "unreachable"
    next_step = (
        "Check that the host is up, that WinRM listens (winrm quickconfig; "
        "port 5985/5986) and that no firewall blocks the bot."
    )


class AuthenticationFailedError(CollectionError):
    reason = "auth_failed"
    next_step = (
        "Check the WinRM account's user name and password (or certificate) and "
        "that it is in the host's local Administrators / Remote Management Users group."
    )


class UnsupportedOsError(CollectionError):
    """The host runs a Windows that cannot run WinRM / PowerShell 2.0 (Windows 2000)."""

    reason = "unsupported_os"
    next_step = WINDOWS_2000_BY_HAND


class TlsError(CollectionError):
    reason = "tls"
    next_step = "Check the host's WinRM HTTPS certificate against the configured CA bundle."


class CollectionTimeoutError(CollectionError):
    reason = "timeout"
    next_step = (
        "The host did not answer within the deadline: check its load and WinRM "
        "service, or raise runner.host_deadline_s."
    )


class NoSiteWorkerError(CollectionError):
    """The host belongs to a site (``site`` in the inventory) and no worker of that site
    answers: the bot never reaches a site's hosts itself (docs/architecture.md, "Sites")."""

    reason = "no_site_worker"
    next_step = (
        "Start a worker in the host's site (wsusbot worker --site NAME) on a machine that "
        "reaches the host, and check that it reaches the broker (wsusbot doctor lists the "
        "live workers per site)."
    )


class RemoteError(CollectionError):
    """The host answered, but the command failed there (WSManFault, non-zero exit)."""

    reason = "remote_error"
    next_step = "The probe failed on the host: see the evidence for the PowerShell error."


class ProbeFailedError(RemoteError):
    """The probe ran and exited non-zero: the host itself says it failed."""


class BadOutputError(CollectionError):
    """The host answered with something that is not the probe's JSON document."""

    reason = "bad_output"
    next_step = (
        "The host answered with something that is not the probe's JSON: see the "
        "evidence; a profile script or a broken PowerShell may be writing to stdout."
    )


class StoreError(WsusbotError):
    """The database could not be read or written."""


class FixError(WsusbotError):
    """A fix could not be requested, approved or executed."""


#: the unreachable reason of a host whose configuration (inventory, credentials) is unusable
CONFIG_REASON = "config"
_CONFIG_NEXT_STEP = "Fix the host's entry or the WinRM credentials in the configuration."


def _collection_errors(cls: type[CollectionError]) -> list[type[CollectionError]]:
    found = [cls]
    for sub in cls.__subclasses__():
        found += _collection_errors(sub)
    return found


def next_step_for(reason: str) -> str:
    """The next step for an unreachable reason, from the error class that carries it."""
    if reason == CONFIG_REASON:
        return _CONFIG_NEXT_STEP
    for cls in _collection_errors(CollectionError):
        if cls.reason == reason:
            return cls.next_step
    return CollectionError.next_step
