"""DATABASE_URL as people write it: Heroku's postgres://, secrets in the query, typos.

Every PostgreSQL spelling runs on psycopg; a URL that cannot be used is one line from the
command, never a traceback; and no password, in the user part or in the query, is ever
printed, whether the database is up to date, behind or gone.
"""

from __future__ import annotations

import re
import traceback
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import Engine
from sqlalchemy.engine import make_url

from sarvbot.store import Database, DatabaseUnavailable
from sarvbot.store.database import migrations_dir
from sarvbot.store.errors import DatabaseUrlError
from tests.db_fixtures import _fresh_postgres_database
from tests.support import GOOD_ENV, free_port, run_sarvbot, write_policy

ROOT = Path(__file__).resolve().parents[1]

SECRET = "hunter2-Query+Secret/42"  # changed by URL encoding in every way it can be
ENCODED_SECRET = "hunter2-Query%2BSecret%2F42"
LOG_RECORD = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ INFO ")
BAD_URLS = [
    pytest.param("not a url", id="not-a-url"),
    pytest.param(f"postgresql://sarvbot:{SECRET}@db.example:port/sarvbot", id="bad-port"),
    pytest.param(f"mysql://sarvbot:{SECRET}@db.example/sarvbot", id="mysql"),
    pytest.param(f"postgresql+psycopg2://sarvbot:{SECRET}@db.example/sarvbot", id="psycopg2"),
    pytest.param(f"https://sarvbot:{SECRET}@db.example/", id="https"),
]


def with_query_secret(url: str) -> str:
    """``url`` with a libpq password in its query, URL-encoded as people paste it."""
    return f"{url}?sslmode=prefer&password={ENCODED_SECRET}"


@pytest.fixture
def postgres_database(postgres_admin_engine: Engine) -> Iterator[str]:
    """A new, empty database on the test server: its URL without a driver name."""
    for url in _fresh_postgres_database(postgres_admin_engine):
        yield url.split("://", 1)[1]


def said(stderr: str) -> list[str]:
    """What the command itself wrote to stderr, without INFO log records of libraries."""
    return [line for line in stderr.strip().splitlines() if not LOG_RECORD.match(line)]


def assert_never_shown(output: str) -> None:
    for form in (SECRET, ENCODED_SECRET, "hunter2"):
        assert form not in output


# 15: secrets in the URL are never printed


@pytest.mark.postgres
def test_db_current_masks_a_password_given_in_the_query(
    postgres_database: str, tmp_path: Path
) -> None:
    env = {"DATABASE_URL": with_query_secret(f"postgresql+psycopg://{postgres_database}")}
    upgraded = run_sarvbot(["db", "upgrade"], env, cwd=tmp_path)
    current = run_sarvbot(["db", "current"], env, cwd=tmp_path)
    assert upgraded.returncode == 0, upgraded.stderr
    assert current.returncode == 0, current.stderr
    assert "password=***" in current.stdout
    assert "up to date" in current.stdout
    assert_never_shown(upgraded.stdout + upgraded.stderr + current.stdout + current.stderr)


@pytest.mark.postgres
def test_serve_start_up_line_masks_a_password_given_in_the_query(
    postgres_database: str, tmp_path: Path
) -> None:
    policy = write_policy(tmp_path)
    url = with_query_secret(f"postgresql://{postgres_database}")
    env = {**GOOD_ENV, "SARVBOT_POLICY": str(policy), "DATABASE_URL": url}
    result = run_sarvbot(["serve"], env, cwd=tmp_path)  # never upgraded: serve refuses to start
    assert result.returncode == 2
    assert "sarvbot db upgrade" in result.stderr
    assert "password=***" in result.stderr
    assert_never_shown(result.stdout + result.stderr)


def test_sqlite_url_with_a_query_password_is_masked_by_db_current(tmp_path: Path) -> None:
    env = {"DATABASE_URL": with_query_secret(f"sqlite:///{tmp_path / 'x.db'}")}
    result = run_sarvbot(["db", "current"], env, cwd=tmp_path)
    assert result.returncode == 1  # never upgraded
    assert "revision none" in result.stdout
    assert_never_shown(result.stdout + result.stderr)


@pytest.mark.parametrize(
    "url",
    [
        pytest.param(with_query_secret("postgresql+psycopg://sarvbot@127.0.0.1:{port}/x"), id="q"),
        pytest.param(
            "postgresql://sarvbot@127.0.0.1:{port}/x?sslpassword=" + ENCODED_SECRET, id="ssl"
        ),
        pytest.param("postgres://sarvbot:" + ENCODED_SECRET + "@127.0.0.1:{port}/x", id="user"),
    ],
)
def test_gone_database_with_a_secret_in_its_url_never_says_it(url: str) -> None:
    database = Database(url.format(port=free_port()))
    try:
        with pytest.raises(DatabaseUnavailable) as raised:
            database.check_current()
        assert "database unavailable" in str(raised.value)
        assert_never_shown(str(raised.value) + repr(database) + database.safe_url)
    finally:
        database.dispose()


def test_safe_url_keeps_harmless_query_parameters() -> None:
    database = Database("postgresql://u:pw@db.example/app?sslmode=require&password=x&password=y")
    try:
        assert database.safe_url == (
            "postgresql+psycopg://u:***@db.example/app?password=***&password=***&sslmode=require"
        )
    finally:
        database.dispose()


# 16: every spelling of PostgreSQL works; anything else is one clear line


