"""A local Slack on loopback for tests, the demo and benchmarks.

Start one with `LocalSlack().start()` (or as a context manager), point
`slack_sdk.WebClient(base_url=slack.api_url)` at it, and drive it as a user with
`type_command` / `click_button`.
"""

from lab.slack.deliveries import Ack, Attempt, Delivery
from lab.slack.http_delivery import sign
from lab.slack.server import LocalSlack
from lab.slack.state import ApiCall, Ephemeral, Message, ResponseUrlPost, UploadedFile, View
from lab.slack.workspace import Channel, User, Usergroup, Workspace, default_workspace

__all__ = [
    "Ack",
    "ApiCall",
    "Attempt",
    "Channel",
    "Delivery",
    "Ephemeral",
    "LocalSlack",
    "Message",
    "ResponseUrlPost",
    "UploadedFile",
    "User",
    "Usergroup",
    "View",
    "Workspace",
    "default_workspace",
    "sign",
]
