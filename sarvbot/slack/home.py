"""The App Home tab: each person's view, published when they open it and when a request
they are concerned with changes; the answers to clicks made there are shown on it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from typing import Any

from slack_bolt.context.respond import Respond
from slack_sdk import WebClient
from slack_sdk.webhook import WebhookResponse

from sarvbot.core import ApprovalRequest, Core
from sarvbot.core.home import PersonalView, personal_view

from .home_blocks import home_unavailable, home_view
from .messenger import failure_word
from .work import WorkQueue

__all__ = ["REFRESH_LIMIT", "HomeTab"]

logger = logging.getLogger("sarvbot.slack")

# At most this many people get a fresh view when a request changes; everyone else sees it
# when they next open the tab (Slack sends app_home_opened each time).
REFRESH_LIMIT = 50
# How long the answer to a click stays on top of its person's view.
NOTICE_SECONDS = 120.0


class HomeTab:
    """Builds and publishes Home tab views (views.publish). Never raises to its callers:
    the tab is a convenience beside the cards and messages, never in the way of a change.
    """

    def __init__(self, core: Core, client: WebClient, work: WorkQueue, *, bot_user_id: str) -> None:
        self._core = core
        self._client = client
        self._work = work
        self._bot_user_id = bot_user_id
        self._lock = threading.Lock()
        self._notices: dict[str, tuple[float, str]] = {}
        self._publishing: dict[str, threading.Lock] = {}

    def publish(self, user_id: str) -> bool:
        """Publish ``user_id``'s view as it stands; False if Slack did not take it.

        One at a time per person, so that the last view published is the latest read
        (a refresh cannot overwrite the answer to a click with an older view).
        """
        with self._lock:
            own = self._publishing.setdefault(user_id, threading.Lock())
        with own:
            return self._publish(user_id)

    def _publish(self, user_id: str) -> bool:
        notice = self._notice(user_id)
        try:
            view = home_view(self._view_of(user_id), self._approvals_channel(), notice=notice)
        except Exception as exc:
            # The database or Slack's directory failed: say so rather than show stale lists.
            logger.warning("could not read the home view of %s: %s", user_id, type(exc).__name__)
            view = home_unavailable(notice)
        try:
            self._client.views_publish(user_id=user_id, view=view)
            return True
        except Exception as exc:
            logger.warning("could not publish the home view of %s: %s", user_id, failure_word(exc))
            return False

    def answer(self, user_id: str) -> Respond:
        """Where the answers to a click made in the Home tab go: on top of the clicker's view
        (a click there comes with no response_url).
        """
        return _HomeAnswer(self, user_id)

    def tell(self, user_id: str, text: str) -> bool:
        """Show ``text`` (escaped mrkdwn) on top of ``user_id``'s view, and publish it."""
        with self._lock:
            self._notices[user_id] = (time.monotonic() + NOTICE_SECONDS, text)
        return self.publish(user_id)

    def request_changed(self, request: ApprovalRequest) -> None:
        """Refresh, in the background, the views of those ``request`` concerns: its
        requester and whoever may decide it. Best effort: never raises, never waits.
        """
        try:
            self._work.publish(lambda: self._refresh(request), "home refresh")
        except Exception as exc:
            logger.warning("no home refresh for request #%s: %s", request.id, type(exc).__name__)

    def people_of(self, request: ApprovalRequest) -> list[str]:
        """The requester, then those the policy lets decide (up to REFRESH_LIMIT in all)."""
        people = [request.requester_id]
        try:
            deciders = self._core.permissions.possible_deciders()
        except Exception as exc:
            logger.warning("no deciders for request #%s: %s", request.id, type(exc).__name__)
            deciders = frozenset()
        # sarvbot itself is a member of the approvals channel, but no decider.
        people += sorted(p for p in deciders if p not in (request.requester_id, self._bot_user_id))
        return people[:REFRESH_LIMIT]

    def _refresh(self, request: ApprovalRequest) -> None:
        for person in self.people_of(request):
            self.publish(person)

    def _view_of(self, user_id: str) -> PersonalView:
        return personal_view(self._core, user_id)

    def _approvals_channel(self) -> str | None:
        approvals = self._core.permissions.policy.approvals
        return approvals.channel_id if approvals else None

    def _notice(self, user_id: str) -> str | None:
        with self._lock:
            kept = self._notices.get(user_id)
            if kept is None:
                return None
            if kept[0] < time.monotonic():
                del self._notices[user_id]
                return None
            return kept[1]


class _HomeAnswer(Respond):
    """A Respond whose answers are shown on top of one person's Home tab."""

    def __init__(self, home: HomeTab, user_id: str) -> None:
        super().__init__(response_url=None)
        self._home = home
        self._user_id = user_id

    def __call__(
        self,
        text: str | dict[str, Any] = "",
        blocks: Sequence[Any] | None = None,
        attachments: Sequence[Any] | None = None,
        response_type: str | None = None,
        replace_original: bool | None = None,
        delete_original: bool | None = None,
        unfurl_links: bool | None = None,
        unfurl_media: bool | None = None,
        thread_ts: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> WebhookResponse:
        shown = _first_section(blocks) or (text if isinstance(text, str) else "")
        told = self._home.tell(self._user_id, shown)
        return WebhookResponse(url="", status_code=200 if told else 503, body="", headers={})


def _first_section(blocks: Sequence[Any] | None) -> str | None:
    """The mrkdwn of a message's first section (its fallback ``text`` is cut short)."""
    for block in blocks or ():
        if not isinstance(block, dict) or block.get("type") != "section":
            continue
        inner = block.get("text")
        if isinstance(inner, dict):
            value = inner.get("text")
            if isinstance(value, str):
                return value
    return None
