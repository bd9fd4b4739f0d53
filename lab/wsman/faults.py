"""WS-Management faults: the codes the lab answers with, and the switchable fault injection."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

# Codes from winerror.h (ERROR_WSMAN_*). pywinrm recognises OPERATION_TIMED_OUT by value.
RESOURCE_NOT_FOUND = 2150858752
INVALID_ACTION_URI = 2150858753
PROVIDER_FAILURE = 2150858755
INVALID_SOAP_BODY = 2150858791
OPERATION_TIMED_OUT = 2150858793
UNEXPECTED_SELECTORS = 2150858843
INVALID_TIMEOUT_HEADER = 2150858881


class WsmanFault(Exception):
    """A SOAP fault to answer instead of the normal reply (HTTP 500)."""

    def __init__(
        self,
        wsman_code: int,
        reason: str,
        *,
        subcode: str = "w:InternalError",
        code: str = "s:Receiver",
    ) -> None:
        super().__init__(wsman_code, reason)
        self.wsman_code = wsman_code
        self.reason = reason
        self.subcode = subcode
        self.code = code

    def __str__(self) -> str:
        return f"WSManFault {self.wsman_code}: {self.reason}"


def operation_timed_out() -> WsmanFault:
    return WsmanFault(
        OPERATION_TIMED_OUT,
        "The WS-Management service cannot complete the operation within the time specified"
        " in OperationTimeout.",
        subcode="w:TimedOut",
    )


@dataclass(frozen=True)
class FaultSettings:
    """A consistent snapshot of the injected faults, read once per request."""

    latency_ms: float = 0.0
    refuse: bool = False
    force_401: bool = False
    fault_500: bool = False
    malformed_xml: bool = False


class Faults:
    """Fault injection for one server, changeable from any thread while it runs.

    latency_ms delays every request; refuse closes the listener and open connections
    (clients see connection refused) until cleared; force_401 rejects every request with
    401; fault_500 answers a WSManFault to Command; malformed_xml answers HTTP 200 with
    text that is not XML to every SOAP request.
    """

    def __init__(
        self,
        *,
        latency_ms: float = 0.0,
        refuse: bool = False,
        force_401: bool = False,
        fault_500: bool = False,
        malformed_xml: bool = False,
    ) -> None:
        self._lock = threading.Lock()
        self._settings = FaultSettings(latency_ms, refuse, force_401, fault_500, malformed_xml)
        self._refuse_listeners: list[Callable[[bool], None]] = []

    def snapshot(self) -> FaultSettings:
        with self._lock:
            return self._settings

    def _replace(self, **changes: float | bool) -> None:
        with self._lock:
            current = self._settings
            self._settings = FaultSettings(
                latency_ms=float(changes.get("latency_ms", current.latency_ms)),
                refuse=bool(changes.get("refuse", current.refuse)),
                force_401=bool(changes.get("force_401", current.force_401)),
                fault_500=bool(changes.get("fault_500", current.fault_500)),
                malformed_xml=bool(changes.get("malformed_xml", current.malformed_xml)),
            )

    def on_refuse_change(self, listener: Callable[[bool], None]) -> None:
        """Call ``listener(refuse)`` whenever ``refuse`` changes (the server's hook)."""
        with self._lock:
            self._refuse_listeners.append(listener)

    def clear(self) -> None:
        """Back to no faults at all."""
        self.latency_ms = 0.0
        self.force_401 = False
        self.fault_500 = False
        self.malformed_xml = False
        self.refuse = False

    @property
    def latency_ms(self) -> float:
        return self.snapshot().latency_ms

    @latency_ms.setter
    def latency_ms(self, value: float) -> None:
        if value < 0:
            raise ValueError("latency_ms must not be negative")
        self._replace(latency_ms=value)

    @property
    def refuse(self) -> bool:
        return self.snapshot().refuse

    @refuse.setter
    def refuse(self, value: bool) -> None:
        with self._lock:
            changed = self._settings.refuse != value
            listeners = list(self._refuse_listeners)
        self._replace(refuse=value)
        if changed:
            for listener in listeners:
                listener(value)

    @property
    def force_401(self) -> bool:
        return self.snapshot().force_401

    @force_401.setter
    def force_401(self, value: bool) -> None:
        self._replace(force_401=value)

    @property
    def fault_500(self) -> bool:
        return self.snapshot().fault_500

    @fault_500.setter
    def fault_500(self, value: bool) -> None:
        self._replace(fault_500=value)

    @property
    def malformed_xml(self) -> bool:
        return self.snapshot().malformed_xml

    @malformed_xml.setter
    def malformed_xml(self, value: bool) -> None:
        self._replace(malformed_xml=value)
