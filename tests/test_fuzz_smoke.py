"""Every fuzz target runs for a few seconds over its saved corpus (fuzz/README.md), so a
parser that starts crashing on known-shaped input surfaces in the test suite; the long
runs are done by hand (the figures are in the closing notes)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TARGETS = ("facts", "w3c", "slash_command", "host", "regtime")

pytest.importorskip("atheris")


@pytest.mark.parametrize("target", TARGETS)
def test_fuzz_target_survives_a_short_run(target: str, tmp_path: Path) -> None:
    corpus = ROOT / "fuzz" / "corpus" / target
    assert any(corpus.iterdir()), f"{target} has no seed corpus"
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "fuzz" / f"fuzz_{target}.py"),
            str(tmp_path),  # new inputs go here, never into the saved corpus
            str(corpus),
            "-max_total_time=3",
            "-timeout=10",
            "-rss_limit_mb=2048",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    tail = (result.stdout + result.stderr)[-3000:]
    assert result.returncode == 0, tail
    assert "Done" in tail or "INITED" in tail, tail
