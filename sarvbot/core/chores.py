"""The SMTP chores at Sarv: read users, reveal a password, run a change, audit each."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from sarvbot import sarv
from sarvbot.actions import SPECS, Action
from sarvbot.sarv import Credentials, SarvClient, SmtpUser, UserStatus

from .failures import describe_change_failure, describe_sarv_error, outcome_unknown
from .leak_watch import LeakWatch
from .model import Actor, Change, ChangeResult, LabelTaken, Refused, UnknownSmtpUser
from .reverts import Reverted, RevertOutcome, Reverts, TimedChange, status_of
from .rotations import DEFAULT_GRACE, Rotation, Rotations
from .single_flight import SharedCall
from .trail import AuditTrail
from .user_index import UserIndex

if TYPE_CHECKING:
    from sarvbot.store import CatalogueStore

    from .ledger import WorkLedger

__all__ = ["SYSTEM_ACTOR", "SmtpChores"]

# A rotation whose add never answered holds its user's gate this long (see start_rotation).
ROTATION_STALE = timedelta(minutes=15)
# Who the audit log names for what sarvbot does by itself (a revert at the end of its time).
SYSTEM_ACTOR = "sarvbot"

logger = logging.getLogger("sarvbot.core")


class SmtpChores:
    """Runs reads and changes at Sarv and records each in the audit trail."""

    def __init__(
        self,
        sarv_client: SarvClient,
        trail: AuditTrail,
        catalogue: CatalogueStore,
        ledger: WorkLedger | None = None,
        reverts: Reverts | None = None,
        rotations: Rotations | None = None,
        leak_watch: LeakWatch | None = None,
    ) -> None:
        self.sarv = sarv_client
        self._trail = trail
        self._catalogue = catalogue
        self._ledger = ledger
        self.reverts = reverts
        self.rotations = rotations
        self.leak_watch = leak_watch
        # Pickers' copy of the names and labels, forgotten after every change at Sarv.
        self.user_index: UserIndex | None = None
        # Many people listing at once share one call to Sarv instead of queueing up.
        self._list_all = SharedCall(self.sarv.list_users)

    # Reads

    def list_users(self, text: str = "") -> list[SmtpUser]:
        """Users whose name holds ``text`` (any case), by name."""
        needle = text.lower()
        users = [u for u in self._list_all() if needle in u.name.lower()]
        users.sort(key=lambda u: u.name)
        return users

    def get_user(self, name: str) -> SmtpUser:
        """One user, or UnknownSmtpUser."""
        user = next((u for u in self._list_all() if u.name == name), None)
        if user is None:
            raise UnknownSmtpUser(name)
        return user

    def reveal(self, actor: Actor, channel_id: str, name: str, rule: str) -> Credentials:
        """The current password of ``name`` (Sarv's list holds it)."""
        try:
            user = self.get_user(name)
            if user.password is None:
                raise sarv.BadResponseError(
                    "Sarv listed the user without a password", http_status=200, excerpt=""
                )
        except (sarv.Error, UnknownSmtpUser) as exc:
            self._audit_failure(actor, channel_id, Action.REVEAL, name, exc, rule)
            raise
        self._trail.record(actor, channel_id, Action.REVEAL, "done", name, rule=rule)
        return Credentials(name=name, password=user.password)

    # Changes

    def apply(
        self,
        actor: Actor,
        channel_id: str,
        change: Change,
        *,
        rule: str,
        request_id: int | None = None,
        note: str | None = None,
        receipt: int | None = None,
    ) -> ChangeResult:
        """Run ``change`` at Sarv now and audit the outcome. Sarv errors propagate.

        The change is audited as started before Sarv is called: with the database gone,
        nothing is changed (DatabaseUnavailable propagates before any Sarv call). What Sarv's
        answer came to is kept on the change's ``receipt`` too, for the person to hear of it
        even if this process dies before telling them.
        """
        where = (actor, channel_id, change.action)
        self._trail.record(*where, "started", change.target, rule=rule, request_id=request_id)
        timed: TimedChange | None = None
        try:
            if change.for_seconds is not None:
                # Planned before Sarv is called: a process that dies after the change
                # still leaves its revert to another process.
                timed = self._plan_revert(change, actor, channel_id, request_id)
            result = _RUNNERS[change.action](self, change)
        except (sarv.Error, UnknownSmtpUser, Refused) as exc:
            self._forget_names()
            unknown = isinstance(exc, sarv.Error) and outcome_unknown(
                exc, repeatable=change.repeatable
            )
            outcome = "unknown" if unknown else "failed"
            # A change that may have happened keeps its revert: the end checks the values.
            if timed is not None and self.reverts is not None and _surely_not_made(exc):
                self.reverts.drop(timed)
            self._audit_failure(
                actor, channel_id, change.action, change.target, exc, rule, request_id, outcome
            )
            self.record(receipt, outcome, _failure_words(exc, change))
            raise
        self.record(receipt, "done")
        self._forget_names()
        if result.credentials is not None and self.leak_watch is not None:
            self.leak_watch.mark_stale()  # the new password is watched from the next check
        self._catalogue_after_status(change, actor, result.target)
        if timed is not None and self.reverts is not None:
            self.reverts.settle(timed)
            result = replace(result, ends_at=timed.ends_at)
        elif self.reverts is not None and change.target and _sets_values(change):
            # A lasting change (a freeze too) to values a time-bound one set: not undone.
            self.reverts.release(change.target, change.sarv_values(), same=True)
        if result.replaces is not None:
            result = self._plan_retirement(result, actor, channel_id, request_id)
        detail = "; ".join(filter(None, (_describe_values(change, result.before), note)))
        self._trail.record(
            *where,
            "done",
            result.target,
            rule=rule,
            request_id=request_id,
            detail=detail or None,
            best_effort=True,
        )
        return result

    def _forget_names(self) -> None:
        if self.user_index is not None:
            self.user_index.invalidate()

    def _catalogue_after_status(self, change: Change, actor: Actor, target: str) -> None:
        """A freeze marks its user frozen; enabling it again ends the freeze. Best effort:
        Sarv has acted already, and the audit log keeps both.
        """
        try:
            if change.action is Action.FREEZE:
                self._catalogue.freeze(
                    target, by=actor.user_id, reason=change.why or "", now=datetime.now(UTC)
                )
            elif change.sarv_values().get("status") == UserStatus.ENABLE.value:
                self._catalogue.thaw(target, now=datetime.now(UTC))
        except Exception as exc:
            logger.error("could not mark %s in the catalogue: %s", target, type(exc).__name__)

    def _freeze(self, change: Change) -> ChangeResult:
        if not (change.why or "").strip():
            raise Refused(
                "A freeze needs a reason, e.g. `/smtp freeze smtp12345 password pasted in "
                "#general`: ops read it on the alert.",
                "freeze",
            )
        target = _target(change)
        # A user disabled for good has nothing to stop (and a freeze must not make a user
        # ops disabled rotatable); one disabled for a while is frozen so that it stays off.
        for_a_while = self.reverts is not None and any(
            "status" in timed.set_values for timed in self.reverts.pending(target)
        )
        if not self.get_user(target).enabled and not for_a_while:
            raise Refused(f"{target} is disabled already: nothing to freeze.", "freeze")
        return self._edit(change)

    def _plan_revert(
        self, change: Change, actor: Actor, channel_id: str, request_id: int | None
    ) -> TimedChange:
        if self.reverts is None or not SPECS[change.action].time_bound:
            raise Refused(f"`{change.action}` cannot be made for a while only.", "reverts")
        return self.reverts.plan(
            change,
            self.get_user(_target(change)),
            requester_id=actor.user_id,
            channel_id=channel_id,
            request_id=request_id,
        )

    def _rotate(self, change: Change) -> ChangeResult:
        old = _target(change)
        if self.rotations is None:
            raise Refused("Rotation is not set up.", "rotation")
        self.rotations.check_none_under_way(old)
        before = self.get_user(old)
        entry = self._catalogue.get(old)
        if not before.enabled and not (entry and entry.frozen):
            raise Refused(
                f"{old} is disabled: a rotation would give its sending back under a new name. "
                "Enable it first if that is what you want.",
                "rotation",
            )
        now = datetime.now(UTC)
        why = self._catalogue.start_rotation(old, now=now, stale_before=now - ROTATION_STALE)
        if why == "replaced":
            raise Refused(f"{old} was replaced by a rotation already.", "rotation")
        if why is not None:
            raise Refused(f"{old} is being rotated right now.", "rotation")
        # The new user gets the lasting limits, not those of a time-bound raise in force.
        limits = {"total_limit": before.total_limit, "hourly_limit": before.hourly_limit}
        if self.reverts is not None:
            for timed in self.reverts.pending(old):
                limits.update({k: v for k, v in timed.before.items() if k in limits})
        try:
            credentials = self.sarv.add_user(limits["total_limit"], limits["hourly_limit"])
        except sarv.Error as exc:
            if _surely_not_made(exc):  # else the gate stays shut until it is stale
                self._catalogue.end_rotation(old)
            raise
        return ChangeResult(
            change, credentials.name, before=before, credentials=credentials, replaces=old
        )

    def _plan_retirement(
        self, result: ChangeResult, actor: Actor, channel_id: str, request_id: int | None
    ) -> ChangeResult:
        """After the add of a rotation: the catalogue moves, and the old user's retirement is
        scheduled. Sarv has made the user, so a failure here must not lose its password: it
        is logged and the person is told to retire the old user by hand.
        """
        old, new = result.replaces or "", result.target
        grace = timedelta(seconds=result.change.grace_seconds or DEFAULT_GRACE.total_seconds())
        if self.rotations is None:
            return result
        try:
            self._catalogue.move(old, new)
            rotation = self.rotations.plan(
                old,
                new,
                grace,
                requester_id=actor.user_id,
                channel_id=channel_id,
                request_id=request_id,
            )
        except Exception as exc:
            logger.error("could not schedule the retirement of %s: %s", old, type(exc).__name__)
            return result
        return replace(result, rotation_key=rotation.key, retire_at=rotation.retire_at)

    def retire_now(self, rotation: Rotation) -> str:
        """Done: have the old user retired now, by the rotation's retirement job, once.

        Returns "running" (a process is retiring it), "already" (it is disabled) or
        "scheduled" (its job, or a new one after a retirement that failed, is due now).
        """
        if self.rotations is None:
            raise Refused("Rotation is not set up.", "rotation")
        if self.rotations.running(rotation.key):
            return "running"
        if not self.rotations.bring_forward(rotation.key):
            # Its job ran already: if the old user is still enabled, it failed; again.
            if not self.get_user(rotation.old).enabled:
                return "already"
            self.rotations.retry(rotation)
        return "scheduled"

    def retire(self, rotation: Rotation) -> bool:
        """Disable the user a rotation replaced; False if Sarv had it disabled already.

        Sarv errors propagate (the job is tried again). Audited.
        """
        user = next((u for u in self._list_all() if u.name == rotation.old), None)
        if user is None or not user.enabled:
            return False
        self.sarv.edit_user(rotation.old, status=UserStatus.DISABLE)
        self._trail.record(
            SYSTEM_ACTOR,
            rotation.channel_id,
            Action.ROTATE,
            "retired",
            rotation.old,
            rule="rotation",
            request_id=rotation.request_id,
            detail=f"replaced by {rotation.new}",
            best_effort=True,
        )
        return True

    def revert(self, timed: TimedChange) -> Reverted:
        """Put back what a time-bound change set, unless someone changed it meanwhile.

        Sarv errors propagate (the job is tried again later). Audited either way.
        """
        if self.reverts is None:
            raise ValueError("reverts are not set up")
        user = next((u for u in self._list_all() if u.name == timed.target), None)
        reverted = self.reverts.decide(timed, user)
        if reverted.outcome is RevertOutcome.REVERTED:
            before = timed.before
            self.sarv.edit_user(
                timed.target,
                total_limit=before.get("total_limit"),
                hourly_limit=before.get("hourly_limit"),
                status=status_of(before),
            )
        found = ", ".join(f"{k} {v}" for k, v in reverted.found.items()) or "nothing"
        self._trail.record(
            SYSTEM_ACTOR,
            timed.channel_id,
            timed.action,
            "reverted" if reverted.outcome is RevertOutcome.REVERTED else "not reverted",
            timed.target,
            rule="reverts",
            request_id=timed.request_id,
            detail=f"{reverted.outcome.value}: found {found}",
            best_effort=True,
        )
        return reverted

    def record(self, receipt: int | None, outcome: str, error: str | None = None) -> None:
        """Keep what an acknowledged change came to on its receipt (best effort)."""
        if self._ledger is not None:
            self._ledger.record(receipt, outcome, error)

    def record_delivery(
        self,
        actor: Actor,
        channel_id: str,
        action: str,
        target: str | None,
        *,
        delivered: bool,
        request_id: int | None = None,
    ) -> None:
        """Audit whether the password a change produced reached its owner's DM."""
        outcome = "delivered" if delivered else "undelivered"
        self._trail.record(
            actor, channel_id, action, outcome, target, request_id=request_id, best_effort=True
        )

    def check_label_free(self, label: str | None, name: str | None = None) -> None:
        """LabelTaken unless ``label`` is free (or already on ``name``); Refused when it is
        the Sarv name of another user (it would hide that user's name).
        """
        if not label:
            return
        holder = self._catalogue.by_label(label)
        if holder is not None and holder.name != name:
            raise LabelTaken(label, holder.name)
        if any(u.name.lower() == label.lower() and u.name != name for u in self._list_all()):
            raise Refused(
                f"{label} is the Sarv name of another SMTP user: choose another label.",
                "catalogue.label",
            )

    def _add(self, change: Change) -> ChangeResult:
        if change.total_limit is None or change.hourly_limit is None:
            raise ValueError("an add needs both limits")
        # Checked first: an add that Sarv made cannot be taken back for a label.
        self.check_label_free(change.label)
        credentials = self.sarv.add_user(change.total_limit, change.hourly_limit)
        if change.label or change.owner_id:
            self._catalogue_after_sarv(credentials.name, change)
        return ChangeResult(change, credentials.name, credentials=credentials)

    def _catalogue_after_sarv(self, name: str, change: Change) -> None:
        # Sarv has made the user: a label taken meanwhile, or the database gone, must not
        # lose its password on the way to the person. The audit's detail keeps the values.
        try:
            self._catalogue.write(name, label=change.label, owner_id=change.owner_id)
        except Exception as exc:
            logger.error("could not catalogue %s: %s", name, type(exc).__name__)

    def _catalogue_entry(self, change: Change) -> ChangeResult:
        target = _target(change)
        before = self.get_user(target)  # only users Sarv has are catalogued
        if change.action is Action.LABEL:
            self.check_label_free(change.label, target)
            self._catalogue.write(target, label=change.label)
        elif change.action is Action.OWNER:
            self._catalogue.write(target, owner_id=change.owner_id)
        else:
            self._catalogue.write(target, note=change.note)
        return ChangeResult(change, target, before=before)

    def _reset(self, change: Change) -> ChangeResult:
        target = _target(change)
        credentials = self.sarv.reset_password(target)
        return ChangeResult(change, target, credentials=credentials)

    def _edit(self, change: Change) -> ChangeResult:
        target = _target(change)
        before = self.get_user(target)
        sets = SPECS[change.action].sets_status
        status = UserStatus(sets) if sets is not None else change.status
        self.sarv.edit_user(
            target,
            total_limit=change.total_limit,
            hourly_limit=change.hourly_limit,
            status=status,
        )
        return ChangeResult(change, target, before=before)

    def _audit_failure(
        self,
        actor: Actor,
        channel_id: str,
        action: str,
        target: str | None,
        exc: Exception,
        rule: str,
        request_id: int | None = None,
        outcome: str = "failed",
    ) -> None:
        error = _error_text(exc)
        self._trail.record(
            actor,
            channel_id,
            action,
            outcome,
            target,
            rule=rule,
            request_id=request_id,
            error=error,
            best_effort=True,
        )


# How each change runs at Sarv: one entry per action of kind CHANGE.
_RUNNERS: dict[Action, Callable[[SmtpChores, Change], ChangeResult]] = {
    Action.ADD: SmtpChores._add,
    Action.EDIT: SmtpChores._edit,
    Action.ENABLE: SmtpChores._edit,
    Action.DISABLE: SmtpChores._edit,
    Action.RESET: SmtpChores._reset,
    Action.LABEL: SmtpChores._catalogue_entry,
    Action.OWNER: SmtpChores._catalogue_entry,
    Action.NOTE: SmtpChores._catalogue_entry,
    Action.ROTATE: SmtpChores._rotate,
    Action.FREEZE: SmtpChores._freeze,
}


def _target(change: Change) -> str:
    if change.target is None:
        raise ValueError(f"{change.action} needs an SMTP user")
    return change.target


def _sets_values(change: Change) -> bool:
    """True for a change that sets limits or a status (what a time-bound change sets)."""
    spec = SPECS[change.action]
    return spec.time_bound or spec.sets_status is not None


def _surely_not_made(exc: Exception) -> bool:
    """True when a failed change certainly did not happen at Sarv."""
    if isinstance(exc, sarv.Error):
        return not outcome_unknown(exc, repeatable=False)
    return True


def _failure_words(exc: Exception, change: Change) -> str:
    """What a failed change came to, in words for its person (no secret, no markup)."""
    if isinstance(exc, sarv.Error):
        return describe_change_failure(exc, action=change.action, repeatable=change.repeatable)
    return str(exc)


def _error_text(exc: Exception) -> str:
    if isinstance(exc, sarv.Error):
        return f"{exc.name}: {describe_sarv_error(exc)}"
    if isinstance(exc, UnknownSmtpUser | Refused):
        return str(exc)
    return type(exc).__name__


def _describe_values(change: Change, before: SmtpUser | None) -> str | None:
    parts = []
    for key, value in change.params().items():
        old = getattr(before, key, None) if before else None
        if old is not None and str(old) != str(value):
            parts.append(f"{key} {old} -> {value}")
        else:
            parts.append(f"{key} {value}")
    return ", ".join(parts) or None
