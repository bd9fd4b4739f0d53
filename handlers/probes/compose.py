"""Compose PowerShell probe scripts from package data (docs/probes.md, "Script shape").

A rendered probe is ``header`` + the ``$params`` line + a constant body. The body is the
shared helper libraries (``lib/common.psm1``; ``lib/iis.psm1`` for IIS-side probes, ``lib/fix.psm1``
for fixes), the probe's own ``.ps1`` file (which defines ``Invoke-WsusbotProbe_<name>``)
and one entry line. Parameters only ever reach the script as base64 on line 2: that is the injection
defence, so nothing in this module puts a parameter value anywhere else.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any

from checks.errors import UsageError
from checks.facts import CLIENT_FACTS, IIS_LOG, SERVER_FACTS, WSUS_COMPUTERS
from checks.fixes import FIXES

#: facts probes and the schema of the document each writes
FACTS_SCHEMAS: Mapping[str, str] = {
    "client_facts": CLIENT_FACTS,
    "server_facts": SERVER_FACTS,
    "iis_log": IIS_LOG,
    "wsus_computers": WSUS_COMPUTERS,
}

#: fix probe name -> fix id (checks/fixes.py is the one source of that mapping)
FIX_IDS: Mapping[str, str] = {fix.probe: fix.id for fix in FIXES if fix.probe is not None}

PROBE_NAMES: tuple[str, ...] = (*FACTS_SCHEMAS, *FIX_IDS)
BUNDLE_NAME = "bundle"
STAGER_HEADER = "# wsusbot-probe: stager v1"

#: probes that need the IIS helper library as well as the common one
_IIS_PROBES = frozenset(
    {
        "server_facts",
        "iis_log",
        "fix_install_selfupdate_port80",
        "fix_enable_anonymous_auth",
        "fix_start_services",
    }
)
_LIBRARIES = ("common", "iis", "fix")

_HEADER_RE = re.compile(r"\A# wsusbot-probe: ([a-z0-9_]+) v([0-9]+)\r?\n")
#: line 2, exactly as docs/probes.md writes it
PARAMS_LINE_RE = re.compile(
    r"\$params = \[Text\.Encoding\]::UTF8\.GetString\("
    r"\[Convert\]::FromBase64String\('([A-Za-z0-9+/]*={0,2})'\)\)"
)
_PARAMS_LINE = "$params = [Text.Encoding]::UTF8.GetString([Convert]::FromBase64String('{b64}'))"
_POWERSHELL = "powershell.exe -NoProfile -NonInteractive -ExecutionPolicy Bypass -EncodedCommand "
#: a parameter tree deeper than this is refused (and no real probe needs more than 3)
_MAX_DEPTH = 32


@dataclass(frozen=True, slots=True)
class ProbeScript:
    """One probe: its name, version and constant body (everything after line 2)."""

    name: str
    version: int
    body: str

    @property
    def header(self) -> str:
        return f"# wsusbot-probe: {self.name} v{self.version}"


@functools.cache
def _read_package_file(filename: str) -> str:
    return resources.files(__package__).joinpath(filename).read_text(encoding="utf-8")


def _split_file(name: str) -> tuple[int, str]:
    """A probe file's version (from its header) and the text after the header."""
    text = _read_package_file(f"{name}.ps1")
    match = _HEADER_RE.match(text)
    if match is None or match.group(1) != name:
        raise UsageError(
            f"probe file {name}.ps1 does not start with '# wsusbot-probe: {name} v<N>'"
        )
    return int(match.group(2)), text[match.end() :]


def _library_text(name: str) -> str:
    """A helper library's text without its first (identifying) line."""
    text = _read_package_file(f"lib/{name}.psm1")
    return text.split("\n", 1)[1]


def _check_name(name: object) -> None:
    if not isinstance(name, str) or name not in PROBE_NAMES:
        shown = repr(name[:80] if isinstance(name, str) else name)[:90]
        raise UsageError(f"unknown probe {shown}; known probes: " + ", ".join(sorted(PROBE_NAMES)))


def _libraries_for(names: tuple[str, ...]) -> str:
    wanted = {"common"}
    if any(name in _IIS_PROBES for name in names):
        wanted.add("iis")
    if any(name in FIX_IDS for name in names):
        wanted.add("fix")
    return "".join(_library_text(lib) for lib in _LIBRARIES if lib in wanted)


def _ps_quote(text: str) -> str:
    """A single-quoted PowerShell literal of a constant (probe names, schema ids)."""
    return "'" + text.replace("'", "''") + "'"


def _entry_line(name: str) -> str:
    if name in FACTS_SCHEMAS:
        return (
            f"Invoke-WsusbotFactsMain {_ps_quote(name)} {_ps_quote(FACTS_SCHEMAS[name])} $params\n"
        )
    return f"Invoke-WsusbotFixMain {_ps_quote(name)} {_ps_quote(FIX_IDS[name])} $params\n"


