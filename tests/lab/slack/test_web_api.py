from __future__ import annotations

import json
import urllib.parse
import urllib.request

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler
from slack_sdk.models.blocks import ActionsBlock, ButtonElement, SectionBlock

from lab.slack import LocalSlack


def report_blocks() -> list[dict[str, object]]:
    return [
        SectionBlock(block_id="summary", text="*wsus01*: 2 findings").to_dict(),
        ActionsBlock(
            block_id="fixes",
            elements=[
                ButtonElement(text="Fix", action_id="fix", value="run-1", style="primary"),
                ButtonElement(text="Ignore", action_id="ignore", value="run-1"),
            ],
        ).to_dict(),
    ]


def test_auth_test_names_the_bot(web_client: WebClient) -> None:
    response = web_client.auth_test()
    assert response["user_id"] == "U0BOT"
    assert response["team_id"] == "T0LAB"


def test_wrong_token_is_invalid_auth(slack: LocalSlack) -> None:
    client = WebClient(token="xoxb-wrong", base_url=slack.api_url)
    with pytest.raises(SlackApiError) as raised:
        client.auth_test()
    assert raised.value.response["error"] == "invalid_auth"


def test_app_token_is_required_for_socket_url(slack: LocalSlack, web_client: WebClient) -> None:
    with pytest.raises(SlackApiError) as raised:
        web_client.apps_connections_open(app_token=slack.bot_token)
    assert raised.value.response["error"] == "invalid_auth"
    url = web_client.apps_connections_open(app_token=slack.app_token)["url"]
    assert url.startswith(f"ws://127.0.0.1:{slack.port}/")


def test_unknown_method(web_client: WebClient) -> None:
    with pytest.raises(SlackApiError) as raised:
        web_client.api_call("chat.scheduleMessage", params={"channel": "C0WSUS", "text": "x"})
    assert raised.value.response["error"] == "unknown_method"


def test_post_update_and_read_back(slack: LocalSlack, web_client: WebClient) -> None:
    first = web_client.chat_postMessage(channel="C0WSUS", text="checking wsus01...")
    second = web_client.chat_postMessage(channel="#wsus-ops", text="checking wsus02...")
    assert float(second["ts"]) > float(first["ts"])
    web_client.chat_update(
        channel="C0WSUS", ts=first["ts"], text="wsus01: 2 findings", blocks=report_blocks()
    )
    reply = web_client.chat_postMessage(channel="C0WSUS", thread_ts=first["ts"], text="details")

    top_level = slack.messages("C0WSUS")
    assert [m.ts for m in top_level] == [first["ts"], second["ts"]]
    updated = top_level[0]
    assert updated.text == "wsus01: 2 findings"
    assert updated.blocks[1]["elements"][0]["action_id"] == "fix"
    assert [v.text for v in updated.edits] == ["checking wsus01..."]
    thread = slack.messages("C0WSUS", thread_ts=first["ts"])
    assert [m.ts for m in thread] == [first["ts"], reply["ts"]]
    assert thread[1].thread_ts == first["ts"]
    # the cheap poller's view: the same top-level messages, their current text
    assert slack.texts("C0WSUS") == [
        (first["ts"], "wsus01: 2 findings"),
        (second["ts"], "checking wsus02..."),
    ]


def test_message_validation(web_client: WebClient) -> None:
    section = {"type": "section", "text": {"type": "mrkdwn", "text": "x"}}
    with pytest.raises(SlackApiError) as raised:
        web_client.api_call("chat.postMessage", params={"channel": "C0WSUS"})
    assert raised.value.response["error"] == "no_text"
    cases = [
        (
            {"channel": "C0WSUS", "text": "x", "blocks": json.dumps([section] * 51)},
            "invalid_blocks",
        ),
        ({"channel": "C0WSUS", "text": "x", "blocks": "{not json"}, "invalid_blocks_format"),
        (
            {"channel": "C0WSUS", "text": "x", "blocks": json.dumps({"type": "section"})},
            "invalid_blocks_format",
        ),
        ({"channel": "C0WSUS", "text": "x", "thread_ts": "1.000001"}, "thread_not_found"),
        ({"channel": "C0OTHER", "text": "x"}, "channel_not_found"),
        ({"channel": "C0NOPE", "text": "x"}, "channel_not_found"),
    ]
    for params, error in cases:
        with pytest.raises(SlackApiError) as raised:
            web_client.api_call("chat.postMessage", params=params)
        assert raised.value.response["error"] == error, params
    assert web_client.chat_postMessage(channel="C0WSUS", text="x", blocks=[section] * 50)["ok"]


def test_json_body_is_accepted(web_client: WebClient, slack: LocalSlack) -> None:
    response = web_client.api_call(
        "chat.postMessage", json={"channel": "C0DIGEST", "text": "r", "blocks": report_blocks()}
    )
    assert slack.message("C0DIGEST", response["ts"]).blocks[0]["block_id"] == "summary"


