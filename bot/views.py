"""View models: what the use cases want shown, in Slack-free terms.

A use case decides *what* to say (a report, an approval card in a given state, a notice);
``bot/slack`` decides *how* it looks in Block Kit. Renderers never decide: severity,
status and wording come from the Finding, the approval record or the use case.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from bot.digest.causes import Digest, Sighting
from bot.digest.trend import Trend
from bot.store.runs import RunSummary
from checks.fixes import FixMeta
from checks.model import Status
from checks.report import Report


@dataclass(frozen=True, slots=True)
class FixButton:
    """A "Request fix" button: the fix it proposes and the opaque token it carries."""

    fix: FixMeta
    token: str


@dataclass(frozen=True, slots=True)
class Checking:
    """The placeholder posted at once while a check runs."""

    host: str
    user: str


@dataclass(frozen=True, slots=True)
class ReportView:
    """A check result: the verdict message with its fix buttons."""

    report: Report
    requested_by: str
    fix_buttons: tuple[FixButton, ...] = ()
    run_id: int | None = None


@dataclass(frozen=True, slots=True)
class ReportDetails:
    """Every finding of a report, passes included (thread replies)."""

    report: Report


@dataclass(frozen=True, slots=True)
class Notice:
    """A plain sentence (thread notes, follow-up results)."""

    text: str


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why nothing ran; shown to the user alone (ephemeral). ``channels`` are channel ids
    the text points the user to (shown as channel links after it)."""

    text: str
    channels: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ApprovalView:
    """What an approval card shows; built by the approval use cases from the store."""

    approval_id: str
    host: str
    fix: FixMeta
    state: str
    requested_by: str
    expires_at: datetime
    current: tuple[str, ...] = ()
    decided_by: str | None = None
    note: str | None = None
    before: dict[str, object] | None = None
    after: dict[str, object] | None = None
    verification: tuple[str, ...] = ()
    error: str | None = None
    #: the decision buttons' opaque token; None = the card shows no buttons
    token: str | None = None
    #: why the requester asked for the fix, and why it was denied (typed in a modal)
    request_reason: str | None = None
    deny_reason: str | None = None


@dataclass(frozen=True, slots=True)
class AuditLine:
    """One audit record mirrored to the audit channel."""

    action: str
    user: str
    host: str | None = None
    fix: str | None = None
    approval: str | None = None
    outcome: str | None = None


@dataclass(frozen=True, slots=True)
class TopHost:
    host: str
    sightings: tuple[Sighting, ...]
    #: the "Check" button's opaque value; None when the inventory cannot resolve the host
    token: str | None


@dataclass(frozen=True, slots=True)
class DigestView:
    digest: Digest
    trend: Trend
    top: tuple[TopHost, ...]
    csv_attached: bool
    #: cause id -> the opaque value of its "Fix these hosts" button (causes with a fix
    #: and hosts the inventory resolves)
    batch_tokens: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class HealthyDigestView:
    digest: Digest


@dataclass(frozen=True, slots=True)
class HistoryRow:
    host: str
    run_id: int
    finished_at: datetime
    verdict: Status
    failing: str
    requested_by: str


def history_row(run: RunSummary) -> HistoryRow:
    """A stored check run as one line: verdict, and the failing checks or why it failed."""
    report = Report.from_json(run.report)
    return HistoryRow(
        host=run.host,
        run_id=run.id,
        finished_at=run.finished_at,
        verdict=Status(run.verdict),
        failing=run.unreachable_reason or report.problem_line,
        requested_by=run.requested_by,
    )


@dataclass(frozen=True, slots=True)
class HistoryView:
    host: str
    rows: tuple[HistoryRow, ...]


@dataclass(frozen=True, slots=True)
class HomeView:
    """The App Home tab; ``allowed`` False = the viewer role is missing.

    ``pending`` are the open fix requests an approver may decide here (each card carries
    a decision token bound to this viewer's Home); ``failing`` the hosts whose latest check
    failed; ``notice`` a line for the viewer (why their last action from the Home did not
    run, or what it started)."""

    rows: tuple[HistoryRow, ...]
    allowed: bool = True
    pending: tuple[ApprovalView, ...] = ()
    #: open requests not shown (beyond what the Home lists)
    pending_more: int = 0
    failing: tuple[HistoryRow, ...] = ()
    #: failing hosts not shown
    failing_more: int = 0
    notice: str | None = None


class PromptKind(enum.StrEnum):
    """What a reason modal is asked for."""

    REQUEST = "request"
    DENY = "deny"


@dataclass(frozen=True, slots=True)
class ReasonPrompt:
    """A modal asking why, before a fix is requested or a request denied. ``metadata``
    is opaque to the renderer: it travels through Slack and back with the submission."""

    kind: PromptKind
    host: str
    fix: FixMeta
    metadata: str


@dataclass(frozen=True, slots=True)
class CheckPrompt:
    """The "Check a host" modal: a host name and the channel to post the result in."""

    metadata: str
    host: str | None = None
    channel: str | None = None


#: every modal a use case may open
Modal = ReasonPrompt | CheckPrompt


@dataclass(frozen=True, slots=True)
class BatchView:
    """A batch fix card: the request (what will run, on which hosts, how), then its
    progress, updated in place, then its outcome."""

    batch_id: str
    fix: FixMeta
    state: str
    source: str
    requested_by: str
    expires_at: datetime
    #: canary, wave size, failure threshold, pause, concurrency, per-host deadline
    plan: Mapping[str, float | int]
    hosts: tuple[str, ...]
    #: hosts of the group left out, and why (their latest check does not propose the fix)
    left_out: tuple[str, ...] = ()
    #: step state -> hosts in it
    counts: Mapping[str, int] = field(default_factory=dict)
    waves: int = 0
    #: the wave running or last run (0 = the canary)
    wave: int | None = None
    decided_by: str | None = None
    actor: str | None = None
    reason: str | None = None
    note: str | None = None
    #: the last failures, "host: why"
    failures: tuple[str, ...] = ()
    #: the buttons shown ("approve", "deny", "pause", "resume", "confirm", "abort")
    controls: tuple[str, ...] = ()
    token: str | None = None
    csv_attached: bool = False


#: everything a use case may post or update in a conversation
ChatMessage = (
    Checking
    | ReportView
    | ReportDetails
    | Notice
    | Refusal
    | ApprovalView
    | AuditLine
    | DigestView
    | HealthyDigestView
    | HistoryView
    | BatchView
)


def history_rows(runs: Sequence[RunSummary]) -> tuple[HistoryRow, ...]:
    return tuple(history_row(run) for run in runs)
