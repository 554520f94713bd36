"""Workflow Builder steps: ``function_executed`` events for sarvbot's custom steps."""

from __future__ import annotations

import logging
import re
from typing import Any

from slack_bolt import App, BoltContext

from ..context import sarvbot_of
from ..steps import is_execution_id, run_step, turn_away, watch
from ..work import Handled, handling_request

__all__ = ["register"]

logger = logging.getLogger("sarvbot.slack")


def register(app: App) -> None:
    """Attach one listener for every step, so an unknown one is completed with an error
    too (Bolt acknowledges the event itself).
    """
    app.function(re.compile(r".*"))(step_executed)


def step_executed(event: dict[str, Any], context: BoltContext) -> None:
    """Queue the step's work; when the queue takes no more, the step ends at once, unless
    this is a redelivery of an execution in hand.
    """
    ctx = sarvbot_of(context)
    execution_id = event.get("function_execution_id")
    if not is_execution_id(execution_id):
        logger.warning("a workflow step without a usable function_execution_id; ignored")
        return
    function = event.get("function")
    callback_id = str(function.get("callback_id") or "") if isinstance(function, dict) else ""
    inputs = event.get("inputs")
    handled = Handled("step", callback_id[:60] or "unknown", "workflow", "")
    watch(ctx, str(execution_id), inputs)
    # The step claims its execution itself (every redelivery carries the same id) and ends
    # with an error when the database cannot say; the queue's check of the request's own
    # keys would fail with nobody to tell.
    with handling_request({}):
        taken = ctx.work.submit(
            None, lambda: run_step(ctx, callback_id, str(execution_id), inputs), handled
        )
    if not taken:
        turn_away(ctx, str(execution_id))
