"""The demo's workspace: people, channels, a policy and a few SMTP users to look at."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sarvbot.policy import Policy, load_policy
from sarvbot.standin import SlackChannel, SlackUser
from sarvbot.standin.workspace import (
    ALICE,
    APPROVALS,
    BOB,
    CAROL,
    DEMO_POLICY,
    DEV,
    GUEST,
    OPS,
    LocalWorkspace,
)

__all__ = ["DemoSetup", "demo_setup"]

# Friendly names for the demo's own channel IDs, should a policy file reuse them.
_CHANNEL_NAMES = {OPS: "ops", DEV: "dev", APPROVALS: "ops-approvals", "C0GENERAL": "general"}
# (total, hourly, status): enough variety for /smtp list to be worth a look.
# The demo's own policy: bob and carol decide requests, and hear of one left waiting.
_TOUR_POLICY = DEMO_POLICY.replace(
    "expire_after_hours = 24",
    f'expire_after_hours = 24\napprovers = ["{BOB}", "{CAROL}"]\nremind_after = "4h"',
)

_SEEDED = {
    "smtp10001": (5000, 200, "Enable"),
    "smtp10002": (1000, 100, "Enable"),
    "smtp10003": (20000, 1000, "Enable"),
    "smtp10004": (500, 50, "Disable"),
}


@dataclass(frozen=True)
class DemoSetup:
    """What to start, and where the person at the keyboard begins."""

    workspace: LocalWorkspace
    user_id: str
    channel_id: str
    about: str  # one paragraph for the banner


def demo_setup(database_url: str, policy_path: str | None = None) -> DemoSetup:
    """The built-in workspace, or one shaped by the permissions file at ``policy_path``.

    Raises PolicyError (its message names the file and line) for a bad file.
    """
    people = [SlackUser(ALICE, "alice"), SlackUser(BOB, "bob"), SlackUser(CAROL, "carol")]
    everyone = {p.id for p in people}
    if policy_path is None:
        channels = [
            SlackChannel(OPS, "ops", set(everyone)),
            SlackChannel(DEV, "dev", everyone | {GUEST}),
            SlackChannel(APPROVALS, "ops-approvals", set(everyone)),
        ]
        workspace = LocalWorkspace(
            database_url,
            policy_text=_TOUR_POLICY,
            users=[*people, SlackUser(GUEST, "gus", guest=True)],
            channels=channels,
        )
        about = (
            "People: alice (a developer), bob and carol (ops), gus (a guest in #dev). "
            "#ops may do everything, #dev may list and request changes, "
            "requests are approved in #ops-approvals by bob or carol, who are reminded "
            "of one left waiting for 4 hours."
        )
        _seed(workspace)
        return DemoSetup(workspace, ALICE, DEV, about)

    policy = load_policy(policy_path)
    text = Path(policy_path).read_text(encoding="utf-8")
    channel_ids = list(policy.channels)
    if policy.approvals is not None and policy.approvals.channel_id not in channel_ids:
        channel_ids.append(policy.approvals.channel_id)
    if not channel_ids:
        channel_ids = ["C0GENERAL"]  # somewhere to stand, where the policy allows nothing
    approvers, groups = _approvers(policy, everyone)
    members = everyone | {a.id for a in approvers}
    channels = [
        SlackChannel(cid, _CHANNEL_NAMES.get(cid, cid.lower()), set(members)) for cid in channel_ids
    ]
    workspace = LocalWorkspace(
        database_url,
        policy_text=text,
        users=[*people, *approvers],
        channels=channels,
        usergroups=groups,
    )
    _seed(workspace)
    names = ", ".join("#" + c.name for c in channels) or "none"
    extra = ", ".join(a.name for a in approvers)
    about = f"Policy {policy_path}. Channels: {names}. People: alice, bob, carol" + (
        f", {extra}." if extra else "."
    )
    if groups:
        about += " User groups " + ", ".join(groups) + " hold bob and carol."
    start = next(
        (c for c in channel_ids if policy.approvals is None or c != policy.approvals.channel_id),
        channel_ids[0],
    )
    return DemoSetup(workspace, ALICE, start, about)


def _approvers(policy: Policy, known: set[str]) -> tuple[list[SlackUser], dict[str, list[str]]]:
    """People and user groups the policy names as approvers, so they can be played too."""
    if policy.approvals is None:
        return [], {}
    users = [
        SlackUser(uid, uid.lower())
        for uid in sorted(policy.approvals.approver_users)
        if uid not in known
    ]
    groups = {gid: [BOB, CAROL] for gid in sorted(policy.approvals.approver_groups)}
    return users, groups


def _seed(workspace: LocalWorkspace) -> None:
    for name, (total, hourly, status) in _SEEDED.items():
        workspace.sandbox.add_user(total, hourly, name=name, status=status)