def test_ephemeral_delete_and_permalink(slack: LocalSlack, web_client: WebClient) -> None:
    web_client.chat_postEphemeral(channel="C0WSUS", user="U0VIEWER", text="you may not fix")
    assert [e.text for e in slack.ephemerals("C0WSUS", "U0VIEWER")] == ["you may not fix"]
    assert slack.ephemerals("C0WSUS", "U0OPER") == []
    with pytest.raises(SlackApiError) as raised:
        web_client.chat_postEphemeral(channel="C0AUDIT", user="U0VIEWER", text="x")
    assert raised.value.response["error"] == "user_not_in_channel"

    posted = web_client.chat_postMessage(channel="C0AUDIT", text="audit line")
    link = web_client.chat_getPermalink(channel="C0AUDIT", message_ts=posted["ts"])["permalink"]
    assert link.endswith("/archives/C0AUDIT/p" + posted["ts"].replace(".", ""))
    web_client.chat_delete(channel="C0AUDIT", ts=posted["ts"])
    assert slack.messages("C0AUDIT") == []
    with pytest.raises(SlackApiError) as raised:
        web_client.chat_update(channel="C0AUDIT", ts=posted["ts"], text="again")
    assert raised.value.response["error"] == "message_not_found"


def test_home_tab_publish(slack: LocalSlack, web_client: WebClient) -> None:
    home = {
        "type": "home",
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "a"}}],
    }
    first = web_client.views_publish(user_id="U0OPER", view=home)
    home["blocks"][0]["text"]["text"] = "b"  # type: ignore[index]
    second = web_client.views_publish(user_id="U0OPER", view=home)
    assert first["view"]["id"] == second["view"]["id"]
    assert slack.home_view("U0OPER") == home
    assert slack.home_view("U0VIEWER") is None


def test_views_open_needs_a_fresh_trigger(web_client: WebClient) -> None:
    modal = {"type": "modal", "title": {"type": "plain_text", "text": "Why?"}, "blocks": []}
    with pytest.raises(SlackApiError) as raised:
        web_client.views_open(trigger_id="123.T0LAB.nope", view=modal)
    assert raised.value.response["error"] == "invalid_trigger_id"


def test_files_upload_v2_keeps_content(slack: LocalSlack, web_client: WebClient) -> None:
    parent = web_client.chat_postMessage(channel="C0WSUS", text="report")
    response = web_client.files_upload_v2(
        channel="C0WSUS",
        thread_ts=parent["ts"],
        content="KB1\nKB2\n",
        filename="findings.txt",
        title="Findings",
        initial_comment="full list",
    )
    assert response["file"]["title"] == "Findings"
    (stored,) = slack.files()
    assert stored.content == b"KB1\nKB2\n"
    assert (stored.channel, stored.thread_ts) == ("C0WSUS", parent["ts"])
    share = slack.messages("C0WSUS", thread_ts=parent["ts"])[-1]
    assert share.files == [stored.id]
    assert share.text == "full list"


def test_users_channels_and_groups(web_client: WebClient) -> None:
    assert web_client.users_info(user="U0APPR")["user"]["name"] == "ada.approver"
    with pytest.raises(SlackApiError):
        web_client.users_info(user="U0GHOST")
    other = web_client.conversations_info(channel="C0OTHER")["channel"]
    assert (other["name"], other["is_member"]) == ("random", False)
    assert "U0OPER" in web_client.conversations_members(channel="C0WSUS")["members"]
    users = web_client.usergroups_users_list(usergroup="S0WSUSADM")["users"]
    assert users == ["U0APPR2"]


def test_rate_limit_is_seen_and_retried(slack: LocalSlack, web_client: WebClient) -> None:
    slack.rate_limit("chat.postMessage", 1)
    with pytest.raises(SlackApiError) as raised:
        web_client.chat_postMessage(channel="C0WSUS", text="too fast")
    assert raised.value.response.status_code == 429
    assert raised.value.response.headers["Retry-After"] == "1"

    slack.rate_limit("chat.postMessage", 1)
    patient = WebClient(
        token=slack.bot_token,
        base_url=slack.api_url,
        retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=1)],
    )
    assert patient.chat_postMessage(channel="C0WSUS", text="eventually")["ok"]
    statuses = [c.http_status for c in slack.calls("chat.postMessage")]
    assert statuses == [429, 429, 200]


def test_calls_are_recorded_without_tokens(slack: LocalSlack, web_client: WebClient) -> None:
    form = urllib.parse.urlencode({"token": slack.bot_token}).encode()
    with urllib.request.urlopen(f"{slack.api_url}auth.test", data=form) as resp:
        assert json.load(resp)["ok"] is True
    web_client.chat_postMessage(channel="C0WSUS", text="x")
    assert [c.method for c in slack.calls()] == ["auth.test", "chat.postMessage"]
    assert slack.calls("auth.test")[0].params["token"] == "<redacted>"
    assert slack.bot_token not in repr(slack.calls())


def test_control_api_over_http(slack: LocalSlack, web_client: WebClient) -> None:
    web_client.chat_postMessage(channel="C0WSUS", text="hello demo")
    with urllib.request.urlopen(f"{slack.base_url}/_lab/messages?channel=C0WSUS") as resp:
        body = json.load(resp)
    assert [m["text"] for m in body["messages"]] == ["hello demo"]
    request = urllib.request.Request(
        f"{slack.base_url}/_lab/rate_limit",
        data=json.dumps({"method": "auth.test", "count": 1}).encode(),
        method="POST",
    )
    with urllib.request.urlopen(request) as resp:
        assert json.load(resp)["ok"] is True
    with pytest.raises(SlackApiError):
        web_client.auth_test()


def test_stop_is_idempotent_and_context_managed() -> None:
    with LocalSlack() as local:
        port = local.port
        assert port > 0
    local.stop()
    with pytest.raises(RuntimeError):
        local.type_command("U0OPER", "C0WSUS", "/wsus", "check wsus01")
