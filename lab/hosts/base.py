"""What every simulated host shares: probe dispatch, counters and executor-side faults."""

from __future__ import annotations

import re
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from lab.clock import LabClock
from lab.hosts.psjson import probe_json
from lab.hosts.script import ScriptError, clixml_error, parse_probe, script_text
from lab.hosts.values import JsonDict
from lab.wsman.executor import CommandRequest, ExecResult

_BARE_EXIT = re.compile(r"\Aexit ([0-9]{1,3})\Z")
#: simulated run time of a hung probe: past any operation timeout or host deadline
HANG_SECONDS = 3600.0

ProbeHandler = Callable[[dict[str, Any]], JsonDict]


class ProbeFailure(Exception):
    """A probe (usually a fix) that ran but could not complete: exit 1, ``message`` on
    stderr, ``document`` (e.g. a fix result with ``changed``) still on stdout."""

    def __init__(self, message: str, document: JsonDict | None = None) -> None:
        super().__init__(message)
        self.document = document


@dataclass
class HostFaults:
    """Faults the executor injects (the transport's own live in ``WsmanServer.faults``)."""

    truncate_json: bool = False
    hang: bool = False
    #: fix probe names that fail with "Access is denied." (exit 1)
    fail_fixes: set[str] = field(default_factory=set)
    #: fix probe names whose answer is cut short after the fix has changed the host
    #: (the connection dropped while the output was on its way)
    truncate_fixes: set[str] = field(default_factory=set)


class SimulatedHost:
    """A host's executor: parses the probe script, answers from state, counts."""

    role: str = "host"

    def __init__(self, name: str, address: str, clock: LabClock) -> None:
        self.name = name
        self.address = address
        self.clock = clock
        self.faults = HostFaults()
        self.lock = threading.RLock()
        self._counts: Counter[str] = Counter()
        self._counts_lock = threading.Lock()
        #: the transport serving this host, set by the estate (``WsmanServer``)
        self.wsman: Any = None

    # -- probes a subclass answers -------------------------------------------------
    def fact_probes(self) -> dict[str, tuple[str, ProbeHandler]]:
        """name -> (schema of its document, handler); these may appear in a bundle."""
        return {}

    def fix_probes(self) -> dict[str, ProbeHandler]:
        return {}

    def after_fix(self) -> None:
        """Called after every fix probe, outside the host lock."""

    # -- counters --------------------------------------------------------------------
    def probe_counts(self) -> dict[str, int]:
        with self._counts_lock:
            return dict(self._counts)

    def reset_counts(self) -> None:
        with self._counts_lock:
            self._counts.clear()

    def _count(self, name: str) -> None:
        with self._counts_lock:
            self._counts[name] += 1

    # -- the executor ------------------------------------------------------------------
    def __call__(self, request: CommandRequest) -> ExecResult:
        if request.script is not None and (bare := _BARE_EXIT.match(request.script.strip())):
            # ``exit N`` alone, as a baseline measures a bare round trip with it
            return ExecResult(stdout=b"", exit_code=int(bare.group(1)))
        try:
            call = parse_probe(script_text(request))
            document = self._dispatch(call.name, call.version, call.params)
        except ScriptError as exc:
            return ExecResult(stdout=b"", stderr=clixml_error(str(exc)), exit_code=1)
        except ProbeFailure as exc:
            stdout = probe_json(exc.document) if exc.document is not None else b""
            return ExecResult(stdout=stdout, stderr=clixml_error(str(exc)), exit_code=1)
        stdout = probe_json(document)
        if self.faults.truncate_json or call.name in self.faults.truncate_fixes:
            stdout = stdout[: max(1, len(stdout) // 2)]
        return ExecResult(stdout=stdout, duration_s=HANG_SECONDS if self.faults.hang else 0.0)

    def answer(self, name: str, params: dict[str, Any] | None = None) -> JsonDict:
        """Answer one probe directly (tests and tools; no transport, no faults)."""
        return self._dispatch(name, 1, params or {})

    def _dispatch(self, name: str, version: int, params: dict[str, Any]) -> JsonDict:
        facts = self.fact_probes()
        fixes = self.fix_probes()
        if name == "bundle" and version == 1:
            document = self._bundle(params, facts)
        elif name in facts and version == 1:
            with self.lock:
                document = facts[name][1](params)
        elif name in fixes and version == 1:
            if name in self.faults.fail_fixes:
                self._count(name)
                raise ProbeFailure(
                    f"{name}: Access is denied.",
                    {"fix": name, "changed": False, "before": {}, "after": {}, "log": []},
                )
            try:
                with self.lock:
                    document = fixes[name](params)
            finally:
                self._count(name)
                self.after_fix()
            return document
        elif name in facts or name in fixes or name == "bundle":
            raise ScriptError(f"Probe {name} v{version} is not supported (this host has v1).")
        else:
            raise ScriptError(
                f"The probe '{name}' is not recognized on this {self.role} "
                f"(known: {', '.join(sorted([*facts, *fixes, 'bundle']))})."
            )
        self._count(name)
        return document

    def _bundle(
        self, params: dict[str, Any], facts: dict[str, tuple[str, ProbeHandler]]
    ) -> JsonDict:
        wanted = params.get("probes")
        if not isinstance(wanted, dict):
            raise ScriptError("Probe bundle: params.probes must be an object.")
        documents: JsonDict = {}
        for sub_name, sub_params in wanted.items():
            if sub_name not in facts:
                documents[sub_name] = {
                    "schema": f"wsusbot.{sub_name}/1",
                    "errors": [{"source": sub_name, "message": "unknown probe"}],
                }
                continue
            schema, handler = facts[sub_name]
            try:
                with self.lock:
                    documents[sub_name] = handler(
                        sub_params if isinstance(sub_params, dict) else {}
                    )
                self._count(sub_name)
            except Exception as exc:
                documents[sub_name] = {
                    "schema": schema,
                    "errors": [{"source": sub_name, "message": f"{type(exc).__name__}: {exc}"}],
                }
        return {"schema": "wsusbot.bundle/1", "documents": documents}
