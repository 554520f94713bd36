"""sarvbot as an adopter gets it: built, installed from the wheel into a fresh virtualenv,
and run from an empty directory with no checkout in sight.

The build goes through ``python -m build``, which makes the sdist and then the wheel from
that sdist, so a file the sdist forgets is missing from the wheel too. The wheel's
dependencies come from the package index pip is configured with, as for any install.
Building and installing take about 15 s; the whole module about 20 s.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
import threading
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from sarvbot.standin import ApiCall, ResponsePost, SlackAppClient
from sarvbot.standin.workspace import ALICE, DEV, LocalWorkspace
from tests.support import free_port, wait_healthy, write_policy

ROOT = Path(__file__).resolve().parents[1]
# What is not part of the source: caches, virtualenvs, earlier builds.
_NOT_SOURCE = shutil.ignore_patterns(
    ".git",
    ".venv",
    ".pg",
    "build",
    "dist",
    "*.egg-info",
    "__pycache__",
    ".*_cache",
    ".hypothesis",
    "*.db",
    "*.db-*",
    ".env",
)
_MIGRATIONS = sorted(path.name for path in (ROOT / "migrations" / "versions").glob("*.py"))

pytestmark = pytest.mark.timeout(240)


@dataclass
class Installed:
    """A virtualenv holding the sarvbot wheel, and an empty directory to run it in."""

    venv: Path
    workdir: Path
    sdist: Path
    wheel: Path

    @property
    def sarvbot(self) -> str:
        """The installed console script."""
        return str(self.venv / "bin" / "sarvbot")

    def env(self, **extra: str) -> dict[str, str]:
        """A clean environment: nothing points back at the checkout or its virtualenv."""
        env = {
            key: value
            for key, value in os.environ.items()
            if key not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")
            and not key.startswith(("SARV", "SLACK_", "DATABASE_URL"))
        }
        env["PATH"] = f"{self.venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
        env["VIRTUAL_ENV"] = str(self.venv)
        env["HOME"] = str(self.workdir.parent / "home")
        return {**env, **extra}

    def run(
        self, *args: str, input: str | None = None, **env: str
    ) -> subprocess.CompletedProcess[str]:
        """Run ``sarvbot ARGS`` in the empty directory."""
        return subprocess.run(
            [self.sarvbot, *args],
            cwd=self.workdir,
            env=self.env(**env),
            input=input,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )


def _pip(python: Path, *args: str) -> None:
    subprocess.run(
        [str(python), "-m", "pip", "--disable-pip-version-check", "--no-input", *args],
        check=True,
        capture_output=True,
        text=True,
        timeout=180,
    )


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    base = tmp_path_factory.mktemp("wheel")
    # Built from a copy, so the build leaves nothing (egg-info, build/) in the checkout.
    source = base / "source"
    shutil.copytree(ROOT, source, ignore=_NOT_SOURCE)
    dist = base / "dist"
    build = subprocess.run(
        [sys.executable, "-m", "build", "--outdir", str(dist), str(source)],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    (sdist,) = dist.glob("sarvbot-*.tar.gz")
    (wheel,) = dist.glob("sarvbot-*.whl")

    venv = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    _pip(venv / "bin" / "python", "install", "--quiet", str(wheel))
    workdir = base / "empty"
    workdir.mkdir()
    (base / "home").mkdir()
    return Installed(venv=venv, workdir=workdir, sdist=sdist, wheel=wheel)


def test_wheel_carries_the_migrations_inside_the_package(installed: Installed) -> None:
    with zipfile.ZipFile(installed.wheel) as wheel:
        names = set(wheel.namelist())
    assert "sarvbot/migrations/env.py" in names
    assert "sarvbot/migrations/script.py.mako" in names
    for migration in _MIGRATIONS:
        assert f"sarvbot/migrations/versions/{migration}" in names
    assert not any(name.startswith(("migrations/", "tests/")) for name in names)


def test_wheel_carries_every_subpackage(installed: Installed) -> None:
    with zipfile.ZipFile(installed.wheel) as wheel:
        names = set(wheel.namelist())
    for init in (ROOT / "sarvbot").rglob("__init__.py"):
        assert init.relative_to(ROOT).as_posix() in names


def test_sdist_carries_the_migrations_and_no_tests(installed: Installed) -> None:
    with tarfile.open(installed.sdist) as sdist:
        names = {name.split("/", 1)[1] for name in sdist.getnames() if "/" in name}
    for migration in _MIGRATIONS:
        assert f"migrations/versions/{migration}" in names
    for kept in ("migrations/env.py", "alembic.ini", ".env.example", "sarvbot.toml.example"):
        assert kept in names
    assert "docs/demo-steps.txt" in names
    # The tests need the checkout's stand-ins, PostgreSQL and the dev extras: not shipped.
    assert not any(name.startswith("tests/") for name in names)


def test_installed_sarvbot_is_the_wheel_not_the_checkout(installed: Installed) -> None:
    found = subprocess.run(
        [str(installed.venv / "bin" / "python"), "-c", "import sarvbot; print(sarvbot.__file__)"],
        cwd=installed.workdir,
        env=installed.env(),
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    assert Path(found.stdout.strip()).is_relative_to(installed.venv)


def test_installed_wheel_upgrades_an_empty_sqlite_database(installed: Installed) -> None:
    database = installed.workdir / "upgraded.db"
    url = f"sqlite:///{database}"
    upgraded = installed.run("db", "upgrade", DATABASE_URL=url)
    assert upgraded.returncode == 0, upgraded.stderr
    assert "up to date" in upgraded.stdout
    assert "Traceback" not in upgraded.stderr
    current = installed.run("db", "current", DATABASE_URL=url)
    assert current.returncode == 0, current.stderr
    assert "up to date" in current.stdout


def test_installed_wheel_runs_the_demo_from_a_script(installed: Installed) -> None:
    script = "/smtp whoami\n/smtp list\n:as bob\n:in #ops\n/smtp show smtp10001\n"
    demo = installed.run("demo", input=script)
    assert demo.returncode == 0, demo.stdout[-2000:] + demo.stderr[-2000:]
    assert "smtp10001" in demo.stdout
    assert "Traceback" not in demo.stdout + demo.stderr


@pytest.fixture
def workspace(installed: Installed) -> Iterator[LocalWorkspace]:
    database = installed.workdir / "served.db"
    with LocalWorkspace(f"sqlite:///{database}") as workspace:
        yield workspace


def test_installed_wheel_serves_until_healthz_answers_and_takes_a_command(
    installed: Installed, workspace: LocalWorkspace
) -> None:
    policy = write_policy(installed.workdir)
    port = free_port()
    argv = [installed.sarvbot, "serve", "--host", "127.0.0.1", "--port", str(port)]
    answered = threading.Event()

    def observe(record: ApiCall | ResponsePost) -> None:
        if isinstance(record, ResponsePost) and "smtp77001" in str(record.body):
            answered.set()

    workspace.slack.subscribe(observe)
    workspace.sandbox.add_user(name="smtp77001")
    process = subprocess.Popen(
        [*argv, "--workers", "1", "--threads", "4"],
        cwd=installed.workdir,
        env=installed.env(**workspace.environ(), SARVBOT_POLICY=str(policy)),
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_healthy(process, f"http://127.0.0.1:{port}/healthz")
        url = f"http://127.0.0.1:{port}/slack/events"
        client = SlackAppClient(url, workspace.signing_secret, slack=workspace.slack)
        ack = client.command("/smtp", "list", user_id=ALICE, channel_id=DEV)
        assert ack.status_code == 200
        assert answered.wait(30), "the served app never answered /smtp list"
    finally:
        process.terminate()
        _, stderr = process.communicate(timeout=60)
    assert "Traceback" not in stderr
    # The start-up schema check is silent: no Alembic INFO lines on every start.
    assert "alembic" not in stderr
