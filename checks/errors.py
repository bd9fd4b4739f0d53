"""The one error hierarchy of wsusbot.

Every error the project raises on purpose derives from :class:`WsusbotError`.
Foreign exceptions (pydantic, pywinrm, httpx, SQLAlchemy, ...) are translated at the
boundary with ``raise ... from exc`` so callers handle a single family, and so the
messages can be written without secrets in them.
"""

from __future__ import annotations


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
    """Facts could not be gathered from a host. ``reason`` is a short stable word."""

    exit_code = 3
    reason: str = "collection_failed"

    def __init__(self, message: str, *, host: str | None = None) -> None:
        super().__init__(message)
        self.host = host


class HostUnreachableError(CollectionError):
    reason = "unreachable"


class AuthenticationFailedError(CollectionError):
    reason = "auth_failed"


class TlsError(CollectionError):
    reason = "tls"


class CollectionTimeoutError(CollectionError):
    reason = "timeout"


class RemoteError(CollectionError):
    """The host answered, but the command failed there (WSManFault, non-zero exit)."""

    reason = "remote_error"


class BadOutputError(CollectionError):
    """The host answered with something that is not the probe's JSON document."""

    reason = "bad_output"


class StoreError(WsusbotError):
    """The database could not be read or written."""


class FixError(WsusbotError):
    """A fix could not be requested, approved or executed."""
