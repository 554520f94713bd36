"""``sarvbot audit export``: the whole audit log, streamed, as JSON lines or CSV."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert

from sarvbot.store import Database
from sarvbot.store.models import AuditEventRow
from tests.support import SARVBOT, clean_environ, run_sarvbot

START = datetime(2026, 1, 1, tzinfo=UTC)


def fill(url: str, rows: int) -> None:
    """``rows`` audit events, one a second from START, in one transaction."""
    database = Database(url)
    database.upgrade()
    values = [
        {
            "at": START + timedelta(seconds=i),
            "actor_id": "U0BOB",
            "channel_id": "C0OPS",
            "action": "reset",
            "outcome": "done",
            "target": f"smtp{i % 90000 + 10000}",
            "detail": "a reason, with a comma",
        }
        for i in range(rows)
    ]
    with database.transaction() as connection:
        connection.execute(insert(AuditEventRow), values)
    database.dispose()


# Runs the export and reports the process's own peak memory (KiB) on its last stderr line.
_MEASURED = (
    "import resource, sys\n"
    "from sarvbot.cli import main\n"
    "status = main(sys.argv[1:])\n"
    "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)\n"
    "sys.exit(status)\n"
)


def export(url: str, *args: str) -> tuple[str, int]:
    """Run the export in a process of its own; its output and its peak memory in KiB."""
    result = run_sarvbot(
        ["audit", "export", *args],
        {"DATABASE_URL": url},
        python=("-c", _MEASURED),
        timeout=120,
        check=True,
    )
    return result.stdout, int(result.stderr.strip().splitlines()[-1])


def test_a_hundred_thousand_rows_stream_in_constant_memory(tmp_path: Path) -> None:
    small, large = f"sqlite:///{tmp_path / 'small.db'}", f"sqlite:///{tmp_path / 'large.db'}"
    fill(small, 1_000)
    fill(large, 100_000)
    small_out, small_peak = export(small)
    large_out, large_peak = export(large)
    assert len(small_out.splitlines()) == 1_000
    lines = large_out.splitlines()
    assert len(lines) == 100_000
    first, last = json.loads(lines[0]), json.loads(lines[-1])
    assert first["at"] == START.isoformat()
    assert last["id"] == 100_000
    # A hundred times the rows; the memory stays that of reading one batch.
    assert large_peak - small_peak < 20 * 1024, (small_peak, large_peak)


def test_since_and_csv(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'a.db'}"
    fill(url, 500)
    out, _ = export(url, "--since", "2026-01-01T00:05:00", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert len(rows) == 500 - 300
    assert rows[0]["at"] == (START + timedelta(minutes=5)).isoformat()
    assert rows[0]["detail"] == "a reason, with a comma"
    assert list(rows[0]) == [
        "id",
        "at",
        "actor_id",
        "channel_id",
        "action",
        "outcome",
        "target",
        "error",
        "rule",
        "request_id",
        "detail",
    ]


def test_bad_since_is_one_clear_line(tmp_path: Path) -> None:
    result = run_export(f"sqlite:///{tmp_path / 'a.db'}", "--since", "last week")
    assert result.returncode == 2
    assert "not a date: 'last week'" in result.stderr
    assert "Traceback" not in result.stderr


def run_export(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    """``sarvbot audit export`` in a process of its own, whatever its exit status."""
    return run_sarvbot(["audit", "export", *args], {"DATABASE_URL": url})


def test_export_into_a_pipe_closed_early_ends_without_a_traceback(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'a.db'}"
    fill(url, 5_000)
    for output in ("jsonl", "csv"):
        # `sarvbot audit export | head -1`: the reader goes away after one line.
        process = subprocess.Popen(
            [sys.executable, *SARVBOT, "audit", "export", "--format", output],
            env=clean_environ({"DATABASE_URL": url}),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        assert process.stdout is not None
        assert process.stderr is not None
        assert process.stdout.readline()
        process.stdout.close()
        stderr = process.stderr.read().decode()
        process.wait(timeout=60)
        assert stderr == "", stderr


def test_export_of_a_database_never_upgraded_is_one_clear_line(database_url: str) -> None:
    result = run_export(database_url)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    (line,) = result.stderr.splitlines()
    assert "sarvbot db upgrade" in line


def test_since_beyond_the_calendar_is_one_clear_line(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'a.db'}"
    fill(url, 10)
    for since in ("0001-01-01T00:00+05:00", "9999-12-31T23:59:59-05:00"):
        result = run_export(url, "--since", since)
        assert result.returncode == 2, result.stderr
        assert "Traceback" not in result.stderr
        assert f"not a date: {since!r}" in result.stderr


def test_csv_cells_a_spreadsheet_would_run_as_formulas_are_text(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'a.db'}"
    database = Database(url)
    database.upgrade()
    typed = ['=HYPERLINK("http://evil.example","x")', "+1+cmd|' /C calc'!A0", "@SUM(A1)", "-2+3"]
    with database.transaction() as connection:
        connection.execute(
            insert(AuditEventRow),
            [
                {
                    "at": START,
                    "actor_id": "U0BOB",
                    "channel_id": "C0OPS",
                    "action": "disable",
                    "outcome": "done",
                    "target": "smtp10001",
                    "detail": reason,
                }
                for reason in typed
            ],
        )
    database.dispose()
    out, _ = export(url, "--format", "csv")
    details = [row["detail"] for row in csv.DictReader(io.StringIO(out))]
    assert details == ["'" + reason for reason in typed]
    # JSON lines carry what was typed, untouched.
    out, _ = export(url)
    assert [json.loads(line)["detail"] for line in out.splitlines()] == typed


def test_export_takes_database_url_from_dotenv_and_needs_nothing_else(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'a.db'}"
    fill(url, 3)
    (tmp_path / ".env").write_text(f"DATABASE_URL={url}\n", encoding="utf-8")
    # No DATABASE_URL, and nothing of Slack's or Sarv's, in the environment.
    result = run_sarvbot(["audit", "export"], cwd=tmp_path, check=True)
    assert [json.loads(line)["id"] for line in result.stdout.splitlines()] == [1, 2, 3]
