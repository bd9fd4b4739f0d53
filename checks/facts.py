"""Typed facts documents, as the probes return them (docs/catalogue.md, "Facts schema").

Every field may be ``null`` (could not be read); unknown fields are tolerated so newer
probes do not break older bots. A document carries ``"schema": "wsusbot.<name>/<n>"``;
a wrong schema or a wrong type is a :class:`~checks.errors.FactsError` naming the field.

Server documents may embed the ``iis_log`` and ``wsus_computers`` documents gathered in
the same WinRM command (docs/architecture.md: collect once), under those two keys.
"""

from __future__ import annotations

import gc
import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any, Literal, NamedTuple

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    ValidationError,
)

from checks.errors import FactsError

CLIENT_FACTS = "wsusbot.client_facts/1"
SERVER_FACTS = "wsusbot.server_facts/1"
IIS_LOG = "wsusbot.iis_log/1"
WSUS_COMPUTERS = "wsusbot.wsus_computers/1"
BUNDLE = "wsusbot.bundle/1"

#: a facts file larger than this is refused before parsing (a hostile or broken host)
MAX_DOCUMENT_BYTES = 32 * 1024 * 1024


class Fact(BaseModel):
    """Base of every facts record: unknown keys kept, instances immutable. Validators are
    built at first use (``defer_build``): a command that reads client facts never builds
    the server models, and one that reads none builds nothing."""

    model_config = ConfigDict(extra="allow", frozen=True, populate_by_name=True, defer_build=True)


class ProbeError(Fact):
    source: str | None = None
    message: str | None = None


class HttpResult(Fact):
    """One HTTP request: made from the client (client facts) or by the bot (server facts)."""

    url: str | None = None
    status: int | None = None
    error: str | None = None
    elapsed_ms: float | None = None


class ServiceState(Fact):
    """Win32_Service words: state ``Running``/``Stopped``..., start_mode ``Auto``/``Disabled``..."""

    state: str | None = None
    start_mode: str | None = None


# ---------------------------------------------------------------- client facts


class OsInfo(Fact):
    caption: str | None = None
    version: str | None = None
    build: str | None = None
    arch: str | None = None
    #: OS UI language as the self-update tree names it: ``en``, ``ja``, ``de``, ``zh-tw``...
    language: str | None = None
    #: ``NetServer`` (2003), ``W2K``, ``XP``; null for OSes without a legacy self-update tree
    selfupdate_os: str | None = None


class AgentInfo(Fact):
    wuaueng_version: str | None = None


class Policy(Fact):
    """HKLM\\Software\\Policies\\Microsoft\\Windows\\WindowsUpdate (and its AU key)."""

    WUServer: str | None = None
    WUStatusServer: str | None = None
    UseWUServer: int | None = None
    NoAutoUpdate: int | None = None
    AUOptions: int | None = None
    TargetGroup: str | None = None
    TargetGroupEnabled: int | None = None
    #: extension (Windows 10/11): policies that decide whether scans go to WSUS or to
    #: Windows Update ("dual scan"); all DWORDs in the WindowsUpdate key
    DisableDualScan: int | None = None
    DeferQualityUpdates: int | None = None
    DeferFeatureUpdates: int | None = None
    SetPolicyDrivenUpdateSourceForQualityUpdates: int | None = None
    SetPolicyDrivenUpdateSourceForFeatureUpdates: int | None = None
    DoNotConnectToWindowsUpdateInternetLocations: int | None = None
    #: extension: AU\UseUpdateClassPolicySource (DWORD); the SetPolicyDrivenUpdateSource*
    #: values take effect only when it is 1 (Group Policy writes it; a registry edit must)
    UseUpdateClassPolicySource: int | None = None


class AuState(Fact):
    """HKLM\\...\\WindowsUpdate\\Auto Update values; times are raw registry strings."""

    AUState: int | None = None
    LastWaitTimeout: str | None = None
    DetectionStartTime: str | None = None
    last_search_success: str | None = None
    reboot_required: bool | None = None
    #: extension: the Control Panel setting (same key, not the policy): 1 = turned off
    AUOptions: int | None = None


