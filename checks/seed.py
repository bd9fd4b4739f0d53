"""The procedure the catalogue is drawn from, as references a reader can open.

Checks name sections of Microsoft's TechNet article "Automatic Updates must be updated"
(Cc708554, WSUS operations guide) as ``§1``–``§10``: §1–§9 are its nine troubleshooting
headings in order, §10 its last sub-procedure. ``docs/catalogue.md`` has the same table.
"""

from __future__ import annotations

from dataclasses import dataclass

ARTICLE_ID = "Cc708554"
ARTICLE_TITLE = "Automatic Updates must be updated"
ARTICLE_URL = (
    "https://learn.microsoft.com/en-us/previous-versions/windows/it-pro/"
    "windows-server-2008-R2-and-2008/cc708554(v=ws.10)"
)
#: the Japanese edition the project's procedure was first read from
ARTICLE_URL_JA = "https://technet.microsoft.com/ja-jp/library/Cc708554(v=WS.10)"

#: the article's own headings (English edition)
SECTIONS: dict[str, str] = {
    "§1": "How to differentiate between the SUS client and WSUS client",
    "§2": "Verify that the client software in your organization can self-update",
    "§3": "Verify that the SUS clients are pointed to the WSUS server",
    "§4": "Check for the selfupdate tree on the WSUS server",
    "§5": "Check IIS logs on the WSUS Server",
    "§6": "If you have installed Windows SharePoint Services on the default Web site in IIS, "
    "configure it to not interfere with Self-update",
    "§7": "Check network connectivity on the WSUS client computer",
    "§8": "Check logs on the SUS client computer",
    "§9": "Manipulate registry settings on the SUS client computer",
    "§10": "To force the SUS client computer to check with the WSUS server",
}


@dataclass(frozen=True, slots=True)
class SeedRef:
    section: str
    title: str

    @property
    def url(self) -> str:
        return ARTICLE_URL

    def label(self) -> str:
        """``Cc708554 §4 Verify the self-update tree on the WSUS server``."""
        return f"{ARTICLE_ID} {self.section} {self.title}"


def reference(section: str) -> SeedRef:
    """The reference for ``§N``; raises ``KeyError`` for a section the article lacks."""
    return SeedRef(section, SECTIONS[section])


def references(sections: tuple[str, ...]) -> tuple[SeedRef, ...]:
    """Known sections only: a report read back from an old run may carry anything."""
    return tuple(reference(s) for s in sections if s in SECTIONS)
