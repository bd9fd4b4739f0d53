"""The Slack app manifests: valid against Slack's manifest schema (vendored, offline), in
step with what the code registers, and holding exactly the scopes the code needs.

The scopes are derived, not listed by hand: every Web API call the bot's code makes
(``client.<method>(...)`` anywhere under ``bot/``) is mapped to the scopes Slack's method
reference names for a bot token; a scope in a manifest that no call needs fails, and so
does a call whose scope is missing."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from bot.slack import ids
from lab.slack.state import ConversationState
from lab.slack.webapi import Credentials, WebApi
from lab.slack.workspace import default_workspace

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = ROOT / "tests/fixtures/slack/manifest.schema.1.0.0.json"
SOCKET = ROOT / "deploy/slack-manifest.yaml"
HTTP = ROOT / "deploy/slack-manifest-http.yaml"
MANIFESTS = [SOCKET, HTTP]
#: Bolt's one HTTP path (bot/slack/serve.py) for events, clicks, submissions and commands
HTTP_PATH = "/slack/events"

#: the bot-token scopes each Web API method needs, from Slack's method reference pages
#: (https://api.slack.com/methods/<method>, "Required scopes")
METHOD_SCOPES: dict[str, frozenset[str]] = {
    "auth.test": frozenset(),  # "No scope required"
    "chat.postMessage": frozenset({"chat:write"}),
    "chat.update": frozenset({"chat:write"}),
    "chat.postEphemeral": frozenset({"chat:write"}),
    "views.open": frozenset(),  # "No scope required"
    "views.publish": frozenset(),  # "No scope required"
    "views.update": frozenset(),  # "No scope required"
    "files.getUploadURLExternal": frozenset({"files:write"}),
    "files.completeUploadExternal": frozenset({"files:write"}),
    "usergroups.users.list": frozenset({"usergroups:read"}),
    # the bot's channels may be public or private: channels:read and groups:read
    "conversations.info": frozenset({"channels:read", "groups:read"}),
}
#: SDK helpers that call several methods (slack_sdk's files_upload_v2 docstring: steps 1-3)
COMPOSITE = {
    "files_upload_v2": ("files.getUploadURLExternal", "files.completeUploadExternal"),
}
#: what Bolt calls by itself: auth.test when the app starts (token verification)
BOLT_CALLS = frozenset({"auth.test"})
#: https://api.slack.com/scopes/commands: "Add shortcuts and/or slash commands"
COMMANDS_SCOPE = "commands"


def load(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def bot_sources() -> list[Path]:
    return sorted((ROOT / "bot").rglob("*.py"))


def _is_client(node: ast.expr) -> bool:
    return (isinstance(node, ast.Name) and node.id == "client") or (
        isinstance(node, ast.Attribute) and node.attr == "client"
    )


def sdk_calls() -> set[str]:
    """The WebClient methods called as ``client.x(...)`` / ``self.client.x(...)``."""
    found: set[str] = set()
    for path in bot_sources():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and _is_client(node.func.value)
            ):
                found.add(node.func.attr)
    return found


def api_methods() -> set[str]:
    methods = set(BOLT_CALLS)
    from slack_sdk import WebClient

    for name in sdk_calls():
        if name in COMPOSITE:
            methods.update(COMPOSITE[name])
        elif callable(getattr(WebClient, name, None)) and "_" in name:
            # slack_sdk names each method after the API's, dots as underscores
            methods.add(name.replace("_", "."))
    return methods


def registered(kind: str) -> set[str]:
    """String arguments of ``@app.<kind>("...")`` in the Bolt listeners (bot/slack)."""
    found: set[str] = set()
    for path in sorted((ROOT / "bot/slack").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == kind
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id == "app"
                and node.args
            ):
                value = _string(node.args[0])
                if value is not None:
                    found.add(value)
    return found


def _string(node: ast.expr) -> str | None:
    """A literal, or a name from ``bot.slack.ids`` (``ids.CHECK_SHORTCUT``)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if (
        isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id == "ids"
        and isinstance(getattr(ids, node.attr, None), str)
    ):
        return str(getattr(ids, node.attr))
    return None


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    data = json.loads(SCHEMA.read_text(encoding="utf-8"))
    jsonschema.Draft7Validator.check_schema(data)
    assert isinstance(data, dict)
    return data