class ClientServices(Fact):
    wuauserv: ServiceState | None = None
    BITS: ServiceState | None = None


class LogFile(Fact):
    path: str | None = None
    exists: bool | None = None
    tail: list[str] | None = None
    #: extension: the host's UTC offset in minutes when the tail was read (local = UTC +
    #: offset); WindowsUpdate.log timestamps are host-local
    utc_offset_minutes: int | None = None


class UrlLog(Fact):
    path: str | None = None
    exists: bool | None = None
    pingback_cached: bool | None = None


class UpdateEvent(Fact):
    """One event of the Windows Update client's operational log."""

    #: ISO-8601 UTC
    time: str | None = None
    id: int | None = None
    #: ``Error``, ``Warning``, ``Information``
    level: str | None = None
    message: str | None = None


class UpdateEvents(Fact):
    """Extension (Windows 10 / Server 2016 and later, where WindowsUpdate.log is an ETW
    stub): ``Microsoft-Windows-WindowsUpdateClient/Operational`` via Get-WinEvent."""

    log: str | None = None
    #: False when the log does not exist on the host (older Windows) or cannot be read
    available: bool | None = None
    events: list[UpdateEvent] | None = None


class ClientLogs(Fact):
    windowsupdate_log: LogFile | None = None
    urllog_dat: UrlLog | None = None
    windowsupdate_events: UpdateEvents | None = None


class ProxyInfo(Fact):
    winhttp: str | None = None
    bypass: list[str] | None = None


class ClientFacts(Fact):
    schema_: Literal["wsusbot.client_facts/1"] = Field(alias="schema")
    host: str | None = None
    collected_at: str | None = None
    os: OsInfo | None = None
    agent: AgentInfo | None = None
    policy: Policy | None = None
    au: AuState | None = None
    services: ClientServices | None = None
    http: list[HttpResult] | None = None
    logs: ClientLogs | None = None
    proxy: ProxyInfo | None = None
    errors: list[ProbeError] | None = None
    #: extension: the bot's own requests to this client's WSUS server (added by the runner,
    #: same URLs as in ``http``), so a check can tell a client-network problem from a
    #: server problem
    bot_http: list[HttpResult] | None = None


# ---------------------------------------------------------------- server facts


class WsusInfo(Fact):
    installed: bool | None = None
    version: str | None = None
    install_dir: str | None = None
    port: int | None = None
    ssl: bool | None = None
    selfupdate_script_present: bool | None = None


class Binding(Fact):
    protocol: str | None = None
    port: int | None = None
    host: str | None = None


class VirtualDir(Fact):
    path: str | None = None
    physical_path: str | None = None
    exists: bool | None = None
    anonymous_auth: bool | None = None


class ManagedPath(Fact):
    """A SharePoint managed path of the site: ``explicit`` or ``wildcard`` inclusions
    (every version), ``exclusion`` (WSS 2.0 only)."""

    path: str | None = None
    kind: str | None = None


class SharePointInfo(Fact):
    present: bool | None = None
    excluded_paths: list[str] | None = None
    #: extension: the product version (``6.0.2.x`` WSS 2.0, ``12.0.x`` WSS 3.0 / MOSS 2007,
    #: ``14.0`` 2010, ``15.0`` 2013, ``16.0`` 2016+)
    version: str | None = None
    managed_paths: list[ManagedPath] | None = None


class Site(Fact):
    name: str | None = None
    id: int | None = None
    state: str | None = None
    bindings: list[Binding] | None = None
    log_dir: str | None = None
    anonymous_auth: bool | None = None
    vdirs: list[VirtualDir] | None = None
    sharepoint: SharePointInfo | None = None


class AppPool(Fact):
    name: str | None = None
    state: str | None = None
    #: extension: recycling.periodicRestart.privateMemory in KB (0 = no limit)
    private_memory_kb: int | None = None
    #: extension: the pool's request queue length (queueLength)
    queue_length: int | None = None


