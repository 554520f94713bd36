"""What every listener shares, handed to each through Bolt's context."""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass, field

from slack_bolt import BoltContext
from slack_sdk import WebClient

from sarvbot.core import Actor, Core

from .directory import SlackDirectory
from .home import HomeTab
from .messenger import Messenger
from .work import WorkQueue

__all__ = ["CONTEXT_KEY", "SlackContext", "sarvbot_of"]

# The key under which a middleware puts the SlackContext into each request's BoltContext.
CONTEXT_KEY = "sarvbot"


@dataclass
class SlackContext:
    """The core, the people directory, the messenger, the work queue and the Home tab."""

    core: Core
    directory: SlackDirectory
    messenger: Messenger
    work: WorkQueue
    client: WebClient
    home: HomeTab
    # Runs the timed work of some kinds that is due now (set by the SlackApp).
    run_due: Callable[[Collection[str]], object] = field(default=lambda kinds: None)

    def actor(self, user_id: str) -> Actor:
        """The person behind a Slack user ID, with their guest status looked up."""
        return Actor(user_id, is_guest=self.directory.is_guest(user_id))


def sarvbot_of(context: BoltContext) -> SlackContext:
    """The SlackContext of the app a listener runs in."""
    found = context[CONTEXT_KEY]
    if not isinstance(found, SlackContext):
        raise TypeError("the sarvbot middleware did not run")
    return found
