"""A demo session: the person at the keyboard plays a Slack user; Slack's screen is text.

Every step (a slash command, a click, a modal submitted) goes to the real app as a signed
request. Whatever the app then sends to Slack is recorded by the stand-in Slack; the session
waits until the app is idle and prints it, oldest first, so a script always reads the same.
"""

from __future__ import annotations

import contextlib
import json
import re
import sys
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests

from sarvbot.core.schedule import (
    ESCALATE_REQUEST,
    REMIND_REQUEST,
    REMIND_RETIRE,
    REMIND_REVERT,
    RETIRE_OLD,
    REVERT_CHANGE,
)
from sarvbot.policy import PolicyError
from sarvbot.standin import ApiCall, Recorded, ResponsePost
from sarvbot.standin.workspace import LocalWorkspace

from .console import Console
from .render import Button, Field, Names, buttons_of, message_lines, modal_fields, modal_lines
from .workspace import demo_setup

__all__ = ["DemoSession", "Shown", "StepFailed", "run_session"]

_INDENT = "    "


# What ``:later`` brings forward: the end of time-bound changes and of rotations' grace
# periods, the reminders before them, and those of requests left waiting.
_LATER_KINDS = (
    REMIND_REVERT,
    REVERT_CHANGE,
    REMIND_RETIRE,
    RETIRE_OLD,
    REMIND_REQUEST,
    ESCALATE_REQUEST,
)


class StepFailed(Exception):
    """A line the demo cannot act on; the message says why and what to type instead."""


class _Cancelled(Exception):
    """The person closed a modal without submitting it."""


@dataclass
class Shown:
    """A message as numbered in the transcript, kept so that a later ``:click`` finds it."""

    number: int
    channel_id: str
    ts: str | None
    message: dict[str, Any]
    ephemeral_for: str | None = None
    deleted: bool = False
    # The number of the message whose thread this is a reply in.
    thread_of: int | None = None


@dataclass(frozen=True)
class _Origin:
    """Who acted where, for the replies that come back through a response_url."""

    user_id: str
    channel_id: str
    shown: Shown | None = None  # the message whose button was clicked


def _message_of(source: dict[str, Any]) -> dict[str, Any]:
    blocks = source.get("blocks")
    if isinstance(blocks, str):
        try:
            blocks = json.loads(blocks)
        except ValueError:
            blocks = None
    message: dict[str, Any] = {"text": str(source.get("text") or "")}
    if isinstance(blocks, list):
        message["blocks"] = blocks
    return message


def _json(response: requests.Response) -> dict[str, Any]:
    if not response.content or "json" not in response.headers.get("Content-Type", ""):
        return {}
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