@pytest.mark.parametrize("path", MANIFESTS, ids=lambda p: p.name)
def test_manifest_is_valid_against_slacks_schema(schema: dict[str, Any], path: Path) -> None:
    validator = jsonschema.Draft7Validator(schema)
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(load(path))]
    assert errors == []


def test_the_schema_catches_a_broken_manifest(schema: dict[str, Any]) -> None:
    """The vendored schema is strict enough to matter: a misspelt key, a too-long shortcut
    name and a non-URL request URL are each refused."""
    validator = jsonschema.Draft7Validator(schema)
    for breakage in (
        lambda m: m["settings"].update(socket_mode_enable=True),
        lambda m: m["features"]["shortcuts"][0].update(name="x" * 25),
        lambda m: m["settings"]["interactivity"].update(request_url="wsusbot.example.com"),
        lambda m: m.pop("display_information"),
    ):
        manifest = load(HTTP)
        breakage(manifest)
        assert list(validator.iter_errors(manifest)), breakage


@pytest.mark.parametrize("path", MANIFESTS, ids=lambda p: p.name)
def test_scopes_are_exactly_what_the_code_calls(path: Path) -> None:
    methods = api_methods()
    unknown = sorted(m for m in methods if m not in METHOD_SCOPES)
    assert unknown == [], f"add the scopes of {unknown} (Slack's method reference) here"
    needed = {scope for method in methods for scope in METHOD_SCOPES[method]}
    manifest = load(path)
    if manifest["features"].get("slash_commands") or manifest["features"].get("shortcuts"):
        needed.add(COMMANDS_SCOPE)
    assert sorted(manifest["oauth_config"]["scopes"]["bot"]) == sorted(needed)
    assert "user" not in manifest["oauth_config"]["scopes"]


def test_the_code_calls_are_found_and_the_lab_answers_them() -> None:
    methods = api_methods()
    # the scan sees the calls it must (a broken scan would pass with no scope at all)
    assert {"chat.postMessage", "views.open", "files.completeUploadExternal"} <= methods
    lab = WebApi(default_workspace(), ConversationState(), Credentials("b", "a"), str, str)
    assert methods <= lab.methods, "the lab's Slack must emulate every method the bot calls"


@pytest.mark.parametrize("path", MANIFESTS, ids=lambda p: p.name)
def test_manifest_matches_what_the_bot_registers(path: Path) -> None:
    manifest = load(path)
    features, settings = manifest["features"], manifest["settings"]
    assert {c["command"] for c in features["slash_commands"]} == registered("command")
    assert {s["callback_id"] for s in features["shortcuts"]} == registered("shortcut")
    assert {s["callback_id"] for s in features["shortcuts"]} == {ids.CHECK_SHORTCUT}
    assert all(s["type"] == "message" for s in features["shortcuts"])
    assert set(settings["event_subscriptions"]["bot_events"]) == registered("event")
    assert features["app_home"]["home_tab_enabled"] is True
    assert settings["interactivity"]["is_enabled"] is True


def test_socket_manifest_has_no_request_urls() -> None:
    manifest = load(SOCKET)
    assert manifest["settings"]["socket_mode_enabled"] is True
    assert "request_url" not in json.dumps(manifest)
    assert all("url" not in c for c in manifest["features"]["slash_commands"])


def test_http_manifest_sends_everything_to_the_bots_one_path() -> None:
    manifest = load(HTTP)
    settings = manifest["settings"]
    assert settings["socket_mode_enabled"] is False
    urls = [
        settings["event_subscriptions"]["request_url"],
        settings["interactivity"]["request_url"],
        *(c["url"] for c in manifest["features"]["slash_commands"]),
    ]
    assert len(urls) == 3
    for url in urls:
        assert re.fullmatch(r"https://[a-z0-9.-]+" + re.escape(HTTP_PATH), url), url
    # apart from the URLs and the mode, the two manifests are the same app
    socket = load(SOCKET)
    for data in (manifest, socket):
        data["settings"].pop("socket_mode_enabled")
        data["settings"]["event_subscriptions"].pop("request_url", None)
        data["settings"]["interactivity"].pop("request_url", None)
        for command in data["features"]["slash_commands"]:
            command.pop("url", None)
    assert manifest == socket
