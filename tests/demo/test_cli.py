"""``sarvbot demo`` as a process: the example script runs clean, with nothing on stderr."""

from __future__ import annotations

from pathlib import Path

from tests.support import run_sarvbot

ROOT = Path(__file__).resolve().parents[2]


def test_tour_script_runs_with_a_clean_transcript() -> None:
    with (ROOT / "docs" / "demo-steps.txt").open(encoding="utf-8") as steps:
        done = run_sarvbot(["demo"], cwd=ROOT, stdin=steps)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stderr == ""
    lines = done.stdout.splitlines()
    assert "bob@#ops-approvals> :click Approve" in lines
    refused = " #ops-approvals  sarvbot (only visible to you): You cannot decide your own request."
    assert any(line.startswith("[") and line.endswith(refused) for line in lines)
    assert "\x1b[" not in done.stdout  # no colour when stdout is not a terminal
    assert "Traceback" not in done.stdout


def test_a_bad_line_gives_a_non_zero_exit() -> None:
    done = run_sarvbot(["demo"], cwd=ROOT, input="/smtp list\n:nope\n")
    assert done.returncode == 1
    assert "error: unknown demo command :nope" in done.stdout
    assert done.stderr == ""
