"""The simulated Slack workspace: team, users, usergroups and channels."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class User:
    id: str
    name: str
    real_name: str
    is_bot: bool = False

    def to_api(self, team_id: str) -> dict[str, object]:
        return {
            "id": self.id,
            "team_id": team_id,
            "name": self.name,
            "real_name": self.real_name,
            "is_bot": self.is_bot,
            "deleted": False,
            "tz": "UTC",
            "profile": {
                "real_name": self.real_name,
                "display_name": self.name,
                "team": team_id,
            },
        }


@dataclass(frozen=True)
class Usergroup:
    id: str
    handle: str
    name: str
    members: tuple[str, ...]

    def to_api(self, team_id: str) -> dict[str, object]:
        return {
            "id": self.id,
            "team_id": team_id,
            "handle": self.handle,
            "name": self.name,
            "users": list(self.members),
            "user_count": len(self.members),
        }


@dataclass(frozen=True)
class Channel:
    id: str
    name: str
    members: tuple[str, ...]
    is_private: bool = False

    def to_api(self, viewer_id: str) -> dict[str, object]:
        return {
            "id": self.id,
            "name": self.name,
            "is_channel": not self.is_private,
            "is_group": False,
            "is_im": False,
            "is_private": self.is_private,
            "is_archived": False,
            "is_member": viewer_id in self.members,
            "num_members": len(self.members),
        }


@dataclass(frozen=True)
class Workspace:
    team_id: str
    team_domain: str
    app_id: str
    bot_user_id: str
    bot_id: str
    users: tuple[User, ...]
    channels: tuple[Channel, ...]
    usergroups: tuple[Usergroup, ...] = field(default_factory=tuple)

    def user(self, user_id: str) -> User | None:
        return next((u for u in self.users if u.id == user_id), None)

    def channel(self, channel_ref: str) -> Channel | None:
        """Find a channel by id, name or #name (the Web API accepts all three)."""
        name = channel_ref.removeprefix("#")
        return next((c for c in self.channels if channel_ref == c.id or c.name == name), None)

    def usergroup(self, usergroup_id: str) -> Usergroup | None:
        return next((g for g in self.usergroups if g.id == usergroup_id), None)

    def require_user(self, user_id: str) -> User:
        user = self.user(user_id)
        if user is None:
            raise LookupError(f"unknown user {user_id!r}")
        return user

    def require_channel(self, channel_ref: str) -> Channel:
        channel = self.channel(channel_ref)
        if channel is None:
            raise LookupError(f"unknown channel {channel_ref!r}")
        return channel


BOT_USER_ID = "U0BOT"
HUMAN_USER_IDS = ("U0VIEWER", "U0OPER", "U0APPR", "U0APPR2", "U0NOBODY")


def default_workspace() -> Workspace:
    """Team T0LAB with one user per role the bot's tests need.

    Roles are the bot's configuration, not Slack's: the names only make the tests readable.
    """
    users = (
        User(BOT_USER_ID, "wsusbot", "WSUS Bot", is_bot=True),
        User("U0VIEWER", "vera.viewer", "Vera Viewer"),
        User("U0OPER", "otto.operator", "Otto Operator"),
        User("U0APPR", "ada.approver", "Ada Approver"),
        User("U0APPR2", "abe.approver", "Abe Approver"),
        User("U0NOBODY", "nick.nobody", "Nick Nobody"),
    )
    everyone = tuple(u.id for u in users)
    humans = HUMAN_USER_IDS
    return Workspace(
        team_id="T0LAB",
        team_domain="wsuslab",
        app_id="A0LAB",
        bot_user_id=BOT_USER_ID,
        bot_id="B0BOT",
        users=users,
        channels=(
            Channel("C0WSUS", "wsus-ops", everyone),
            Channel("C0DIGEST", "wsus-digest", everyone),
            Channel("C0AUDIT", "wsus-audit", (BOT_USER_ID, "U0APPR", "U0APPR2")),
            Channel("C0OTHER", "random", humans),
        ),
        usergroups=(Usergroup("S0WSUSADM", "wsus-admins", "WSUS admins", ("U0APPR2",)),),
    )
