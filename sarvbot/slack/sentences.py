"""Every sentence sarvbot says to people in Slack, in one place.

Each is mrkdwn, with whatever came from people or Sarv escaped here and nowhere else.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sarvbot.actions import SPECS, Action
from sarvbot.core import (
    ApprovalRequest,
    CommandError,
    LostWork,
    RequestState,
    RevertOutcome,
    TimedChange,
)

from .mrkdwn import channel_link, code, escape, escape_cut, mention, mention_people

__all__ = [
    "BUSY",
    "DATABASE_DOWN",
    "FOREIGN",
    "OUT_OF_DATE",
    "RESTARTING",
    "SLACK_SLOW",
    "lost_work",
    "usage",
]

BUSY = "sarvbot is busy right now, so nothing was done. Try again in a minute."
RESTARTING = "sarvbot is restarting, so nothing was done. Try again in a minute."
FOREIGN = (
    "This request came from another workspace or another app than the one sarvbot is "
    "installed as, so nothing was done."
)
OUT_OF_DATE = "That button is out of date."
LIST_OUT_OF_DATE = "That button is out of date; run `/smtp list` again."
PAGE_PAST_END = "That page is past the end of the list; run `/smtp list` again."
SLACK_SLOW = "Slack did not answer in time; try again."
NO_USER_IN_MESSAGE = "This message names no SMTP user that Sarv lists, by name or by label."
DATABASE_DOWN = "sarvbot's database is unavailable, so nothing was changed. Try again in a minute"


def words(text: str) -> str:
    """Words the core returned (a refusal, a failure), made safe for mrkdwn."""
    return escape(text)


def usage(exc: CommandError) -> str:
    """A command mistake and the right form."""
    text = escape(exc.message)
    if exc.usage:
        text += f"\nUsage: `{escape(exc.usage)}`"
    return text


def with_ref(text: str, ref: str) -> str:
    """``text`` (a sentence without its full stop) with the reference found in the logs."""
    return f"{text} (ref `{ref}`)."


def no_such_user(name: str, suggestions: Sequence[str] = ()) -> str:
    text = f"Sarv has no SMTP user named {code(name)}, and no label is {code(name)}."
    if suggestions:
        text += " Labels like it: " + ", ".join(code(s) for s in suggestions) + "."
    return text


def something_went_wrong(ref: str) -> str:
    return with_ref("Something went wrong on sarvbot's side", ref)


def sarv_error(words: str, ref: str) -> str:
    return f"{escape(words)} (ref `{ref}`)"


def done_not_announced(action: str, target: str) -> str:
    return (
        f"Done: {escape(action)} {code(target)}. I could not post the announcement in this channel."
    )


def withdrawn(request_id: int) -> str:
    return f"Request #{request_id} is withdrawn."


# Passwords


def password_in_dm(name: str) -> str:
    return f"The password of {code(name)} is in your DM with sarvbot."


def password_undelivered(name: str, why: str) -> str:
    return (
        f"I could not send you the password of {code(name)}: {escape(why)}. Open sarvbot's "
        f"Messages tab (App Home), then run `/smtp reveal {escape(name)}` where reveal is "
        "allowed."
    )


# Requests


def request_sent(request_id: int, approvals_channel: str) -> str:
    return (
        f"Request #{request_id} sent for approval in {channel_link(approvals_channel)}. "
        f"Withdraw it with `/smtp cancel {request_id}`."
    )


def request_not_posted(request_id: int) -> str:
    return (
        f"Request #{request_id} is saved, but I could not post it to the approvals channel. "
        "Ask an admin to invite sarvbot there; ops can see it with `/smtp requests`."
    )


def request_expired(request_id: int) -> str:
    return f"Request #{request_id} has expired."


def vote_recorded(request_id: int) -> str:
    return f"Your approval of request #{request_id} is recorded."


def request_denied(request_id: int, by: str, reason: str) -> str:
    why = f" Reason: {escape(reason)}" if reason else ""
    return f"Request #{request_id} was denied by {mention(by)}.{why}"


def request_failed(request_id: int, error: str | None) -> str:
    return (
        f"Request #{request_id} was approved, but it did not go through: "
        f"{escape(error or 'unknown problem')}"
    )


def request_done(request: ApprovalRequest, by: str, described: str) -> str:
    return f"Request #{request.id} was approved by {mention(by)} and done: {described}."


def request_outcome(request: ApprovalRequest, described: str) -> str | None:
    """What the requester hears of how their request ran or ended, if anything."""
    if request.state is RequestState.DONE and request.decided_by:
        return request_done(request, request.decided_by, described)
    if request.state is RequestState.FAILED:
        return request_failed(request.id, request.error)
    if request.state is RequestState.DENIED and request.decided_by:
        return request_denied(request.id, request.decided_by, request.deny_reason or "")
    if request.state is RequestState.EXPIRED:
        return f"Request #{request.id} expired without a decision."
    if request.state is RequestState.UNKNOWN:
        why = escape(request.error or "sarvbot stopped before it recorded the outcome.")
        return (
            f"Request #{request.id} ({described}) was approved, but it is unknown whether it "
            f"was done: {why} It will not run again: check the user with `/smtp show` before "
            "asking again."
        )
    return None


# Under a request's card: every click and how the request ended, as replies in its thread.


def thread_refused(user_id: str, what: str, problem: str) -> str:
    return f"{mention(user_id)} tried to {what} it, refused: {escape(problem)}"


def thread_decision(user_id: str, what: str, votes: int, required: int) -> str:
    if what == "retry":
        return f"🔁 {mention(user_id)} retried it."
    count = f" ({votes} of {required} approvals)" if required > 1 else ""
    return f"✅ Approved by {mention(user_id)}{count}."


def thread_outcome(request: ApprovalRequest) -> str:
    state = request.state
    if state is RequestState.DENIED:
        why = request.deny_reason
        reason = f": {escape_cut(why, 500)}" if why else " (no reason given)"
        return f"🚫 Denied by {mention(request.decided_by or '')}{reason}"
    if state is RequestState.DONE:
        name = (request.result or {}).get("smtp_user_name")
        return "✅ Done." + (f" SMTP user: {code(str(name))}." if name else "")
    if state is RequestState.FAILED:
        return f"❌ It did not go through: {escape(request.error or 'unknown problem')}"
    if state is RequestState.UNKNOWN:
        return f"❓ Outcome unknown: {escape(request.error or 'check the user at Sarv')}"
    if state is RequestState.EXPIRED:
        return "⌛ Expired without a decision."
    if state is RequestState.CANCELLED:
        return f"↩️ Withdrawn by {mention(request.requester_id)}."
    return f"Now {state.value}."


def thread_nudge(
    request: ApprovalRequest, waited: str, named: Iterable[str], *, escalate: bool
) -> str:
    who = mention_people(named)
    if escalate:
        to = f", escalated to {who}" if who else ""
        return f"🚨 Still no decision after {waited}{to}."
    to = f": {who}, please decide" if who else ": anyone here who may decide, please do"
    return f"⏰ Waiting for a decision for {waited}{to}."


def nudge_dm(
    request: ApprovalRequest, described: str, waited: str, link: str | None, escalate: bool
) -> str:
    where = f"<{link}|its card>" if link else "its card in the approvals channel"
    first = (
        f"Request #{request.id} ({described}) from {mention(request.requester_id)} "
        f"has had no decision for {waited}"
    )
    if escalate:
        return f"{first}, so it comes to you as well. See {where}."
    return f"{first}. Approve or deny it on {where}, or in sarvbot's Home tab."


def only_requester_or_owner(what: str) -> str:
    return f"Only the person who made the change, or the user's owner, can {what} it."


def timed_change_over(key_known: bool) -> str:
    if key_known:
        return "That change is being put back right now."
    return "That change is no longer in force: it was put back or extended already."


def reverting_now(target: str) -> str:
    return f"Putting {code(target)} back now."


def reverted(timed: TimedChange, before: str) -> str:
    return (
        f"Time is up for the {escape(timed.action)} of {code(timed.target)} by "
        f"{mention(timed.requester_id)}: sarvbot put back {before}."
    )


def not_put_back(timed: TimedChange, before: str, why: str) -> str:
    return (
        f"The time-bound {escape(timed.action)} of {code(timed.target)} has ended, but sarvbot "
        f"could not put back {before}: {escape(why)} Put it back by hand when Sarv is back."
    )


def not_reverted(timed: TimedChange, outcome: RevertOutcome, found: str, before: str) -> str:
    what = f"The time-bound {escape(timed.action)} of {code(timed.target)} has ended"
    if outcome is RevertOutcome.GONE:
        return f"{what}, but Sarv no longer lists {code(timed.target)}: nothing was put back."
    if outcome is RevertOutcome.ALREADY_BACK:
        return f"{what}; it already had its values from before ({before})."
    return (
        f"{what}, but someone changed it meanwhile: it has {found}, not what sarvbot set. "
        f"sarvbot left it as it is; before the change it had {before}."
    )


def password_too_old(name: str, label: object, days: int, limit: int | None) -> str:
    shown = f"{code(name)} ({escape(str(label))})" if label else code(name)
    most = f" (the policy asks for a new one every {limit} days)" if limit else ""
    return (
        f"The password of {shown}, which you own, is {days} days old{most}. Rotate it "
        f"without downtime with `/smtp rotate {escape(str(label or name))}`."
    )


LEAK_POSTER = (
    "That message holds the current password of an SMTP user. Delete it, please: ops have "
    "been told, and the password will be changed."
)


def leak_alert(
    name: str, label: str | None, channel_id: str, where: str, poster: str, *, frozen: bool
) -> str:
    shown = f"{code(name)} ({escape(label)})" if label else code(name)
    who = mention(poster) if poster.startswith(("U", "W")) else f"a bot ({escape(poster)})"
    done = (
        "sarvbot froze it; rotate it" if frozen else "Freeze it with `/smtp freeze`, then rotate it"
    )
    return (
        f"🔑 The current password of {shown} was posted by {who} in {channel_link(channel_id)}: "
        f"{escape(where)}. {done}."
    )


def not_frozen(name: str) -> str:
    return f"{code(name)} is not frozen any more."


def retire_by_hand(old: str, new: str) -> str:
    return (
        f"{code(new)} replaces {code(old)}, but sarvbot could not schedule the retirement of "
        f"{code(old)}: disable it with `/smtp disable {escape(old)}` once your app has moved."
    )


def retired(old: str, new: str) -> str:
    return f"sarvbot disabled {code(old)}: {code(new)} replaced it."


def retiring_now(old: str) -> str:
    return f"Disabling {code(old)} now."


def already_retired(old: str) -> str:
    return f"{code(old)} is disabled already."


def lost_work(lost: LostWork) -> str:
    """What became of a change whose answer never reached its person (no secret).

    Either the process that ran it died, or Slack did not take the answer at the time.
    """
    target = f" {escape(lost.target)}" if lost.target else ""
    what = f"`/smtp {escape(lost.action)}{target}`"
    where = f" in {channel_link(lost.channel_id)}"
    if not lost.started:
        return (
            f"sarvbot restarted before it ran your {what}{where}, so nothing was changed. "
            "Run it again if you still need it."
        )
    if lost.outcome == "done":
        text = f"Your {what}{where} was done, but sarvbot could not tell you at the time."
        if lost.action in SPECS and SPECS[Action(lost.action)].yields_password:
            text += (
                " If its password did not reach your DM with sarvbot, get it with "
                "`/smtp reveal` where reveal is allowed, or reset it again."
            )
        return text
    if lost.outcome == "requested":
        return (
            f"Your {what}{where} was sent for approval ({escape(lost.error or 'a request')}), "
            "but sarvbot could not tell you at the time. See `/smtp requests`."
        )
    if lost.outcome == "refused" and lost.error:
        return f"Your {what}{where} was not run: {escape(lost.error)}"
    if lost.outcome in ("failed", "unknown") and lost.error:
        return f"Your {what}{where} did not go through: {escape(lost.error)}"
    return (
        f"sarvbot stopped while it ran your {what}{where}, so it is unknown whether it was "
        "done. It will not run again by itself: check with `/smtp show` (or `/smtp list`) "
        "before running it again."
    )


# Workflow Builder steps: plain words (a workflow's activity shows no mrkdwn).


def step_unknown(callback_id: str) -> str:
    """A step sarvbot does not provide."""
    return f"sarvbot has no workflow step called {callback_id[:60]!r}."


def step_bad_input(problem: str) -> str:
    """A step's inputs that cannot be used."""
    return f"The step's inputs cannot be used: {problem}. Nothing was changed."