def load(name: str) -> ProbeScript:
    """The probe ``name`` with its full constant body (libraries, probe, entry line)."""
    _check_name(name)
    version, own = _split_file(name)
    body = _libraries_for((name,)) + own + _entry_line(name)
    return ProbeScript(name=name, version=version, body=body)


def _validate(value: object, where: str, depth: int = 0) -> None:
    if depth > _MAX_DEPTH:
        raise UsageError(f"parameter {where} is nested deeper than {_MAX_DEPTH} levels")
    if value is None or isinstance(value, bool | int):
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise UsageError(f"parameter {where} is {value!r}, which JSON cannot carry")
        return
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise UsageError(f"parameter {where} is not valid Unicode text") from None
        return
    if isinstance(value, list):
        for index, item in enumerate(value):
            _validate(item, f"{where}[{index}]", depth + 1)
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise UsageError(f"parameter {where} has a non-string key {key!r:.40}")
            _validate(key, f"{where} key", depth + 1)
            _validate(item, f"{where}.{key[:40]}", depth + 1)
        return
    raise UsageError(
        f"parameter {where} is a {type(value).__name__}; probe parameters must be "
        "str, int, float, bool, None, list or dict"
    )


def params_line(params: Mapping[str, object]) -> str:
    """Line 2 of a probe: ``$params`` = the UTF-8 JSON text of ``params``, base64-carried."""
    if not isinstance(params, Mapping):
        raise UsageError(f"probe parameters must be a mapping, not {type(params).__name__}")
    as_dict = dict(params)
    _validate(as_dict, "params")
    text = json.dumps(as_dict, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    b64 = base64.b64encode(text.encode("utf-8")).decode("ascii")
    return _PARAMS_LINE.format(b64=b64)


def render(name: str, params: Mapping[str, object]) -> str:
    """The script that runs probe ``name`` with ``params`` (header, params line, body)."""
    probe = load(name)
    return f"{probe.header}\n{params_line(params)}\n{probe.body}"


def render_bundle(parts: Mapping[str, Mapping[str, object]]) -> str:
    """ONE script running several facts probes, each in its own function scope.

    Its output is ``{"schema": "wsusbot.bundle/1", "documents": {name: doc}}``. Only
    facts probes can be bundled: a fix reports through its exit code, which a bundle
    could not carry per part.
    """
    if not parts:
        raise UsageError("a bundle needs at least one probe")
    for name in parts:
        _check_name(name)
        if name not in FACTS_SCHEMAS:
            raise UsageError(f"probe {name!r} is a fix; only facts probes can be bundled")
        if not isinstance(parts[name], Mapping):
            raise UsageError(f"parameters of bundled probe {name!r} must be a mapping")
    names = tuple(name for name in PROBE_NAMES if name in parts)
    own = "".join(_split_file(name)[1] for name in names)
    pairs = ", ".join(f"{_ps_quote(name)}, {_ps_quote(FACTS_SCHEMAS[name])}" for name in names)
    body = _libraries_for(names) + own + f"Invoke-WsusbotBundleMain $params @({pairs})\n"
    probes = {name: dict(parts[name]) for name in names}
    return f"# wsusbot-probe: {BUNDLE_NAME} v1\n{params_line({'probes': probes})}\n{body}"


def stager() -> str:
    """The small script that goes on the command line and runs the probe read from stdin."""
    text = _read_package_file("stager.ps1")
    if not text.startswith(STAGER_HEADER + "\n"):
        raise UsageError(f"stager.ps1 does not start with {STAGER_HEADER!r}")
    return text


def encoded_command(script: str) -> str:
    """The ``powershell.exe ... -EncodedCommand <b64 UTF-16LE>`` command line for ``script``."""
    return _POWERSHELL + base64.b64encode(script.encode("utf-16-le")).decode("ascii")


def command_line_length(script: str) -> int:
    """Characters of the command line that runs ``script`` (cmd.exe caps it at 8,191)."""
    return len(encoded_command(script))


def parse_header(script: str) -> tuple[str, int]:
    """``(name, version)`` from a script's first line."""
    match = _HEADER_RE.match(script)
    if match is None:
        raise UsageError("script has no '# wsusbot-probe: <name> v<N>' header line")
    return match.group(1), int(match.group(2))


def extract_params(script: str) -> dict[str, Any]:
    """The parameters carried on line 2 of a rendered script."""
    lines = script.split("\n", 2)
    if len(lines) < 2:
        raise UsageError("script has no $params line")
    match = PARAMS_LINE_RE.fullmatch(lines[1].rstrip("\r"))
    if match is None:
        raise UsageError("line 2 is not the $params line")
    try:
        decoded = base64.b64decode(match.group(1), validate=True).decode("utf-8")
        value = json.loads(decoded)
    except (binascii.Error, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UsageError(f"the $params line does not carry UTF-8 JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise UsageError("the $params line does not carry a JSON object")
    return value
