"""What the WS-Management tests share: the lab account and installing its NTLM file."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from lab.wsman import write_ntlm_user_file
from lab.wsman.auth import NTLM_USER_FILE_ENV

NTLM_USER = "LAB\\operator"
NTLM_PASSWORD = "Lab-Passw0rd!"
NTLM_AUTH = (NTLM_USER, NTLM_PASSWORD)


@contextmanager
def ntlm_users_installed(folder: Path) -> Iterator[Path]:
    """The lab account in an NTLM_USER_FILE the acceptors read, for the block's length."""
    path = write_ntlm_user_file(folder / "users.txt", {NTLM_USER: NTLM_PASSWORD})
    previous = os.environ.get(NTLM_USER_FILE_ENV)
    os.environ[NTLM_USER_FILE_ENV] = str(path)
    try:
        yield path
    finally:
        if previous is None:
            os.environ.pop(NTLM_USER_FILE_ENV, None)
        else:
            os.environ[NTLM_USER_FILE_ENV] = previous