def step_refused(channel_id: str, problem: str) -> str:
    """The named channel's policy (or a rule of it) refused the step."""
    return f"Refused under the policy of channel {channel_id}: {problem} Nothing was changed."


def step_failed(problem: str) -> str:
    """The change the step asked for did not go through."""
    return f"The change did not go through: {problem}"


def step_request_failed(request_id: int, state: str, problem: str | None) -> str:
    """A step's request ended failed or with its outcome unknown."""
    return f"Request #{request_id} ended {state}: {problem or 'no reason was recorded'}"


STEP_SLACK_SLOW = "Slack did not answer sarvbot in time, so nothing was changed. Try again."
STEP_BUSY = "sarvbot is busy or restarting, so nothing was changed. Try again in a minute."
STEP_DATABASE_DOWN = "sarvbot's database is unavailable, so nothing was changed. Try again later."
STEP_BROKEN = "sarvbot failed on this step; its logs say why. Check the SMTP user before retrying."
STEP_REQUEST_GONE = "sarvbot no longer has the request this step waited on."
STEP_LOST = (
    "sarvbot stopped while the change was under way, so it is unknown whether it was made. "
    "It will not run again by itself: check the SMTP user before running the step again."
)


STEP_NOT_RUN = (
    "sarvbot restarted before it ran this step, so nothing was changed. Run the workflow again."
)
STEP_NOT_RUN_DM = (
    "sarvbot restarted before it ran a workflow step of yours, so nothing was changed. "
    "Run the workflow again if you still need it."
)
STEP_LOST_DM = (
    "sarvbot stopped while it ran a workflow step of yours, so it is unknown whether "
    "anything was changed. Check with `/smtp list` before running the workflow again."
)


