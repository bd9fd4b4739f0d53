"""Shared by the fuzz targets: run a one-input function under atheris."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

# the targets run as scripts from the project root
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import atheris


def fuzz(test_one: Callable[[bytes], None]) -> None:
    # every wsusbot function loaded by then gets coverage instrumentation
    atheris.instrument_all()
    atheris.Setup(sys.argv, test_one)
    atheris.Fuzz()


def text_of(data: bytes) -> str:
    """The input as text the way a web form or a registry read hands it over: UTF-8, with
    undecodable bytes replaced (so the seed corpus files are the strings they look like)."""
    return data.decode("utf-8", errors="replace")
