"""Many people at once: lists share one Sarv call; a full queue answers "busy" at once."""

from __future__ import annotations

from pathlib import Path

from sarvbot.standin.workspace import BOB, OPS, LocalWorkspace
from tests.support import race


def _fire(workspace: LocalWorkspace, count: int, text: str) -> list[int]:
    client = workspace.client()
    statuses = race(
        count, lambda _: client.command("/smtp", text, user_id=BOB, channel_id=OPS).status_code
    )
    workspace.drain()
    client.close()
    return statuses


def test_people_listing_at_once_share_one_sarv_call(tmp_path: Path) -> None:
    with LocalWorkspace(f"sqlite:///{tmp_path / 'db.sqlite'}", sandbox_latency=0.5) as workspace:
        workspace.sandbox.seed_users(40)
        assert _fire(workspace, 20, "list") == [200] * 20
        replies = [p for p in workspace.slack.posts if "SMTP users" in str(p.body.get("text"))]
        assert len(replies) == 20
        assert len(workspace.sandbox.calls_to("settings/listSmtp")) <= 4


def test_a_full_queue_answers_busy_at_once_and_loses_nothing(tmp_path: Path) -> None:
    with LocalWorkspace(
        f"sqlite:///{tmp_path / 'db.sqlite'}", sandbox_latency=0.3, workers=1
    ) as workspace:
        for index in range(12):
            workspace.sandbox.add_user(name=f"smtp6{index:04d}")
        client = workspace.client()

        def disable(index: int) -> str:
            text = f"disable smtp6{index:04d}"
            return client.command("/smtp", text, user_id=BOB, channel_id=OPS).text

        acks = race(12, disable)
        workspace.drain()
        # Turned away in the ack itself (a slash command's reply), without waiting.
        texts = acks + [str(p.body.get("text")) for p in workspace.slack.posts]
        busy = [t for t in texts if "sarvbot is busy right now" in t]
        disabled = [u for u in workspace.sandbox.users.values() if u.status == "Disable"]
        # Every command was either done (and announced) or turned away with a message.
        announced = [
            c for c in workspace.slack.calls_to("chat.postMessage") if "disabled" in c.args["text"]
        ]
        assert len(busy) >= 4
        assert len(disabled) == len(announced) == 12 - len(busy)
        client.close()