def step_lost(action: str, channel_id: str) -> str:
    """The DM to a step's requester whose change was under way when sarvbot stopped."""
    return (
        f"sarvbot stopped while a workflow step of yours ran `{escape(action)}` for "
        f"{channel_link(channel_id)}, so it is unknown whether it was done. It will not run "
        "again by itself: check with `/smtp list` before running the workflow again."
    )


def step_not_posted(request_id: int) -> str:
    """A step's request that could not reach the approvals channel, and was withdrawn."""
    return (
        f"Request #{request_id} could not be posted in the approvals channel, so it was "
        "withdrawn and nothing was changed. Ask an admin to invite sarvbot there."
    )


# The App Home tab

HOME_GUEST = (
    "Guests and people from other organisations may run only `/smtp help` and `/smtp whoami`, "
    "so sarvbot has nothing to show you here."
)
HOME_NOTHING_WAITING = "No request waits on you."
HOME_NO_REQUESTS = "You have no requests. The changes you ask for with `/smtp` show here."
HOME_NO_TIMED = "No time-bound change of yours is in force."
HOME_NO_OWNED = "You own no SMTP user. `/smtp owner NAME @you` makes you one's owner."
HOME_NO_FREEZES = "No SMTP user is frozen."
HOME_UNAVAILABLE = (
    "sarvbot could not read everything it shows here just now. Open the tab again in a minute."
)


