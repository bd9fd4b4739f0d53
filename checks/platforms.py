"""Which Windows wsusbot can reach at all, and what to say about the ones it cannot.

WinRM 2.0 and PowerShell 2.0 come with Windows Management Framework 2.0, published for
Windows XP, Server 2003, Vista and Server 2008 (KB968929,
http://smallbusiness.support.microsoft.com/nl-nl/kb/968929; the WMF availability table in
MicrosoftDocs/PowerShell-Docs ``windows-powershell/wmf-overview.md`` has no Windows 2000
row). Windows 2000 (NT 5.0) therefore can never be checked over WinRM: an inventory entry
that declares it, or facts that say it, get ``unknown`` with this reason and the steps to
check it by hand (Cc708554 §7, §8, §9).
"""

from __future__ import annotations

import re

WINDOWS_2000_REASON = (
    "Windows 2000 cannot run WinRM 2.0 / PowerShell 2.0 (Windows Management Framework 2.0 is "
    "for XP, Server 2003, Vista and Server 2008 only, KB968929), so wsusbot cannot collect "
    "from it"
)

#: the by-hand steps for a Windows 2000 client; ``<LANG>`` is its language code
WINDOWS_2000_BY_HAND = (
    "Check it by hand: on the client, open http://<server>/iuident.cab and "
    "http://<server>/selfupdate/AU/x86/W2K/<LANG>/wuaucomp.cab in Internet Explorer (each "
    "must offer a download), read %windir%\\WindowsUpdate.log for self-update lines, and "
    "check the AU registry values of Cc708554 §9 with regedit."
)

_WINDOWS_2000 = re.compile(
    r"^(?:microsoft\s+)?(?:windows\s*2000|win\s*2000|win2k|w2k|nt\s*5\.0|5\.0(?:\.\d+)*)"
    r"(?:\s+(?:professional|server|advanced\s+server|datacenter(?:\s+server)?|sp\d))*$",
    re.IGNORECASE,
)


def declared_windows_2000(os_name: str | None) -> bool:
    """An inventory ``os`` value naming Windows 2000 (``Windows 2000``, ``w2k``, ``5.0``)."""
    if not os_name:
        return False
    return _WINDOWS_2000.match(os_name.strip()) is not None
