"""Bolt listeners, a module per kind, each with ``register(app)``.

Callbacks are plain functions taking Bolt's injected arguments; the SlackContext reaches
them through Bolt's ``context`` (see :func:`sarvbot.slack.context.sarvbot_of`).
"""

from slack_bolt import App

from . import actions, commands, events, functions, home, picker, shortcuts, views

__all__ = ["register"]


def register(app: App) -> None:
    """Attach every listener to the Bolt app."""
    commands.register(app)
    actions.register(app)
    views.register(app)
    shortcuts.register(app)
    events.register(app)
    functions.register(app)
    home.register(app)
    picker.register(app)
