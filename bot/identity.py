"""Who a CLI action is recorded as in the audit trail (Slack actions carry the user id)."""

from __future__ import annotations

import os
import re

from checks.errors import UsageError

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@+-]{0,63}", re.ASCII)


def os_user() -> str:
    try:
        return os.getlogin()
    except OSError:
        import getpass

        try:
            return getpass.getuser()
        except (KeyError, OSError):  # a uid without a passwd entry (containers)
            return f"uid{os.getuid()}" if hasattr(os, "getuid") else "unknown"


def cli_identity(as_user: str | None) -> str:
    """``cli:<--as NAME>`` or ``cli:<OS user>``."""
    if as_user is None:
        return f"cli:{os_user()}"
    if not _NAME.fullmatch(as_user):
        raise UsageError(
            "--as takes a name of letters, digits and . _ @ + - (at most 64), e.g. --as alice"
        )
    return f"cli:{as_user}"
