"""server.wsus_binding: the WSUS site listens where the registry says WSUS does (ext.).

WSUS records its port and SSL use under HKLM\\SOFTWARE\\Microsoft\\Update Services\\Server\\
Setup (``PortNumber``, ``UsingSSL``; the key and ``VersionString`` are documented in
Appendix G: Detect the Version of WSUS, http://technet.microsoft.com/en-us/library/cc720492(WS.10).aspx;
the two values are **not verified**). With SSL on, "WSUS requires two ports for SSL: one port
that uses HTTPS to send encrypted metadata, and one port that uses HTTP to send updates"
(Secure WSUS with the Secure Sockets Layer Protocol, copy seen at
https://online.documentine.com/wsus-update/1/pdf-secure-wsus-with-the-secure-sockets-layer-protocol.html);
the pairs are 80/443 on the Default Web Site and 8530/8531 on a custom site (third-party:
https://kc.jetpatch.com/hc/en-us/articles/360043618872-7a-How-to-Configure-SSL-for-WSUS,
https://yamanyon.hatenadiary.org/entry/20120725/1343199331).

Verdict: fail when no started site has an http binding on ``wsus.port``, or when SSL is on
and no started site has an https binding on the SSL port (443 for port 80, else port + 1).
"""

from __future__ import annotations

from checks._support import missing
from checks.facts import ServerFacts, Site
from checks.model import Check, CheckContext, CheckMeta, Finding, FindingBuilder, Severity
from checks.server._support import describe_bindings, is_started, site_label

META = CheckMeta(
    id="server.wsus_binding",
    role="server",
    title="The WSUS site is bound to the WSUS port (and its SSL port)",
    severity=Severity.HIGH,
    seed=(),
    reads=("wsus.port", "wsus.ssl", "iis.sites[].bindings", "iis.sites[].state"),
    remediation=(
        "In IIS Manager > the WSUS site (WSUS Administration, or the Default Web Site) > "
        "Bindings: keep an http binding on the WSUS port (8530 or 80) and, when WSUS uses "
        "SSL, an https binding on the SSL port (8531 or 443) with the server's certificate; "
        "then run wsusutil configuressl <server FQDN>."
    ),
    fix=None,
    description="Checks that a started IIS site has an http binding on the WSUS port and, "
    "when WSUS uses SSL, an https binding on the SSL port.",
)

_BUILD = FindingBuilder(META)


def ssl_port(port: int) -> int:
    return 443 if port == 80 else port + 1


def _bound(sites: list[Site], protocol: str, port: int) -> list[Site]:
    return [
        site
        for site in sites
        if is_started(site)
        and any(
            (b.protocol or "").lower() == protocol and b.port == port for b in site.bindings or ()
        )
    ]


def evaluate(facts: ServerFacts, _ctx: CheckContext) -> Finding:
    wsus = facts.wsus
    if wsus is None:
        return missing(_BUILD, "wsus", facts.errors, "wsus")
    if wsus.installed is False:
        return _BUILD.skip("WSUS is not installed on this server.")
    if wsus.port is None or wsus.ssl is None:
        return missing(_BUILD, "wsus.port / wsus.ssl", facts.errors, "wsus")
    sites = facts.iis.sites if facts.iis else None
    if sites is None:
        return missing(_BUILD, "iis.sites", facts.errors, "iis")
    evidence = [f"WSUS port {wsus.port}, SSL {'on' if wsus.ssl else 'off'}"]
    evidence += [f"{site_label(s)} ({s.state}): {describe_bindings(s)}" for s in sites]
    problems = []
    if not _bound(sites, "http", wsus.port):
        problems.append(f"no started site has an http binding on port {wsus.port}")
    if wsus.ssl and not _bound(sites, "https", ssl_port(wsus.port)):
        problems.append(
            f"WSUS uses SSL but no started site has an https binding on port {ssl_port(wsus.port)}"
        )
    if problems:
        text = "; ".join(problems)
        return _BUILD.fail(text[:1].upper() + text[1:] + ".", evidence)
    extra = f" and https:{ssl_port(wsus.port)}" if wsus.ssl else ""
    return _BUILD.passed(f"The WSUS site listens on http:{wsus.port}{extra}.", evidence)


CHECK = Check(META, evaluate)
