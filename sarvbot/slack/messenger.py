"""Everything sarvbot says in Slack: answers, announcements, approval messages, secrets."""

from __future__ import annotations

import logging
from collections.abc import Callable

from slack_bolt.context.respond import Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from sarvbot.policy import Policy
from sarvbot.sarv import Credentials
from sarvbot.store import ApprovalRequest, ApprovalStore

from . import blocks
from .blocks import Message
from .mrkdwn import code, escape

__all__ = ["Messenger"]

logger = logging.getLogger("sarvbot.slack")

_UNDELIVERABLE = {
    "messages_tab_disabled": "your DM with sarvbot is turned off",
    "user_not_in_channel": "you have not opened your DM with sarvbot",
    "channel_not_found": "you have not opened your DM with sarvbot",
    "user_disabled": "your account is deactivated",
    "user_not_found": "Slack does not know your account",
}


class Messenger:
    """Posts on sarvbot's behalf. ``secret_client`` carries passwords and logs nothing."""

    def __init__(
        self,
        *,
        client: WebClient,
        secret_client: WebClient,
        approvals: ApprovalStore,
        policy: Callable[[], Policy],
    ) -> None:
        self.client = client
        self._secret_client = secret_client
        self._approvals = approvals
        self._policy = policy

    # Answers to the person who acted

    def tell(self, respond: Respond | None, text: str) -> None:
        """An ephemeral answer of mrkdwn ``text`` (already escaped)."""
        self.reply(respond, blocks.text_message(text))

    def reply(self, respond: Respond | None, message: Message, *, replace: bool = False) -> None:
        """An ephemeral answer through the response_url."""
        if respond is None:
            return
        try:
            respond(response_type="ephemeral", replace_original=replace, **message)
        except Exception as exc:
            logger.warning("could not answer through response_url: %s", type(exc).__name__)

    def announce(self, channel_id: str, message: Message, respond: Respond | None) -> None:
        """A change's note in its channel; through response_url if sarvbot is not in it."""
        try:
            self.client.chat_postMessage(
                channel=channel_id, unfurl_links=False, unfurl_media=False, **message
            )
        except SlackApiError as exc:
            if exc.response.get("error") not in ("not_in_channel", "channel_not_found"):
                raise
            if respond is not None:
                respond(response_type="in_channel", replace_original=False, **message)

    def deliver_secret(
        self,
        user_id: str,
        credentials: Credentials,
        title: str,
        respond: Respond | None,
        *,
        notify: Callable[[str], None] | None = None,
    ) -> bool:
        """The one way a password leaves sarvbot: an ephemeral in the user's DM with the app.

        When that fails the user is told (through ``respond``, or ``notify``), without it.
        """
        try:
            opened = self._secret_client.conversations_open(users=user_id)
            channel = opened["channel"]["id"]
            self._secret_client.chat_postEphemeral(
                channel=channel, user=user_id, **blocks.secret_message(credentials, title)
            )
        except SlackApiError as exc:
            error = str(exc.response.get("error") or "unknown")
            logger.warning("password delivery failed for %s: %s", user_id, error)
            why = _UNDELIVERABLE.get(error, f"Slack answered {error}")
            text = (
                f"I could not send you the password of {code(credentials.name)}: "
                f"{escape(why)}. Open sarvbot's Messages tab (App Home), then run "
                f"`/smtp reveal {escape(credentials.name)}` where reveal is allowed."
            )
            if notify is not None:
                notify(text)
            else:
                self.tell(respond, text)
            return False
        self.tell(respond, f"The password of {code(credentials.name)} is in your DM with sarvbot.")
        return True

    # Approval requests

    def post_request(self, request: ApprovalRequest, respond: Respond | None) -> None:
        """Post a new request in the approvals channel and tell the requester."""
        approvals = self._policy().approvals
        assert approvals is not None
        message = blocks.approval_message(request, required=approvals.required)
        try:
            posted = self.client.chat_postMessage(
                channel=approvals.channel_id, unfurl_links=False, unfurl_media=False, **message
            )
        except SlackApiError as exc:
            logger.error("could not post request #%s: %s", request.id, exc.response.get("error"))
            self.tell(
                respond,
                f"Request #{request.id} is saved, but I could not post it to the approvals "
                "channel. Ask an admin to invite sarvbot there; ops can see it with "
                "`/smtp requests`.",
            )
            return
        self._approvals.set_message(request.id, str(posted["channel"]), str(posted["ts"]))
        self.tell(
            respond,
            f"Request #{request.id} sent for approval in <#{approvals.channel_id}>. "
            f"Withdraw it with `/smtp cancel {request.id}`.",
        )

    def refresh_request(self, request: ApprovalRequest) -> None:
        """Show a request's current state (and only the buttons it allows) on its message."""
        current = self._approvals.get(request.id) or request
        if not current.message_channel or not current.message_ts:
            return
        approvals = self._policy().approvals
        message = blocks.approval_message(current, required=approvals.required if approvals else 1)
        try:
            self.client.chat_update(
                channel=current.message_channel, ts=current.message_ts, **message
            )
        except SlackApiError as exc:
            logger.warning(
                "could not update request #%s: %s", request.id, exc.response.get("error")
            )

    def tell_requester(self, request: ApprovalRequest, text: str) -> None:
        """An ephemeral to the requester where they asked; a DM if that fails."""
        message = blocks.text_message(text)
        try:
            self.client.chat_postEphemeral(
                channel=request.requester_channel_id, user=request.requester_id, **message
            )
        except SlackApiError:
            try:
                self.client.chat_postMessage(channel=request.requester_id, **message)
            except SlackApiError as exc:
                logger.warning(
                    "could not tell the requester of #%s: %s", request.id, exc.response.get("error")
                )
