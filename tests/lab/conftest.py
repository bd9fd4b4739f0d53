from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lab.estate import Estate


def probe_script(name: str, params: dict[str, Any], version: int = 1) -> str:
    """A probe script of docs/probes.md's shape (header, $params line, constant body)."""
    encoded = base64.b64encode(json.dumps(params).encode("utf-8")).decode("ascii")
    return (
        f"# wsusbot-probe: {name} v{version}\r\n"
        f"$params = [Text.Encoding]::UTF8.GetString([Convert]::FromBase64String('{encoded}'))\r\n"
        "$p = $params | ConvertFrom-Json\r\n"
        "Write-Output '{}'\r\n"
    )


STAGER = (
    "# wsusbot-probe: stager v1\r\n$s = [ScriptBlock]::Create([Console]::In.ReadToEnd()); & $s\r\n"
)


@pytest.fixture
def start_estate(tmp_path: Path) -> Iterator[Any]:
    started: list[Estate] = []

    def start(name: str, **kwargs: Any) -> Estate:
        estate = Estate.start(name, workdir=tmp_path / f"estate{len(started)}", **kwargs)
        started.append(estate)
        return estate

    yield start
    for estate in started:
        estate.stop()