@pytest.mark.postgres
@pytest.mark.parametrize("scheme", ["postgres", "postgresql", "postgresql+psycopg"])
def test_heroku_postgres_scheme_runs_on_psycopg(
    postgres_database: str, tmp_path: Path, scheme: str
) -> None:
    env = {"DATABASE_URL": f"{scheme}://{postgres_database}"}
    upgraded = run_sarvbot(["db", "upgrade"], env, cwd=tmp_path)
    assert upgraded.returncode == 0, upgraded.stderr
    assert "up to date" in upgraded.stdout
    assert upgraded.stdout.startswith("postgresql+psycopg://")
    database = Database(env["DATABASE_URL"])
    try:
        assert database.engine.dialect.driver == "psycopg"
        database.check_current()
    finally:
        database.dispose()


@pytest.mark.parametrize("command", [["db", "current"], ["db", "upgrade"], ["serve"]])
@pytest.mark.parametrize("url", BAD_URLS)
def test_unusable_database_url_is_one_clear_line(
    tmp_path: Path, command: list[str], url: str
) -> None:
    policy = write_policy(tmp_path)
    env = {**GOOD_ENV, "SARVBOT_POLICY": str(policy), "DATABASE_URL": url}
    result = run_sarvbot(command, env, cwd=tmp_path)
    assert result.returncode == 2
    lines = said(result.stderr)
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"sarvbot {command[0]}: DATABASE_URL: ")
    assert "sqlite:///FILE or postgresql://USER:PASSWORD@HOST:PORT/NAME" in lines[0]
    assert_never_shown(result.stdout + result.stderr)


@pytest.mark.parametrize("url", BAD_URLS)
def test_unusable_database_url_raises_an_error_without_the_url(url: str) -> None:
    with pytest.raises(DatabaseUrlError) as raised:
        Database(url)
    # Nothing chained either: SQLAlchemy's own parse error repeats the whole URL.
    assert_never_shown("".join(traceback.format_exception(raised.value)))


# Blocks the psycopg import the way a missing extra does, then runs the command.
WITHOUT_PSYCOPG = [
    "-c",
    "import sys; sys.modules['psycopg'] = None; "
    "from sarvbot.cli import main; sys.exit(main(sys.argv[1:]))",
]


@pytest.mark.parametrize("scheme", ["postgres", "postgresql", "postgresql+psycopg"])
def test_postgresql_url_without_the_postgres_extra_says_what_to_install(
    tmp_path: Path, scheme: str
) -> None:
    env = {"DATABASE_URL": f"{scheme}://sarvbot:{ENCODED_SECRET}@db.example/sarvbot"}
    result = run_sarvbot(["db", "current"], env, cwd=tmp_path, python=WITHOUT_PSYCOPG)
    assert result.returncode == 2
    lines = said(result.stderr)
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("sarvbot db: DATABASE_URL: PostgreSQL needs the psycopg driver")
    assert lines[0].endswith("pip install 'sarvbot[postgres]'")
    assert_never_shown(result.stdout + result.stderr)


def test_sqlite_needs_no_extra(tmp_path: Path) -> None:
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}"}
    result = run_sarvbot(["db", "upgrade"], env, cwd=tmp_path, python=WITHOUT_PSYCOPG)
    assert result.returncode == 0, result.stderr
    assert make_url(result.stdout.split(": revision")[0]).get_backend_name() == "sqlite"


def test_alembic_migrates_the_url_it_is_given_not_the_environments(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    given, other = tmp_path / "given.db", tmp_path / "other.db"
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{other}")
    config = Config()
    config.set_main_option("script_location", str(migrations_dir()))
    config.set_main_option("sqlalchemy.url", f"sqlite:///{given}")
    command.upgrade(config, "head")
    database = Database(f"sqlite:///{given}")
    try:
        database.check_current()
    finally:
        database.dispose()
    assert not other.exists()


# The alembic command line, run with the checkout's alembic.ini.
ALEMBIC = ["-m", "alembic", "-c", str(ROOT / "alembic.ini")]


def test_alembic_from_the_checkout_migrates_the_database_sarvbot_db_would(
    tmp_path: Path,
) -> None:
    """DATABASE_URL as sarvbot reads it: the environment's, else the one in ./.env."""
    (tmp_path / ".env").write_text(f"DATABASE_URL=sqlite:///{tmp_path / 'dotenv.db'}\n")
    env = {"PYTHONPATH": str(ROOT)}
    from_dotenv = run_sarvbot(["upgrade", "head"], env, cwd=tmp_path, python=ALEMBIC)
    assert from_dotenv.returncode == 0, from_dotenv.stderr
    env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'env.db'}"
    from_env = run_sarvbot(["upgrade", "head"], env, cwd=tmp_path, python=ALEMBIC)
    assert from_env.returncode == 0, from_env.stderr
    for name in ("dotenv.db", "env.db"):
        current = run_sarvbot(
            ["db", "current"], {"DATABASE_URL": f"sqlite:///{tmp_path / name}"}, cwd=tmp_path
        )
        assert current.returncode == 0, current.stdout + current.stderr
        assert "up to date" in current.stdout
    assert not (tmp_path / "sarvbot.db").exists()


def test_alembic_from_the_checkout_without_a_url_migrates_nothing(tmp_path: Path) -> None:
    """No DATABASE_URL anywhere: stop and say so, never create ./sarvbot.db."""
    result = run_sarvbot(
        ["upgrade", "head"], {"PYTHONPATH": str(ROOT)}, cwd=tmp_path, python=ALEMBIC
    )
    assert result.returncode != 0
    assert "set DATABASE_URL to the database to migrate" in result.stderr
    assert list(tmp_path.iterdir()) == []
