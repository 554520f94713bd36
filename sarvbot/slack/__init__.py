"""The Slack side: Bolt listeners, Block Kit builders, secret delivery."""

from .app import SlackApp, build_web_client, create_slack_app
from .directory import SlackDirectory

__all__ = ["SlackApp", "SlackDirectory", "build_web_client", "create_slack_app"]
