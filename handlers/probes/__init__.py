"""PowerShell probe scripts (package data) and the composer that renders them."""

from handlers.probes.compose import (
    BUNDLE_NAME,
    FACTS_SCHEMAS,
    FIX_IDS,
    PARAMS_LINE_RE,
    PROBE_NAMES,
    STAGER_HEADER,
    ProbeScript,
    command_line_length,
    encoded_command,
    extract_params,
    load,
    params_line,
    parse_header,
    render,
    render_bundle,
    stager,
)

__all__ = [
    "BUNDLE_NAME",
    "FACTS_SCHEMAS",
    "FIX_IDS",
    "PARAMS_LINE_RE",
    "PROBE_NAMES",
    "STAGER_HEADER",
    "ProbeScript",
    "command_line_length",
    "encoded_command",
    "extract_params",
    "load",
    "params_line",
    "parse_header",
    "render",
    "render_bundle",
    "stager",
]
