"""What sarvbot asks Slack about people and channels (guests, members, user groups)."""

from __future__ import annotations

import threading
import time
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

__all__ = ["SlackDirectory"]


class SlackDirectory:
    """Looks people up with the Web API; guest status and channel members are cached briefly.

    The guest cache serves commands and help texts; decisions (who approves, and the
    requester when an approved change runs) ask with ``fresh=True``. Membership is asked
    afresh unless the caller accepts the cache (``fresh=False``: pickers, on every keystroke).
    """

    def __init__(self, client: WebClient, *, ttl: float = 60.0) -> None:
        self._client = client
        self._ttl = ttl
        self._lock = threading.Lock()
        self._guests: dict[str, tuple[float, bool]] = {}
        self._members: dict[str, tuple[float, frozenset[str]]] = {}
        self._home_team: str | None = None

    def home_team(self) -> str:
        """The workspace the bot is installed in."""
        if self._home_team is None:
            self._home_team = str(self._client.auth_test()["team_id"])
        return self._home_team

    def is_guest(self, user_id: str, *, fresh: bool = False) -> bool:
        """Guests (single or multi channel) and users of another organisation.

        A user Slack does not know counts as a guest: least privilege. ``fresh`` skips
        the cache.
        """
        now = time.monotonic()
        with self._lock:
            cached = self._guests.get(user_id)
            if cached and cached[0] > now and not fresh:
                return cached[1]
        try:
            user: dict[str, Any] = self._client.users_info(user=user_id)["user"]
        except SlackApiError as exc:
            if exc.response.get("error") in ("user_not_found", "user_not_visible"):
                return True
            raise
        team = user.get("team_id")
        guest = bool(
            user.get("is_restricted")
            or user.get("is_ultra_restricted")
            or user.get("is_stranger")
            or user.get("deleted")
            or (team and team != self.home_team())
        )
        with self._lock:
            self._guests[user_id] = (now + self._ttl, guest)
        return guest

    def is_member(self, channel_id: str, user_id: str, *, fresh: bool = True) -> bool:
        """Whether the user is in the channel now; ``fresh=False`` accepts the channel's
        members as Slack listed them in the last ``ttl`` seconds.
        """
        if not fresh:
            return user_id in self._recent_members(channel_id)
        cursor: str | None = None
        while True:
            page = self._client.conversations_members(channel=channel_id, cursor=cursor, limit=200)
            members: list[str] = list(page.get("members") or [])
            if user_id in members:
                return True
            metadata: dict[str, Any] = page.get("response_metadata") or {}
            cursor = metadata.get("next_cursor") or None
            if cursor is None:
                return False

    def _recent_members(self, channel_id: str) -> frozenset[str]:
        now = time.monotonic()
        with self._lock:
            cached = self._members.get(channel_id)
            if cached and cached[0] > now:
                return cached[1]
        members = self.channel_members(channel_id)
        with self._lock:
            self._members[channel_id] = (now + self._ttl, members)
        return members

    def channel_members(self, channel_id: str) -> frozenset[str]:
        """Everyone in the channel now (not cached: membership changes)."""
        found: set[str] = set()
        cursor: str | None = None
        while True:
            page = self._client.conversations_members(channel=channel_id, cursor=cursor, limit=200)
            found.update(page.get("members") or [])
            metadata: dict[str, Any] = page.get("response_metadata") or {}
            cursor = metadata.get("next_cursor") or None
            if cursor is None:
                return frozenset(found)

    def group_members(self, group_id: str) -> frozenset[str]:
        """The users of a user group."""
        try:
            return frozenset(self._client.usergroups_users_list(usergroup=group_id)["users"])
        except SlackApiError as exc:
            if exc.response.get("error") in ("no_such_subteam", "subteam_not_found"):
                return frozenset()
            raise