def and_more(count: int) -> str:
    """The line under a list cut short."""
    return f"…and {count} more."


def home_decide_hint(approvals_channel: str) -> str:
    """Under the requests waiting on an approver."""
    return (
        f"Approve and Deny here count as they do on the request's card in "
        f"{channel_link(approvals_channel)}: the same checks, and each change runs once."
    )


# The picker and the Manage modal. Form errors are plain text: Slack shows them as typed.

PICK_A_USER = "Choose an SMTP user: type part of its name or label."
PICK_AN_ACTION = "Choose what to do."
PICK_A_CHANNEL = "Choose the channel whose rules apply; the answer goes there."
PICK_TO_FREEZE = "Choose the SMTP user to freeze."
SAY_WHY = "Say why, here: ops read it."
CHANNEL_UNREADABLE = (
    "sarvbot is not in that channel, so it cannot tell whether you are: invite it there, "
    "or choose another channel."
)
MANAGE_NOT_OPENED = "Slack did not open the Manage form in time; use the shortcut again."
MANAGE_PICK_CHANNEL_FIRST = "Choose the channel first: the actions narrow to what it lets you do."
NEEDS_APPROVAL = "needs approval"
NOTHING_POSSIBLE_HERE = "Nothing on this form is possible for you here: choose another channel."


def manage_channel_allows(
    channel_id: str, allowed: Sequence[Action], requestable: Sequence[Action]
) -> str:
    """What a channel lets one person do on the Manage form (mrkdwn, for a context line)."""
    where = channel_link(channel_id)
    if not allowed and not requestable:
        return f"Nothing on this form is possible for you in {where}: choose another channel."
    said = []
    if allowed:
        said.append("you may " + ", ".join(code(a.value) for a in allowed))
    if requestable:
        said.append("ask ops to " + ", ".join(code(a.value) for a in requestable))
    return f"In {where} " + "; ".join(said) + "."


def form_usage(exc: CommandError) -> str:
    """A mistake in a form's details, and the command's usage (plain text)."""
    return f"{exc.message}. Usage: {exc.usage}" if exc.usage else exc.message
