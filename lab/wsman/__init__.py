"""The lab's WS-Management endpoint: stock pywinrm talks to it over real HTTP and NTLM.

One ``WsmanServer`` per simulated host, on a 127.0.0.0/8 address::

    write_ntlm_user_file(path, {"LAB\\operator": "password"})
    os.environ["NTLM_USER_FILE"] = str(path)          # once, at start-up
    server = WsmanServer(host_executor, address="127.0.0.2", port=0,
                         auth=AuthPolicy(ntlm=True, basic=False), tls=None)
    server.start()
    server.url          # http://127.0.0.2:<port>/wsman
    server.faults.refuse = True   # or latency_ms / force_401 / fault_500 / malformed_xml
    server.stats()
    server.stop()

The host's executor gets a ``CommandRequest`` once per command (when its stdin is
complete) and returns an ``ExecResult``; ``duration_s`` keeps Receive answering the
OperationTimeout fault until that much time has passed. Plain-text stderr of a PowerShell
command is sent as CLIXML, as Windows PowerShell does.
"""

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