class DemoSession:
    """Reads steps from the console, sends them to the app and prints what Slack would show."""

    def __init__(
        self, workspace: LocalWorkspace, console: Console, user_id: str, channel_id: str
    ) -> None:
        self.workspace = workspace
        self.slack = workspace.slack
        self.console = console
        self.style = console.style
        self.user_id = user_id
        self.channel_id = channel_id
        self.client = workspace.client()
        self.names = Names(user=self._user_name, channel=self._channel_name)
        self._shown: list[Shown] = []
        self._by_key: dict[tuple[str, str], Shown] = {}
        self._origins: dict[str, _Origin] = {}
        self._opened: list[str] = []
        self._recorded: list[Recorded] = []
        self._lock = threading.Lock()
        self._unsubscribe = self.slack.subscribe(self._record)

    def close(self) -> None:
        """Stop listening to the stand-in Slack."""
        self._unsubscribe()
        self.client.close()

    # -- the loop ----------------------------------------------------------------------

    @property
    def prompt(self) -> str:
        """``alice@#dev> ``: who and where the next step happens."""
        return (
            self.style.bold(f"{self._user_name(self.user_id)}@{self._place(self.channel_id)}>")
            + " "
        )

    def run(self) -> int:
        """Run steps until :quit or the end of input; the exit status of the demo."""
        failed: list[int] = []
        while True:
            try:
                line = self.console.read(self.prompt, skip_blank=True)
                if line is None or not self.step(line):
                    break
            except KeyboardInterrupt:
                if not self.console.interactive:
                    raise
                self.console.print()
            except StepFailed as exc:
                self.console.print(self.style.bad("error: ") + str(exc))
                if not self.console.interactive:
                    failed.append(self.console.line_number)
            except Exception as exc:
                self.console.print(self.style.bad("error: ") + _one_line(exc))
                if not self.console.interactive:
                    return 1
        if failed:
            lines = ", ".join(str(n) for n in failed)
            self.console.print(self.style.bad(f"{len(failed)} step(s) failed: line {lines}"))
            return 1
        return 0

    def step(self, line: str) -> bool:
        """Act on one line; False when it asks to quit."""
        text = line.strip()
        if not text:
            return True
        if text.startswith(":"):
            return self._meta(text[1:])
        if text.startswith("/"):
            self._command(text)
        else:
            raise StepFailed(
                "type a slash command (like /smtp help) or a demo command (like :help); "
                "sarvbot does not read plain messages"
            )
        self._fill_opened_modals()
        return True

    def help_text(self) -> str:
        """The demo's own commands, and how modals are answered."""
        people = ", ".join(u.name for u in self.workspace.users if not u.is_bot)
        channels = ", ".join("#" + c.name for c in self.workspace.channels)
        return "\n".join(
            [
                "Type slash commands as in Slack (/smtp help shows what this channel may do).",
                "Demo commands:",
                f"  :as NAME          be someone else: {people}",
                f"  :in CHANNEL       go to a channel: {channels} (or its ID)",
                "  :click LABEL [N]  click a button of message [N], or of the latest message",
                "                    you can see that has it (:click Approve, :click Deny 3)",
                "  :later            time passes: changes made for a while, reminders and",
                "                    rotations' grace periods come due now",
                "  :home             open sarvbot's Home tab: what waits on you, your requests,",
                "                    time-bound changes, the users you own, recent freezes",
                "  :help             this list",
                "  :quit             leave (Ctrl-D does too)",
                "Modals ask for their fields one by one: Enter keeps the value in [brackets],",
                "a select takes an option's name or number, :cancel (or Ctrl-C) closes the modal",
                "without submitting, as its Cancel button does. A required field cannot be empty.",
                "In a script, lines starting with # are comments and blank lines are skipped,",
                "except in a modal, where each line answers the next field (blank keeps it).",
            ]
        )

    # -- steps -------------------------------------------------------------------------

    def _meta(self, text: str) -> bool:
        word, _, rest = text.partition(" ")
        word, rest = word.lower(), rest.strip()
        if word in ("quit", "exit", "q"):
            return False
        if word == "help":
            self.console.print(self.help_text())
        elif word == "as":
            self._switch_user(rest)
        elif word == "in":
            self._switch_channel(rest)
        elif word == "click":
            self._click(rest)
            self._fill_opened_modals()
        elif word == "later":
            self._later()
        elif word == "home":
            self._home()
        else:
            raise StepFailed(f"unknown demo command :{word} (:help lists them)")
        return True

    def _switch_user(self, name: str) -> None:
        wanted = name.strip().lstrip("@").casefold()
        user = next(
            (
                u
                for u in self.workspace.users
                if not u.is_bot and wanted in (u.name.casefold(), u.id.casefold())
            ),
            None,
        )
        if user is None:
            raise StepFailed(f"nobody here is called {name!r}; try :as bob")
        self.user_id = user.id
        if user.id not in self.slack.channel(self.channel_id).members:
            home = next((c for c in self.workspace.channels if user.id in c.members), None)
            if home is None:
                raise StepFailed(f"{user.name} is in no channel")
            self.channel_id = home.id
            self.console.print(
                self.style.dim(f"({user.name} is not in that channel; now in #{home.name})")
            )

    def _switch_channel(self, name: str) -> None:
        wanted = name.strip().lstrip("#").casefold()
        channel = next(
            (c for c in self.workspace.channels if wanted in (c.name.casefold(), c.id.casefold())),
            None,
        )
        if channel is None:
            known = ", ".join("#" + c.name for c in self.workspace.channels)
            raise StepFailed(f"there is no channel {name!r}; the channels are {known}")
        if self.user_id not in self.slack.channel(channel.id).members:
            raise StepFailed(f"{self._user_name(self.user_id)} is not a member of #{channel.name}")
        self.channel_id = channel.id

    def _command(self, text: str) -> None:
        command, _, args = text.partition(" ")
        if command != "/smtp":
            raise StepFailed(f"{command} is not a command here; sarvbot answers /smtp")
        url = self.slack.new_response_url()
        origin = _Origin(self.user_id, self.channel_id)
        self._origins[url] = origin
        response = self.client.command(
            command,
            self._escaped(args.strip()),
            user_id=self.user_id,
            channel_id=self.channel_id,
            response_url=url,
        )
        self._settle(response, origin)

    def _escaped(self, text: str) -> str:
        """``@name`` of someone here as Slack sends it for a command that escapes its text."""

        def mention(found: re.Match[str]) -> str:
            wanted = found.group(1).casefold()
            user = next((u for u in self.workspace.users if u.name.casefold() == wanted), None)
            return f"<@{user.id}|{user.name}>" if user is not None else found.group(0)

        return re.sub(r"(?<![<\w])@([\w.-]+)", mention, text)

    def _later(self) -> None:
        """Time passes: every change, reminder and grace period waiting for a later time
        comes due now, and the app's timed work runs as it would then.
        """
        app = self.workspace.app
        if app is None:
            raise StepFailed("the app is not running")
        now = datetime.now(UTC)
        waiting = [job for kind in _LATER_KINDS for job in app.core.jobs.waiting(kind)]
        for job in waiting:
            app.core.jobs.due_now(job.key, now=now)
        self._note(f"(time passes: {len(waiting)} timed job(s) come due)")
        app.run_schedule()
        self.workspace.drain()
        self._flush()

    def _home(self) -> None:
        """Open sarvbot's Home tab as Slack would (app_home_opened), and show the view."""
        response = self.client.event(
            {"type": "app_home_opened", "user": self.user_id, "tab": "home"}
        )
        if response.status_code != 200:
            self._note(f"(sarvbot answered HTTP {response.status_code})")
        self.workspace.drain()
        self._flush()
        view = self.slack.home_view(self.user_id)
        if view is None:
            raise StepFailed("sarvbot published no Home tab")
        self.console.print(
            self.style.dim(f"── sarvbot's Home tab, as {self._user_name(self.user_id)} sees it ──")
        )
        for line in message_lines(view, self.names, self.style):
            self.console.print("  " + line)

    def _click(self, text: str) -> None:
        words = text.split()
        number: int | None = None
        if len(words) > 1 and words[-1].isdigit():
            number = int(words.pop())
        label = " ".join(words).strip("[]").strip()
        if not label:
            raise StepFailed("say which button: :click Approve, or :click Approve 3")
        candidates = [s for s in reversed(self._shown) if not s.deleted and self._sees(s)]
        if number is not None:
            candidates = [s for s in candidates if s.number == number]
            if not candidates:
                raise StepFailed(f"{self._user_name(self.user_id)} sees no message [{number}]")
        for shown in candidates:
            button = _find_button(buttons_of(shown.message), label)
            if button is not None:
                break
        else:
            where = f"message [{number}]" if number is not None else "any message you can see"
            raise StepFailed(f"{where} has no [{label}] button")
        ephemeral = shown.ephemeral_for is not None
        url = self.slack.new_response_url(
            channel_id=None if ephemeral else shown.channel_id, message_ts=shown.ts
        )
        origin = _Origin(self.user_id, shown.channel_id, shown)
        self._origins[url] = origin
        message = dict(shown.message, ts=shown.ts)
        if not ephemeral and shown.ts is not None:
            message = self.slack.messages.get((shown.channel_id, shown.ts), message)
        response = self.client.click(
            button.action_id,
            user_id=self.user_id,
            value=button.value,
            message=message,
            channel_id=shown.channel_id,
            ephemeral=ephemeral,
            response_url=url,
        )
        self._settle(response, origin)

    def _settle(self, response: requests.Response, origin: _Origin) -> None:
        """Show the app's immediate answer, wait for its work, then show what it sent."""
        if response.status_code != 200:
            self._note(f"(sarvbot answered HTTP {response.status_code})")
        body = _json(response)
        if body.get("text") or body.get("blocks"):
            self._show(self._add(origin.channel_id, None, body, ephemeral_for=origin.user_id))
        self.workspace.drain()
        self._flush()

    # -- modals ------------------------------------------------------------------------

    def _fill_opened_modals(self) -> None:
        while self._opened:
            view = self.slack.views.get(self._opened.pop(0))
            if view is not None:
                self._fill(view)

    def _fill(self, view: dict[str, Any]) -> None:
        for line in modal_lines(view, self.names, self.style):
            self.console.print("  │ " + line)
        fields = modal_fields(view)
        if not fields or not view.get("submit"):
            self._note("  (nothing to fill in; the modal is closed)")
            return
        values: dict[str, str | None] = {f.block_id: f.initial for f in fields}
        asking = fields
        while True:
            try:
                for field in asking:
                    values[field.block_id] = self._ask(field, values[field.block_id])
            except _Cancelled as exc:
                self._note("  (modal closed without submitting)")
                if view.get("notify_on_close"):
                    self.client.close_view(view, user_id=self.user_id)
                    self.workspace.drain()
                    self._flush()
                if exc.args:
                    raise StepFailed(str(exc.args[0])) from None
                return
            state = {f.block_id: {f.action_id: values[f.block_id]} for f in fields}
            response = self.client.submit_view(view, state, user_id=self.user_id)
            body = _json(response)
            if body.get("response_action") != "errors":
                self.workspace.drain()
                self._flush()
                return
            errors = body.get("errors") or {}
            labels = {f.block_id: f.label for f in fields}
            for block_id, message in errors.items():
                self.console.print(
                    self.style.bad(f"  ! {labels.get(block_id, block_id)}: ") + str(message)
                )
            asking = [f for f in fields if f.block_id in errors]
            if not asking:
                self._note("  (this form cannot be fixed from here; the modal is closed)")
                return

    def _ask(self, field: Field, current: str | None) -> str | None:
        if field.options:
            choices = " / ".join(f"{n}. {label}" for n, (label, _) in enumerate(field.options, 1))
            self.console.print(self.style.dim(f"  {field.label}: {choices}"))
        shown = field.shown(current)
        prompt = f"  {field.label}{' (optional)' if field.optional else ''}"
        prompt += f" [{shown}]: " if shown else ": "
        while True:
            try:
                line = self.console.read(prompt, skip_blank=False)
            except KeyboardInterrupt:
                if not self.console.interactive:
                    raise
                self.console.print()
                raise _Cancelled from None  # Ctrl-C in a modal is its Cancel button
            if line is None:
                raise _Cancelled
            answer = line.strip()
            if answer == ":cancel":
                raise _Cancelled
            if answer.startswith(":") or (answer.startswith("/") and not self.console.interactive):
                if self.console.interactive:
                    self.console.print(
                        self.style.bad("  ! Answer the field, or :cancel the modal.")
                    )
                    continue
                # A script that lost count of a modal's fields: stop rather than feed it steps.
                self.console.unread(line)
                raise _Cancelled("the modal still wanted answers when the script went on")
            if not answer:
                if current:
                    return current
                if field.optional:
                    return None
                self.console.print(self.style.bad("  ! Please complete this required field."))
                continue
            if field.options:
                chosen = field.choose(answer)
                if chosen is not None:
                    return chosen
                names = ", ".join(label for label, _ in field.options)
                self.console.print(self.style.bad(f"  ! Choose one of: {names}."))
                continue
            if field.max_length is not None and len(answer) > field.max_length:
                # Slack's own client stops longer input before the app sees it.
                self.console.print(
                    self.style.bad(f"  ! At most {field.max_length} characters, please.")
                )
                continue
            return answer

    # -- what Slack shows --------------------------------------------------------------

    def _record(self, item: Recorded) -> None:
        # Called on the stand-in's request threads: only collect here.
        with self._lock:
            self._recorded.append(item)

    def _flush(self) -> None:
        with self._lock:
            items, self._recorded = self._recorded, []
        items.sort(key=lambda item: item.at)
        # Of several updates to one message in a step, the last one says it all.
        last_update = {
            _update_key(item): index for index, item in enumerate(items) if _update_key(item)
        }
        for index, item in enumerate(items):
            key = _update_key(item)
            if key is not None and last_update[key] != index:
                continue
            if isinstance(item, ApiCall):
                self._on_call(item)
            else:
                self._on_post(item)

    def _on_call(self, call: ApiCall) -> None:
        method, args = call.method, call.args
        if not call.ok:
            if method.startswith(("chat.", "views.")):
                self._note(f"(Slack refused {method}: {call.error})")
            return
        if method == "chat.postMessage":
            channel = str(call.response.get("channel"))
            posted = self._add(channel, str(call.response.get("ts")), args)
            parent = self._by_key.get((channel, str(args.get("thread_ts"))))
            if args.get("thread_ts") and parent is not None:
                posted.thread_of = parent.number
            self._show(posted)
        elif method == "chat.postEphemeral":
            user = str(args.get("user"))
            channel = str(args.get("channel"))
            if not channel.startswith(("C", "G", "D")):
                channel = self.slack.im_channel_id(channel)
            ts = str(call.response.get("message_ts"))
            self._show(self._add(channel, ts, args, ephemeral_for=user))
        elif method == "chat.update":
            shown = self._by_key.get((str(args.get("channel")), str(args.get("ts"))))
            if shown is not None:
                shown.message = _message_of(args)
                self._show(shown, updated=True)
        elif method == "views.open":
            view = call.response.get("view") or {}
            self._opened.append(str(view.get("id")))

    def _on_post(self, post: ResponsePost) -> None:
        origin = self._origins.get(post.url) or _Origin(self.user_id, self.channel_id)
        source, body = origin.shown, post.body
        if source is not None and post.delete_original:
            source.deleted = True
            self.console.print(self.style.bold(f"[{source.number}]") + " deleted")
            return
        if source is not None and post.replace_original:
            source.message = _message_of(body)
            self._show(source, updated=True)
            return
        if post.delete_original:
            return
        channel = source.channel_id if source is not None else origin.channel_id
        in_channel = body.get("response_type") == "in_channel"
        ephemeral_for = None if in_channel else origin.user_id
        self._show(self._add(channel, None, body, ephemeral_for=ephemeral_for))

    def _add(
        self,
        channel_id: str,
        ts: str | None,
        source: dict[str, Any],
        *,
        ephemeral_for: str | None = None,
    ) -> Shown:
        shown = Shown(len(self._shown) + 1, channel_id, ts, _message_of(source), ephemeral_for)
        self._shown.append(shown)
        if ts is not None and ephemeral_for is None:
            self._by_key[(channel_id, ts)] = shown
        return shown

    def _show(self, shown: Shown, *, updated: bool = False) -> None:
        lines = message_lines(shown.message, self.names, self.style)
        number = self.style.bold(f"[{shown.number}]")
        if updated:
            head = f"{number} updated:"
        else:
            where = self._place(shown.channel_id)
            if shown.thread_of is not None:
                where += f", thread of [{shown.thread_of}]"
            reader = shown.ephemeral_for
            if reader is None and shown.channel_id.startswith("D"):
                reader = self._im_user(shown.channel_id)
            tag = ""
            if reader is not None:
                who = "you" if reader == self.user_id else "@" + self._user_name(reader)
                tag = f" (only visible to {who})"
            head = f"{number} {self.style.note(where)}  sarvbot{self.style.note(tag)}:"
        first, *rest = lines or [""]
        self.console.print(f"{head} {first}".rstrip())
        for line in rest:
            self.console.print((_INDENT + line).rstrip())

    def _note(self, text: str) -> None:
        self.console.print(self.style.dim(text))

    # -- names -------------------------------------------------------------------------

    def _sees(self, shown: Shown) -> bool:
        if shown.ephemeral_for is not None:
            return shown.ephemeral_for == self.user_id
        if shown.channel_id.startswith("D"):
            return self._im_user(shown.channel_id) == self.user_id
        try:
            return self.user_id in self.slack.channel(shown.channel_id).members
        except KeyError:
            return False

    def _im_user(self, channel_id: str) -> str | None:
        for user in self.workspace.users:
            if self.slack.im_channel_id(user.id) == channel_id:
                return user.id
        return None

    def _place(self, channel_id: str) -> str:
        if channel_id.startswith("D"):
            user = self._im_user(channel_id)
            return f"DM @{self._user_name(user)}" if user else "DM"
        return "#" + self._channel_name(channel_id)

    def _user_name(self, user_id: str) -> str:
        try:
            return self.slack.user(user_id).name
        except KeyError:
            return user_id

    def _channel_name(self, channel_id: str) -> str:
        try:
            return self.slack.channel(channel_id).name
        except KeyError:
            return channel_id