class IisInfo(Fact):
    version: str | None = None
    sites: list[Site] | None = None
    app_pools: list[AppPool] | None = None


class ServerServices(Fact):
    WsusService: ServiceState | None = None
    W3SVC: ServiceState | None = None


class LogFileInfo(Fact):
    name: str | None = None
    size: int | None = None


class LogCursor(Fact):
    """Where the next incremental read starts: a log file name and a byte offset in it."""

    file: str | None = None
    offset: int | None = None


class IisLog(Fact):
    schema_: Literal["wsusbot.iis_log/1"] = Field(alias="schema")
    log_dir: str | None = None
    files: list[LogFileInfo] | None = None
    #: raw W3C lines for the self-update paths, with the ``#Fields`` directives governing them
    lines: list[str] | None = None
    cursor: LogCursor | None = None
    errors: list[ProbeError] | None = None


@contextmanager
def gc_paused() -> Iterator[None]:
    """No cyclic garbage collection while a large document becomes objects: the
    collector would otherwise re-scan every object built so far, many times over (an
    inventory of 100,000 computers is a million objects, none of them in a cycle)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


#: the keys of one inventory entry, in wire order
COMPUTER_FIELDS = (
    "name",
    "ip",
    "client_version",
    "os",
    "last_sync_time",
    "last_reported_status_time",
    "last_sync_result",
    "target_group",
)
_COMPUTER_KEYS = frozenset(COMPUTER_FIELDS)


class WsusComputer(NamedTuple):
    """One computer of a WSUS inventory. An inventory holds up to hundreds of thousands,
    so this is a plain immutable record read by :func:`read_computers`, not a pydantic
    model (which costs ~1 KiB and ~5 µs each); unknown keys are kept in ``extra``."""

    name: str | None = None
    ip: str | None = None
    client_version: str | None = None
    os: str | None = None
    last_sync_time: str | None = None
    last_reported_status_time: str | None = None
    last_sync_result: str | None = None
    target_group: str | None = None
    extra: dict[str, Any] | None = None

    def as_json(self) -> dict[str, Any]:
        name, ip, version, os_name, synced, reported, result, group, extra = self
        entry: dict[str, Any] = {
            "name": name,
            "ip": ip,
            "client_version": version,
            "os": os_name,
            "last_sync_time": synced,
            "last_reported_status_time": reported,
            "last_sync_result": result,
            "target_group": group,
        }
        if extra:
            entry.update(extra)
        return entry


def _computer_error(index: int | None, message: str, value: Any) -> FactsError:
    shown = repr(value)
    if len(shown) > 60:
        shown = shown[:57] + "..."
    where = "computers" if index is None else f"computers[{index}]"
    return FactsError(f"{where}: {message} (got {shown})")


def read_computers(entries: Any) -> list[WsusComputer]:
    """The ``computers`` array of a ``wsusbot.wsus_computers/1`` document, validated as
    the schema says (each entry an object, each known field a string or null) in one
    lean pass; raises :class:`~checks.errors.FactsError` naming the entry and field."""
    if not isinstance(entries, list | tuple):
        raise _computer_error(None, "expected a list of computers", entries)
    with gc_paused():
        return _read_computers(entries)


def _read_computers(entries: list[Any] | tuple[Any, ...]) -> list[WsusComputer]:
    found: list[WsusComputer] = []
    append = found.append
    make = tuple.__new__
    shared: dict[str, str] = {}
    share = shared.setdefault
    keys = _COMPUTER_KEYS
    for index, entry in enumerate(entries):
        if type(entry) is WsusComputer:
            append(entry)
            continue
        if type(entry) is not dict:
            raise _computer_error(index, "expected an object", entry)
        get = entry.get
        version, os_name = get("client_version"), get("os")
        result, group = get("last_sync_result"), get("target_group")
        synced, reported = get("last_sync_time"), get("last_reported_status_time")
        values = (
            get("name"),
            get("ip"),
            share(version, version) if type(version) is str else version,
            share(os_name, os_name) if type(os_name) is str else os_name,
            synced,
            synced if reported == synced else reported,  # usually the same time: one copy
            share(result, result) if type(result) is str else result,
            share(group, group) if type(group) is str else group,
            None if entry.keys() <= keys else {k: v for k, v in entry.items() if k not in keys},
        )
        for field, value in zip(COMPUTER_FIELDS, values, strict=False):
            if value is not None and type(value) is not str:
                raise _computer_error(index, f"field '{field}' must be a string or null", value)
        append(make(WsusComputer, values))
    return found


#: columns of a compact page whose values are an index into the page's ``tables``
TABLED_FIELDS = ("client_version", "os", "last_sync_result", "target_group")


def read_computer_rows(columns: Any, tables: Any, rows: Any) -> list[WsusComputer]:
    """The computers of a compact inventory page (the probe's ``format: "rows"``): one
    array per computer, values in ``columns`` order; a column named in ``tables`` holds an
    index into that table (or null). Validated as :func:`read_computers` validates
    objects; raises :class:`~checks.errors.FactsError` naming the row and column."""
    if not isinstance(columns, list) or not all(type(c) is str for c in columns):
        raise FactsError(f"columns: expected a list of column names (got {columns!r:.60})")
    if len(set(columns)) != len(columns):
        raise FactsError(f"columns: a column is named twice (got {columns!r:.60})")
    if not isinstance(tables, dict):
        raise FactsError(f"tables: expected an object of value tables (got {tables!r:.60})")
    for column, values in tables.items():
        if column not in columns:
            raise FactsError(f"tables: '{column[:40]}' is not one of the columns")
        if not isinstance(values, list) or not all(type(v) is str for v in values):
            raise FactsError(f"tables.{column[:40]}: expected a list of strings")
    if not isinstance(rows, list):
        raise _computer_error(None, "expected a list of rows", rows)
    with gc_paused():
        if tuple(columns) == COMPUTER_FIELDS and tables.keys() == set(TABLED_FIELDS):
            return _read_standard_rows(tables, rows)
        return _read_computers([_row_entry(i, columns, tables, r) for i, r in enumerate(rows)])


def _row_entry(index: int, columns: list[str], tables: dict[str, Any], row: Any) -> Any:
    """One row as the object it stands for (the general shape: other columns or tables)."""
    if type(row) is not list or len(row) != len(columns):
        raise _computer_error(index, f"expected a row of {len(columns)} values", row)
    entry = dict(zip(columns, row, strict=True))
    for column, values in tables.items():
        entry[column] = _table_value(index, column, values, entry[column])
    return entry


def _table_value(index: int, column: str, values: list[str], position: Any) -> str | None:
    if position is None:
        return None
    if type(position) is not int or not 0 <= position < len(values):
        raise _computer_error(
            index, f"field '{column}' must be an index into tables.{column} or null", position
        )
    return values[position]


def _read_standard_rows(tables: dict[str, list[str]], rows: list[Any]) -> list[WsusComputer]:
    """The probe's own shape, in one tight pass: each table becomes a lookup from index
    to its (shared) string; a key that is not there, or a value of the wrong type, falls
    back to :func:`_row_entry` for the error that names it."""
    lookups = [{**dict(enumerate(tables[column])), None: None} for column in TABLED_FIELDS]
    versions, oses, results, groups = lookups
    found: list[WsusComputer] = []
    append = found.append
    make = tuple.__new__
    for index, row in enumerate(rows):
        try:
            if type(row) is not list:
                raise TypeError
            name, ip, version, os_name, synced, reported, result, group = row
            # only an int indexes (to a dict lookup, true and 1.0 are 1 as well)
            for position in (version, os_name, result, group):
                if position is not None and type(position) is not int:
                    raise TypeError
            for text in (name, ip, synced, reported):
                if text is not None and type(text) is not str:
                    raise TypeError
            append(
                make(
                    WsusComputer,
                    (
                        name,
                        ip,
                        versions[version],
                        oses[os_name],
                        synced,
                        synced if reported == synced else reported,
                        results[result],
                        groups[group],
                        None,
                    ),
                )
            )
        except (TypeError, ValueError, KeyError):
            entry = _row_entry(index, list(COMPUTER_FIELDS), tables, row)
            for field in COMPUTER_FIELDS:
                value = entry[field]
                if value is not None and type(value) is not str:
                    raise _computer_error(
                        index, f"field '{field}' must be a string or null", value
                    ) from None
            raise _computer_error(index, "unreadable row", row) from None
    return found


def _validate_computers(value: Any) -> list[WsusComputer] | None:
    if value is None:
        return None
    try:
        return read_computers(value)
    except FactsError as exc:
        raise ValueError(str(exc)) from None


def _dump_computers(value: list[WsusComputer] | None) -> list[dict[str, Any]] | None:
    return None if value is None else [computer.as_json() for computer in value]


Computers = Annotated[
    list[WsusComputer] | None,
    PlainValidator(_validate_computers),
    PlainSerializer(_dump_computers),
]


class WsusComputers(Fact):
    schema_: Literal["wsusbot.wsus_computers/1"] = Field(alias="schema")
    computers: Computers = None
    errors: list[ProbeError] | None = None
    #: extension (paged reads, params ``{offset, page_size}``): computers on the server
    #: when this page was read, where the page starts, and where the next one starts
    #: (null: this page is the last). A document the bot hands to checks is complete.
    total: int | None = None
    offset: int | None = None
    next_offset: int | None = None


class ServerFacts(Fact):
    schema_: Literal["wsusbot.server_facts/1"] = Field(alias="schema")
    host: str | None = None
    collected_at: str | None = None
    wsus: WsusInfo | None = None
    iis: IisInfo | None = None
    services: ServerServices | None = None
    http: list[HttpResult] | None = None
    errors: list[ProbeError] | None = None
    #: gathered in the same command; absent when that part was not collected
    iis_log: IisLog | None = None
    wsus_computers: WsusComputers | None = None


HostFacts = ClientFacts | ServerFacts

_MODELS: dict[str, type[Fact]] = {
    CLIENT_FACTS: ClientFacts,
    SERVER_FACTS: ServerFacts,
    IIS_LOG: IisLog,
    WSUS_COMPUTERS: WsusComputers,
}


def decode_text(raw: bytes) -> str:
    """Decode a facts file as PowerShell may have written it (UTF-8, UTF-16 with BOM)."""
    if len(raw) > MAX_DOCUMENT_BYTES:
        raise FactsError(
            f"facts document is {len(raw)} bytes; the limit is {MAX_DOCUMENT_BYTES} bytes"
        )
    for bom, codec in (
        (b"\xef\xbb\xbf", "utf-8"),
        (b"\xff\xfe", "utf-16-le"),
        (b"\xfe\xff", "utf-16-be"),
    ):
        if raw.startswith(bom):
            try:
                return raw[len(bom) :].decode(codec)
            except UnicodeDecodeError as exc:
                raise FactsError(f"facts document is not valid {codec}: {exc.reason}") from exc
    guessed = _bomless_utf16(raw)
    if guessed is not None:
        # JSON is ASCII-heavy: UTF-16 shows as a zero byte in every other position
        try:
            return raw.decode(guessed)
        except UnicodeDecodeError as exc:
            raise FactsError(
                f"facts document looks like {guessed} without a byte-order mark but does not "
                f"decode as it ({exc.reason} at byte {exc.start}); save it as UTF-8"
            ) from exc
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FactsError(
            f"facts document is not UTF-8 (byte {exc.start}: {exc.reason}); "
            "save it as UTF-8 or UTF-16 with a byte-order mark"
        ) from exc


def _bomless_utf16(raw: bytes) -> str | None:
    """``utf-16-le``/``-be`` when the first bytes have zeros in one parity only."""
    head = raw[:256]
    if len(head) < 4 or len(head) % 2:
        head = head[: len(head) - len(head) % 2]
    if len(head) < 4:
        return None
    even = head[0::2].count(0)
    odd = head[1::2].count(0)
    half = len(head) // 2
    if odd >= half * 0.6 and even <= half * 0.1:
        return "utf-16-le"
    if even >= half * 0.6 and odd <= half * 0.1:
        return "utf-16-be"
    return None


#: a document this long is decoded with the garbage collector paused (:func:`gc_paused`)
_LARGE_TEXT = 1024 * 1024


def load_json(text: str) -> Any:
    try:
        if len(text) < _LARGE_TEXT:
            return json.loads(text)
        with gc_paused():
            return json.loads(text)
    except json.JSONDecodeError as exc:
        hint = " (the document looks truncated)" if exc.pos >= len(text.rstrip()) else ""
        raise FactsError(
            f"facts document is not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}{hint}"
        ) from exc
    except RecursionError as exc:
        raise FactsError("facts document is nested too deeply") from exc


def _describe(error: ValidationError) -> str:
    parts = []
    for item in error.errors()[:5]:
        where = ".".join(str(p) for p in item["loc"]) or "(document)"
        value = item.get("input")
        shown = repr(value)
        if len(shown) > 60:
            shown = shown[:57] + "..."
        parts.append(f"field '{where}': {item['msg']} (got {shown})")
    more = len(error.errors()) - 5
    if more > 0:
        parts.append(f"and {more} more")
    return "; ".join(parts)


def parse_document(data: Any, expect: str | None = None) -> Fact:
    """Validate one decoded JSON document against the schema it names."""
    if not isinstance(data, dict):
        raise FactsError(f"facts document must be a JSON object, not {type(data).__name__}")
    schema = data.get("schema")
    if not isinstance(schema, str):
        raise FactsError(
            "facts document has no 'schema' field; expected one of " + ", ".join(sorted(_MODELS))
        )
    if expect is not None and schema != expect:
        raise FactsError(f"field 'schema': expected {expect!r}, got {schema[:80]!r}")
    model = _MODELS.get(schema)
    if model is None:
        raise FactsError(
            f"field 'schema': unknown schema {schema[:80]!r}; expected one of "
            + ", ".join(sorted(_MODELS))
        )
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise FactsError(f"{schema}: {_describe(exc)}") from None
    except RecursionError as exc:
        raise FactsError(f"{schema}: document nested too deeply") from exc


def parse_host_facts(data: Any) -> HostFacts:
    """Parse a client or server facts document (the input of a host check)."""
    doc = parse_document(data)
    if not isinstance(doc, ClientFacts | ServerFacts):
        raise FactsError(
            f"a host check needs {CLIENT_FACTS} or {SERVER_FACTS}, got {type(doc).__name__}"
        )
    return doc


def read_host_facts(raw: bytes) -> HostFacts:
    """Bytes of a facts file -> typed facts (any encoding PowerShell writes)."""
    return parse_host_facts(load_json(decode_text(raw)))


def role_of(facts: HostFacts) -> Literal["client", "server"]:
    return "client" if isinstance(facts, ClientFacts) else "server"


def dump(facts: Fact) -> dict[str, Any]:
    """A JSON-ready dict, with the schema key spelled as on the wire."""
    inventory = facts.wsus_computers if isinstance(facts, ServerFacts) else None
    if inventory is None or not inventory.computers:
        return facts.model_dump(mode="json", by_alias=True, exclude_none=False)
    # a server's computer list (100,000s of records) is dumped here in one pass: through
    # the field's serializer pydantic would copy every entry's dict once more
    document = facts.model_dump(
        mode="json",
        by_alias=True,
        exclude_none=False,
        exclude={"wsus_computers": {"computers"}},
    )
    lean = document["wsus_computers"]
    document["wsus_computers"] = {
        key: _dump_computers(inventory.computers) if key == "computers" else lean[key]
        for key in ("schema", "computers", *(k for k in lean if k != "schema"))
    }
    return document
