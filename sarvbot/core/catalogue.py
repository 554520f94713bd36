"""The catalogue as people see it: SMTP users by name or label, with owner and note."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from sarvbot.sarv import SmtpUser

from .chores import SmtpChores
from .model import CatalogueEntry, Refused
from .trail import AuditTrail

if TYPE_CHECKING:
    from sarvbot.store import CatalogueStore

__all__ = ["Catalogue", "CatalogueView", "CataloguedUser"]


@dataclass(frozen=True)
class CataloguedUser:
    """A user Sarv lists, with its catalogue entry (None: unlabelled).

    ``password_days`` is the age of its password in whole days when sarvbot made it, and
    ``stale`` says it is past the policy's maximum age.
    """

    user: SmtpUser
    entry: CatalogueEntry | None
    password_days: int | None = None
    stale: bool = False


@dataclass(frozen=True)
class CatalogueView:
    """Users Sarv lists, and entries whose user Sarv no longer lists (never dropped)."""

    users: list[CataloguedUser]
    missing: list[CatalogueEntry]


class Catalogue:
    """Finds SMTP users by Sarv name or label and shows them with what sarvbot keeps."""

    def __init__(
        self,
        store: CatalogueStore,
        chores: SmtpChores,
        trail: AuditTrail,
        *,
        max_age_days: Callable[[], int | None] = lambda: None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._store = store
        self._chores = chores
        self._trail = trail
        self._max_age_days = max_age_days
        self._clock = clock

    def resolve(self, text: str) -> str:
        """The Sarv name that ``text`` means: a label's user, or ``text`` as a name.

        Refused when ``text`` is both a label and the name of another user; when it is
        neither, UnknownSmtpUser is left to the action that needs the user (it names the
        labels ``text`` is part of, to help).
        """
        entry = self._store.by_label(text)
        if entry is None:
            return text
        if entry.name != text and any(u.name == text for u in self._chores.list_users(text)):
            raise Refused(
                f"`{text}` is the label of {entry.name} and also the name of another SMTP "
                "user. Use the Sarv name.",
                "catalogue.label",
            )
        return entry.name

    def suggestions(self, text: str, limit: int = 5) -> list[str]:
        """Labels that hold ``text`` (any case), for an unknown name."""
        needle = text.lower()
        return [e.label for e in self._store.all() if e.label and needle in e.label.lower()][:limit]

    def entry(self, name: str) -> CatalogueEntry | None:
        """What sarvbot keeps of one user."""
        return self._store.get(name)

    def owned_by(self, owner_id: str) -> list[CatalogueEntry]:
        """The entries of one owner's users, by name (no call to Sarv)."""
        return self._store.owned_by(owner_id)

    def frozen(self) -> list[CatalogueEntry]:
        """The users frozen now, the latest freeze first (no call to Sarv)."""
        found = [e for e in self._store.all() if e.frozen_at is not None]
        return sorted(found, key=lambda e: (e.frozen_at, e.name), reverse=True)

    def show(self, name: str) -> CataloguedUser:
        """One user with its entry; UnknownSmtpUser if Sarv does not list it."""
        user = self._chores.get_user(name)
        return self._row(user, self._store.get(name), self._trail.password_times())

    def view(self, text: str = "") -> CatalogueView:
        """Users whose name or label holds ``text`` (any case), by name, and the entries of
        users Sarv no longer lists.
        """
        needle = text.lower()
        entries = {e.name: e for e in self._store.all()}
        listed = self._chores.list_users()
        names = {u.name for u in listed}
        times = self._trail.password_times()
        users = [
            self._row(u, entries.get(u.name), times)
            for u in listed
            if needle in u.name.lower() or needle in (_label(entries.get(u.name)) or "").lower()
        ]
        missing = [
            e
            for name, e in sorted(entries.items())
            if name not in names and (needle in name.lower() or needle in (e.label or "").lower())
        ]
        return CatalogueView(users, missing)

    def stale(self) -> list[CataloguedUser]:
        """Users whose password sarvbot made longer ago than the policy's maximum age."""
        if self._max_age_days() is None:
            return []
        return [
            row
            for row in self.view().users
            if row.stale and row.user.enabled and not (row.entry and row.entry.retiring)
        ]

    def password_reminders(self, now: datetime) -> dict[str, dict[str, object]]:
        """The reminders due to owners of stale passwords, by a key that names the user and
        the ISO week: scheduled under it, each is sent at most once a week.
        """
        year, week, _ = now.isocalendar()
        due: dict[str, dict[str, object]] = {}
        for row in self.stale():
            if row.entry is None or row.entry.owner_id is None:
                continue
            due[f"{row.user.name}:{year}-W{week:02d}"] = {
                "name": row.user.name,
                "label": row.entry.label,
                "days": row.password_days,
                "owner_id": row.entry.owner_id,
            }
        return due

    def _row(
        self, user: SmtpUser, entry: CatalogueEntry | None, times: dict[str, datetime]
    ) -> CataloguedUser:
        made = times.get(user.name)
        days = (self._clock() - made).days if made else None
        limit = self._max_age_days()
        stale = days is not None and limit is not None and days > limit
        return CataloguedUser(user, entry, days, stale)


def _label(entry: CatalogueEntry | None) -> str | None:
    return entry.label if entry else None
