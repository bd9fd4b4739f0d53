"""The lab's WS-Management endpoint: stock pywinrm talks to it over real HTTP and NTLM."""

from lab.wsman.auth import AuthPolicy, write_ntlm_user_file
from lab.wsman.clixml import clixml_error
from lab.wsman.executor import CommandRequest, ExecResult, Executor
from lab.wsman.faults import OPERATION_TIMED_OUT, Faults, FaultSettings
from lab.wsman.server import WsmanServer
from lab.wsman.stats import WsmanStats
from lab.wsman.tls import TlsFiles, generate_tls_files

__all__ = [
    "OPERATION_TIMED_OUT",
    "AuthPolicy",
    "CommandRequest",
    "ExecResult",
    "Executor",
    "FaultSettings",
    "Faults",
    "TlsFiles",
    "WsmanServer",
    "WsmanStats",
    "clixml_error",
    "generate_tls_files",
    "write_ntlm_user_file",
]