def _update_key(item: Recorded) -> tuple[str, str] | None:
    if isinstance(item, ApiCall) and item.method == "chat.update" and item.ok:
        return str(item.args.get("channel")), str(item.args.get("ts"))
    return None


def _find_button(buttons: list[Button], label: str) -> Button | None:
    wanted = label.casefold()
    exact = [b for b in buttons if b.label.casefold() == wanted]
    prefix = [b for b in buttons if b.label.casefold().startswith(wanted)]
    found = exact or prefix
    return found[0] if found else None


def run_session(policy: str | None, console: Console, tmp: Path) -> int:
    """Set up the workspace in ``tmp``, start it, run the session and stop everything."""
    try:
        setup = demo_setup(f"sqlite:///{tmp / 'sarvbot.db'}", policy)
    except PolicyError as exc:
        print(f"sarvbot demo: {exc}", file=sys.stderr)
        return 2
    workspace = setup.workspace
    try:
        workspace.start()
        session = DemoSession(workspace, console, setup.user_id, setup.channel_id)
        try:
            console.print(
                console.style.bold("sarvbot demo")
                + ": the real app, a stand-in Slack and a Sarv sandbox, on this machine."
            )
            console.print(setup.about)
            console.print("Type /smtp help, or :help for the demo's own commands.")
            return session.run()
        finally:
            session.close()
    except KeyboardInterrupt:
        console.print()
        return 130
    except Exception as exc:
        print(f"sarvbot demo: {_one_line(exc)}", file=sys.stderr)
        return 1
    finally:
        with contextlib.suppress(Exception):
            workspace.stop()
