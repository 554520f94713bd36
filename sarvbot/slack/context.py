"""What every listener group shares."""

from __future__ import annotations

from dataclasses import dataclass

from slack_sdk import WebClient

from sarvbot.core import Actor, SmtpService, WorkLedger

from .directory import SlackDirectory
from .messenger import Messenger
from .work import WorkQueue

__all__ = ["SlackContext"]


@dataclass
class SlackContext:
    """The service, the people directory, the messenger, the work queue and its ledger."""

    service: SmtpService
    directory: SlackDirectory
    messenger: Messenger
    work: WorkQueue
    client: WebClient
    ledger: WorkLedger

    def actor(self, user_id: str) -> Actor:
        """The person behind a Slack user ID, with their guest status looked up."""
        return Actor(user_id, is_guest=self.directory.is_guest(user_id))
