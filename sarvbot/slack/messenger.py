"""Everything sarvbot says in Slack: answers, announcements, approval messages, secrets."""

from __future__ import annotations

import logging
from collections.abc import Callable

from slack_bolt.context.respond import Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from sarvbot import metrics
from sarvbot.core import ApprovalDesk, ApprovalRequest, Permissions
from sarvbot.sarv import Credentials

from . import blocks, sentences
from .blocks import Message
from .work import note_unanswered

__all__ = ["Messenger", "failure_word"]

logger = logging.getLogger("sarvbot.slack")

_UNDELIVERABLE = {
    "messages_tab_disabled": "your DM with sarvbot is turned off",
    "user_not_in_channel": "you have not opened your DM with sarvbot",
    "channel_not_found": "you have not opened your DM with sarvbot",
    "user_disabled": "your account is deactivated",
    "user_not_found": "Slack does not know your account",
    "no_answer": "Slack did not answer in time",
    "unreachable": "Slack could not be reached",
}
# Exceptions that mean Slack was not reached at all, by type name (the rest: no answer).
_UNREACHABLE = {"URLError": "unreachable", "ConnectionRefusedError": "unreachable"}


class Messenger:
    """Posts on sarvbot's behalf. ``secret_client`` carries passwords and logs nothing."""

    def __init__(
        self,
        *,
        client: WebClient,
        secret_client: WebClient,
        approvals: ApprovalDesk,
        permissions: Permissions,
    ) -> None:
        self.client = client
        self._secret_client = secret_client
        self._approvals = approvals
        self._permissions = permissions
        # Told of each request created or changed (the Home tab's refresh, the workflow
        # step waiting on it); each of them never raises.
        self.request_watchers: list[Callable[[ApprovalRequest], object]] = []

    # Answers to the person who acted

    def tell(self, respond: Respond | None, text: str) -> bool:
        """An ephemeral answer of mrkdwn ``text`` (already escaped); False if it failed."""
        return self.reply(respond, blocks.text_message(text))

    def reply(self, respond: Respond | None, message: Message, *, replace: bool = False) -> bool:
        """An ephemeral answer through the response_url; False if Slack did not take it.

        A failure is also noted for the job being run (see :func:`work.note_unanswered`),
        so that its receipt is left for a DM instead of ending unheard.
        """
        if respond is None:
            return True
        try:
            answer = respond(response_type="ephemeral", replace_original=replace, **message)
            status = int(getattr(answer, "status_code", 200))
            if status < 400:
                return True
            problem = f"HTTP {status}"  # expired (404) or refused: Slack raises nothing
        except Exception as exc:
            problem = type(exc).__name__
        logger.warning("could not answer through response_url: %s", problem)
        note_unanswered()
        return False

    def announce(self, channel_id: str, message: Message, respond: Respond | None) -> bool:
        """A change's note in its channel; through response_url if sarvbot is not in it.

        Best effort: the change is made already, so a failure here is logged and reported
        as False, never raised.
        """
        try:
            self.client.chat_postMessage(
                channel=channel_id, unfurl_links=False, unfurl_media=False, **message
            )
            return True
        except SlackApiError as exc:
            error = str(exc.response.get("error") or "unknown")
        except Exception as exc:
            error = type(exc).__name__
        if error in ("not_in_channel", "channel_not_found") and respond is not None:
            try:
                respond(response_type="in_channel", replace_original=False, **message)
                return True
            except Exception as exc:
                error = f"{error}, then response_url {type(exc).__name__}"
        logger.warning("could not announce in %s: %s", channel_id, error)
        return False

    def deliver_secret(
        self,
        user_id: str,
        credentials: Credentials,
        title: str,
        respond: Respond | None,
        *,
        notify: Callable[[str], object] | None = None,
    ) -> bool:
        """The one way a password leaves sarvbot: an ephemeral in the user's DM with the app.

        Never raises. When delivery fails, whatever the failure, the user is told (through
        ``respond``, or ``notify``), without the password; returns whether it was sent.
        """
        problem = self._send_secret(user_id, credentials, title)
        metrics.DELIVERIES.labels("delivered" if problem is None else "undelivered").inc()
        if problem is None:
            self.tell(respond, sentences.password_in_dm(credentials.name))
            return True
        logger.warning("password delivery failed for %s: %s", user_id, problem)
        why = _UNDELIVERABLE.get(problem, f"Slack answered {problem}")
        text = sentences.password_undelivered(credentials.name, why)
        if notify is not None:
            notify(text)
        else:
            self.tell(respond, text)
        return False

    def _send_secret(self, user_id: str, credentials: Credentials, title: str) -> str | None:
        """Send the password; None when Slack took it, else a short reason.

        Every exception raised here has seen the password (slack_sdk keeps the request's
        blocks in its frames and in ``SlackApiError.response``), so none may leave this
        method or be logged with its traceback: only a word about it is kept. The caller
        acts on that word outside the ``except`` block, so no later exception chains to it.
        """
        try:
            opened = self._secret_client.conversations_open(users=user_id)
            channel = opened["channel"]["id"]
            self._secret_client.chat_postEphemeral(
                channel=channel, user=user_id, **blocks.secret_message(credentials, title)
            )
        except SlackApiError as exc:
            return str(exc.response.get("error") or "unknown")[:64]
        except Exception as exc:
            return _UNREACHABLE.get(type(exc).__name__, "no_answer")
        return None

    # Approval requests

    def post_request(self, request: ApprovalRequest, respond: Respond | None) -> None:
        """Post a new request in the approvals channel and tell the requester."""
        approvals = self._permissions.policy.approvals
        if approvals is None:  # the core refuses requests without an approvals channel
            raise ValueError("requests need an approvals channel")
        self._request_changed(request)
        message = blocks.approval_message(request, required=approvals.required)
        try:
            posted = self.client.chat_postMessage(
                channel=approvals.channel_id, unfurl_links=False, unfurl_media=False, **message
            )
            self._approvals.attach_message(request.id, str(posted["channel"]), str(posted["ts"]))
        except Exception as exc:
            logger.error("could not post request #%s: %s", request.id, failure_word(exc))
            self.tell(respond, sentences.request_not_posted(request.id))
            return
        self.tell(respond, sentences.request_sent(request.id, approvals.channel_id))

    def _request_changed(self, request: ApprovalRequest) -> None:
        for watcher in self.request_watchers:
            watcher(request)

    def alert_approvals(self, message: Message) -> bool:
        """A message in the approvals channel (a freeze, a refused freeze). Never raises."""
        approvals = self._permissions.policy.approvals
        if approvals is None:
            return False
        return self.announce(approvals.channel_id, message, None)

    def refresh_request(self, request: ApprovalRequest) -> None:
        """Show a request's current state (and only the buttons it allows) on its message.

        Best effort: never raises.
        """
        self._request_changed(request)
        try:
            current = self._approvals.get(request.id) or request
            if not current.message_channel or not current.message_ts:
                return
            approvals = self._permissions.policy.approvals
            required = approvals.required if approvals else 1
            message = blocks.approval_message(current, required=required)
            self.client.chat_update(
                channel=current.message_channel, ts=current.message_ts, **message
            )
        except Exception as exc:
            logger.warning("could not update request #%s: %s", request.id, failure_word(exc))

    def tell_requester(self, request: ApprovalRequest, text: str) -> bool:
        """A DM to the requester, which stays where they will see it; an ephemeral where
        they asked if the DM fails.

        Best effort: never raises; returns whether Slack took one of them.
        """
        if self.direct_message(request.requester_id, text):
            return True
        try:
            self.client.chat_postEphemeral(
                channel=request.requester_channel_id,
                user=request.requester_id,
                **blocks.text_message(text),
            )
            return True
        except Exception as exc:
            logger.warning("could not tell the requester of #%s: %s", request.id, failure_word(exc))
            return False

    def in_thread(self, request: ApprovalRequest, text: str, *, broadcast: bool = False) -> bool:
        """A reply under the request's card (``broadcast``: shown in the channel too).

        Best effort: never raises; False if the card is unknown or Slack did not take it.
        """
        if not request.message_channel or not request.message_ts:
            return False
        try:
            self.client.chat_postMessage(
                channel=request.message_channel,
                thread_ts=request.message_ts,
                reply_broadcast=broadcast,
                unfurl_links=False,
                unfurl_media=False,
                **blocks.text_message(text),
            )
            return True
        except Exception as exc:
            logger.warning("could not reply under request #%s: %s", request.id, failure_word(exc))
            return False

    def link_to(self, request: ApprovalRequest) -> str | None:
        """A link to the request's card, or None if Slack gives none."""
        if not request.message_channel or not request.message_ts:
            return None
        try:
            answer = self.client.chat_getPermalink(
                channel=request.message_channel, message_ts=request.message_ts
            )
            link = answer.get("permalink")
        except Exception as exc:
            logger.warning("no link to request #%s: %s", request.id, failure_word(exc))
            return None
        return link if isinstance(link, str) and link.startswith("https://") else None

    def direct_message(self, user_id: str, text: str | Message) -> bool:
        """A message (no secret) in the user's DM with the app. Never raises."""
        message = blocks.text_message(text) if isinstance(text, str) else text
        try:
            self.client.chat_postMessage(channel=user_id, **message)
            return True
        except Exception as exc:
            logger.warning("could not send a DM to %s: %s", user_id, failure_word(exc))
            return False


def failure_word(exc: Exception) -> str:
    """A short word for a failure, fit for a log line (Slack's error code, or the type)."""
    if isinstance(exc, SlackApiError):
        return str(exc.response.get("error") or "unknown")[:64]
    return type(exc).__name__
