"""Action ids: written by the Block Kit builders, matched by the listeners.

Slack sends a click back with the ``action_id`` the button was built with; both sides
read these names, so a rename cannot leave a button without a listener."""

from __future__ import annotations

import re

#: ``fix_request:<fix id>`` on a check result's "Request fix" buttons
FIX_REQUEST_PREFIX = "fix_request:"
FIX_REQUEST_PATTERN = re.compile(r"^fix_request:[a-z0-9_.]+$")

APPROVAL_APPROVE = "approval_approve"
APPROVAL_DENY = "approval_deny"
APPROVAL_DONE = "approval_done"
#: Approve and Mark done (Deny opens its reason modal: its own listener)
APPROVAL_PATTERN = re.compile(r"^approval_(approve|done)$")

#: a digest's top host "Check" button
DIGEST_CHECK = "digest_check"

#: a digest cause group's "Fix these hosts" button
BATCH_DIGEST = "batch_digest"
#: a batch card's buttons
BATCH_APPROVE = "batch_approve"
BATCH_DENY = "batch_deny"
BATCH_PAUSE = "batch_pause"
BATCH_RESUME = "batch_resume"
BATCH_ABORT = "batch_abort"
BATCH_PATTERN = re.compile(r"^batch_(approve|deny|pause|resume|abort)$")

#: block ids the tests and listeners look for
FIXES_BLOCK = "fixes"
APPROVAL_BLOCK = "approval"
BEFORE_AFTER_BLOCK = "before_after"
BATCH_BLOCK = "batch"


def fix_request_action(fix_id: str) -> str:
    return FIX_REQUEST_PREFIX + fix_id


def fix_of_action(action_id: str) -> str:
    return action_id.removeprefix(FIX_REQUEST_PREFIX)


# --- modals, the App Home and the message shortcut ----------------------------------------

#: the callback ids of the modals (matched by ``app.view``)
REQUEST_REASON_VIEW = "fix_request_reason"
DENY_REASON_VIEW = "fix_deny_reason"
CHECK_HOST_VIEW = "check_host"
#: input blocks and their elements, read back from ``view.state.values``
REASON_BLOCK = "reason"
REASON_INPUT = "reason_input"
HOST_BLOCK = "host"
HOST_INPUT = "host_input"
CHANNEL_BLOCK = "channel"
CHANNEL_INPUT = "channel_input"

#: the Home tab's "Check a host" button and a failing host's "Check" button
HOME_CHECK_HOST = "home_check_host"
HOME_CHECK = "home_check"
HOME_PENDING_BLOCK_PREFIX = "pending:"

#: the message shortcut "Check this host" (its callback_id, also in the manifests)
CHECK_SHORTCUT = "check_this_host"
