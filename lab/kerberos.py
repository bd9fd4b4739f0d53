"""A real MIT Kerberos KDC on loopback: the lab's domain controller for Kerberos tests.

Everything lives in one work directory: the realm's database, the KDC's and the clients'
profiles (``kdc.conf``, ``krb5.conf``), keytabs and ticket caches. Nothing outside it is
read or written, so it runs beside a system Kerberos and needs no root: the KDC listens on
a free high port of 127.0.0.1 only. Processes find the realm through the environment
(:meth:`LabRealm.environment`): ``KRB5_CONFIG``, ``KRB5_KDC_PROFILE``, ``KRB5CCNAME``,
``KRB5_KTNAME`` (the acceptor's keytab), ``KRB5RCACHEDIR``.

    realm = LabRealm.create(workdir)                 # kdb5_util create, then krb5kdc
    realm.add_principal("HTTP/wsus01.lab.test")      # a service: a random key
    realm.add_principal("wsusbot", keytab=path)      # a user, its keys exported
    realm.kinit("wsusbot", keytab=path)              # a ticket in the realm's cache
    realm.stop()

The MIT tools (Debian: krb5-kdc, krb5-admin-server for kadmin.local, krb5-user for kinit)
are found on PATH and in /usr/sbin; :func:`missing_tools` names the absent ones.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

#: the executables a realm needs, by the Debian package that ships each
TOOLS = {
    "krb5kdc": "krb5-kdc",
    "kdb5_util": "krb5-kdc",
    "kadmin.local": "krb5-admin-server",
    "kinit": "krb5-user",
}
_SEARCH_PATH = os.pathsep.join(
    [os.environ.get("PATH", ""), "/usr/sbin", "/sbin", "/usr/local/sbin"]
)
#: AES only, as a current Active Directory domain (RC4 is off by default since
#: Windows Server 2022's hardening; MIT's defaults agree)
_ENCTYPES = "aes256-cts-hmac-sha1-96:normal aes128-cts-hmac-sha1-96:normal"


def find_tool(name: str) -> str | None:
    return shutil.which(name, path=_SEARCH_PATH)


def missing_tools() -> list[str]:
    """``name (package)`` for each MIT Kerberos tool that is not installed."""
    return [f"{name} ({package})" for name, package in TOOLS.items() if find_tool(name) is None]


class KerberosLabError(RuntimeError):
    """A Kerberos tool failed; the message has its output (no key material)."""


def _free_port(address: str) -> int:
    # the KDC listens on UDP and TCP: one number free on both
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
            tcp.bind((address, 0))
            port = int(tcp.getsockname()[1])
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                try:
                    udp.bind((address, port))
                except OSError:
                    continue
        return port
    raise KerberosLabError(f"no port free for both UDP and TCP on {address}")


@dataclass(frozen=True)
class _Paths:
    root: Path

    @property
    def krb5_conf(self) -> Path:
        return self.root / "krb5.conf"

    @property
    def kdc_conf(self) -> Path:
        return self.root / "kdc.conf"

    @property
    def database(self) -> Path:
        return self.root / "principal"

    @property
    def stash(self) -> Path:
        return self.root / "stash"

    @property
    def acceptor_keytab(self) -> Path:
        return self.root / "acceptor.keytab"

    @property
    def ccache(self) -> Path:
        return self.root / "ccache"

    @property
    def rcache(self) -> Path:
        return self.root / "rcache"

    @property
    def kdc_log(self) -> Path:
        return self.root / "kdc.log"


class LabRealm:
    """One realm and its running KDC. ``create`` starts it; ``stop`` (idempotent) ends the
    KDC process; the work directory is the caller's."""

    def __init__(self, realm: str, paths: _Paths, address: str, port: int) -> None:
        self.realm = realm
        self.address = address
        self.port = port
        self._paths = paths
        self._kdc: subprocess.Popen[bytes] | None = None

    @classmethod
    def create(
        cls, workdir: Path, realm: str = "LAB.TEST", *, address: str = "127.0.0.1"
    ) -> LabRealm:
        missing = missing_tools()
        if missing:
            raise KerberosLabError("MIT Kerberos tools not installed: " + ", ".join(missing))
        if not address.startswith("127."):
            raise ValueError(f"the lab KDC listens on 127.0.0.0/8 only, not {address}")
        workdir.mkdir(parents=True, exist_ok=True)
        paths = _Paths(workdir)
        lab = cls(realm, paths, address, _free_port(address))
        lab._write_profiles()
        try:
            lab._tool(
                "kdb5_util",
                ["-r", realm, "create", "-s", "-P", secrets.token_urlsafe(24)],
            )
            lab._start_kdc()
        except BaseException:
            lab.stop()
            raise
        return lab

    # -- what tests and servers use ------------------------------------------------------
    @property
    def krb5_conf(self) -> Path:
        return self._paths.krb5_conf

    @property
    def acceptor_keytab(self) -> Path:
        """The keytab the lab's WS-Management endpoints accept with (``KRB5_KTNAME``)."""
        return self._paths.acceptor_keytab

    @property
    def ccache(self) -> Path:
        return self._paths.ccache

    def environment(self) -> dict[str, str]:
        """The variables that point MIT krb5 (clients, acceptors, tools) at this realm."""
        self._paths.rcache.mkdir(exist_ok=True)
        return {
            "KRB5_CONFIG": str(self._paths.krb5_conf),
            "KRB5_KDC_PROFILE": str(self._paths.kdc_conf),
            "KRB5CCNAME": f"FILE:{self._paths.ccache}",
            "KRB5_KTNAME": f"FILE:{self._paths.acceptor_keytab}",
            "KRB5RCACHEDIR": str(self._paths.rcache),
        }

    def principal(self, name: str) -> str:
        return name if "@" in name else f"{name}@{self.realm}"

    def add_principal(self, name: str, *, keytab: Path | None = None) -> str:
        """Create ``name`` with a random key (no password ever reaches a command line);
        export its keys to ``keytab`` when given. Service principals (``HTTP/host``) go to
        the acceptor keytab too."""
        principal = self.principal(name)
        self._kadmin(f"addprinc -randkey {principal}")
        if "/" in name.partition("@")[0]:
            self._kadmin(f"ktadd -k {self._paths.acceptor_keytab} -norandkey {principal}")
        if keytab is not None:
            self._kadmin(f"ktadd -k {keytab} -norandkey {principal}")
        return principal

    def kinit(self, name: str, *, keytab: Path, ccache: Path | None = None) -> Path:
        """A ticket-granting ticket for ``name`` from its keytab, in ``ccache`` (default:
        the realm's cache, which KRB5CCNAME names)."""
        cache = ccache or self._paths.ccache
        self._tool("kinit", ["-k", "-t", str(keytab), "-c", f"FILE:{cache}", self.principal(name)])
        return cache

    def stop(self) -> None:
        kdc, self._kdc = self._kdc, None
        if kdc is None:
            return
        kdc.terminate()
        try:
            kdc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            kdc.kill()
            kdc.wait(timeout=10)

    def __enter__(self) -> LabRealm:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    # -- internals -------------------------------------------------------------------------
    def _write_profiles(self) -> None:
        p = self._paths
        kdc = f"{self.address}:{self.port}"
        # no DNS anywhere: the realm is named, the KDC is an address, names are not
        # canonicalised (the SPN is exactly HTTP/<the host the client was given>)
        p.krb5_conf.write_text(
            f"""[libdefaults]
    default_realm = {self.realm}
    dns_lookup_kdc = false
    dns_lookup_realm = false
    dns_canonicalize_hostname = false
    rdns = false
    ignore_acceptor_hostname = false
    udp_preference_limit = 1
    permitted_enctypes = aes256-cts-hmac-sha1-96 aes128-cts-hmac-sha1-96
    default_ccache_name = FILE:{p.ccache}
    default_keytab_name = FILE:{p.acceptor_keytab}

[realms]
    {self.realm} = {{
        kdc = {kdc}
    }}

[domain_realm]
    .{self.realm.lower()} = {self.realm}
    {self.realm.lower()} = {self.realm}
""",
            encoding="utf-8",
        )
        p.kdc_conf.write_text(
            f"""[kdcdefaults]
    kdc_listen = {kdc}
    kdc_tcp_listen = {kdc}

[realms]
    {self.realm} = {{
        database_name = {p.database}
        key_stash_file = {p.stash}
        acl_file = {p.root / "kadm5.acl"}
        max_life = 10h
        max_renewable_life = 1d
        supported_enctypes = {_ENCTYPES}
    }}

[logging]
    kdc = FILE:{p.kdc_log}
""",
            encoding="utf-8",
        )

    def _environ(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("KRB5")}
        env.update(self.environment())
        return env

    def _tool(self, name: str, args: list[str]) -> str:
        path = find_tool(name)
        if path is None:
            raise KerberosLabError(f"{name} is not installed ({TOOLS[name]})")
        done = subprocess.run(
            [path, *args],
            env=self._environ(),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=60,
            check=False,
        )
        output = (done.stdout + done.stderr).decode("utf-8", "replace").strip()
        if done.returncode != 0:
            raise KerberosLabError(f"{name} failed ({done.returncode}): {output[-2000:]}")
        return output

    def _kadmin(self, query: str) -> None:
        output = self._tool("kadmin.local", ["-r", self.realm, "-q", query])
        # kadmin.local exits 0 even when the query failed; its errors say so
        for line in output.splitlines():
            lowered = line.lower()
            if "error" in lowered or "while " in lowered or "failed" in lowered:
                raise KerberosLabError(f"kadmin.local {query.split()[0]}: {line}")

    def _start_kdc(self) -> None:
        path = find_tool("krb5kdc")
        assert path is not None  # create() checked
        log = self._paths.root / "krb5kdc.out"
        with log.open("wb") as out:
            self._kdc = subprocess.Popen(
                [path, "-n", "-r", self.realm, "-P", str(self._paths.root / "krb5kdc.pid")],
                env=self._environ(),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self._kdc.poll() is not None:
                raise KerberosLabError(
                    f"krb5kdc exited ({self._kdc.returncode}): "
                    + log.read_text("utf-8", "replace")[-2000:]
                    + self._read_kdc_log()
                )
            with (
                contextlib.suppress(OSError),
                socket.create_connection((self.address, self.port), timeout=0.5),
            ):
                return
            time.sleep(0.05)
        raise KerberosLabError(f"krb5kdc did not listen on {self.address}:{self.port} in 20 s")

    def _read_kdc_log(self) -> str:
        try:
            return self._paths.kdc_log.read_text("utf-8", "replace")[-2000:]
        except OSError:
            return ""
