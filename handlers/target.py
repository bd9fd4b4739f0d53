"""What a collector needs to reach one host. Built by the bot from its inventory."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

Transport = Literal["ntlm", "kerberos", "credssp", "basic", "certificate"]
MessageEncryption = Literal["auto", "always", "never"]


@dataclass(frozen=True, slots=True)
class HostTarget:
    """Everything the collectors need to reach one host. Holds no secret."""

    name: str
    role: Literal["client", "server"] | None
    address: str
    winrm_url: str
    transport: Transport
    username: str | None
    password_file: Path | None
    verify_tls: bool
    ca_bundle: Path | None
    groups: tuple[str, ...] = ()
    #: server: its WSUS URL; client: the WSUS URL it should use (its server's)
    wsus_url: str | None = None
    #: server: the port-80 site serving the self-update tree; client: its server's
    selfupdate_url: str | None = None
    #: client: the inventory name of its server
    server: str | None = None
    cert_pem: Path | None = None
    cert_key_pem: Path | None = None
    #: the Windows the inventory declares (free text), if any
    os: str | None = None
    message_encryption: MessageEncryption = "auto"
    #: Kerberos: the host of the service principal HTTP/<host>, when not the URL's host
    kerberos_hostname_override: str | None = None
