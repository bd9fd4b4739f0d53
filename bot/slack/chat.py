"""The chat port (:class:`bot.chat.Chat`) on slack_sdk's WebClient.

View models are rendered to Block Kit here; Slack's errors become :class:`ChatError`
with Slack's own error word, so the use cases never see a Slack type."""

from __future__ import annotations

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from bot.chat import ChatError
from bot.slack.blocks import Message, render
from bot.slack.blocks.home import home_view
from bot.slack.blocks.modals import modal_view
from bot.views import ChatMessage, HomeView, Modal


def _translate(exc: SlackClientError) -> ChatError:
    if isinstance(exc, SlackApiError):
        code = str(exc.response.get("error") or "unknown_error")
        return ChatError(code, f"Slack refused the call: {code}")
    # connection failures: the message may carry a URL, never a token
    return ChatError("connection_failed", f"Slack could not be reached ({type(exc).__name__})")


class SlackChat:
    def __init__(self, client: WebClient) -> None:
        self.client = client

    def _first(self, message: ChatMessage) -> tuple[Message, list[Message]]:
        rendered = render(message)
        return rendered[0], rendered[1:]

    def post(self, channel: str, message: ChatMessage, *, thread_ts: str | None = None) -> str:
        first, rest = self._first(message)
        try:
            posted = self.client.chat_postMessage(
                channel=channel, thread_ts=thread_ts, **first.as_kwargs()
            )
            ts = str(posted["ts"])
            for more in rest:
                self.client.chat_postMessage(
                    channel=channel, thread_ts=thread_ts or ts, **more.as_kwargs()
                )
        except SlackClientError as exc:
            raise _translate(exc) from None
        return ts

    def update(self, channel: str, ts: str, message: ChatMessage) -> None:
        first, _rest = self._first(message)
        try:
            self.client.chat_update(channel=channel, ts=ts, **first.as_kwargs())
        except SlackClientError as exc:
            raise _translate(exc) from None

    def ephemeral(self, channel: str, user: str, message: ChatMessage) -> None:
        first, _rest = self._first(message)
        try:
            self.client.chat_postEphemeral(channel=channel, user=user, **first.as_kwargs())
        except SlackClientError as exc:
            raise _translate(exc) from None

    def upload(
        self,
        channel: str,
        *,
        thread_ts: str | None,
        filename: str,
        content: str | bytes,
        title: str,
    ) -> None:
        # files_upload_v2 is Slack's current flow: files.getUploadURLExternal, a POST of
        # the bytes, files.completeUploadExternal (https://api.slack.com/messaging/files#upload)
        try:
            self.client.files_upload_v2(
                channel=channel,
                thread_ts=thread_ts,
                filename=filename,
                content=content,
                title=title,
                alt_txt=title if isinstance(content, bytes) else None,
            )
        except SlackClientError as exc:
            raise _translate(exc) from None

    def publish_home(self, user: str, view: HomeView) -> None:
        try:
            self.client.views_publish(user_id=user, view=home_view(view))
        except SlackClientError as exc:
            raise _translate(exc) from None

    def open_modal(self, trigger_id: str, modal: Modal) -> None:
        try:
            self.client.views_open(trigger_id=trigger_id, view=modal_view(modal))
        except SlackClientError as exc:
            raise _translate(exc) from None
