"""Bad settings: every command exits 2 with one line naming the BRANDGATE_ variable, never a traceback."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from tests.hostile.cli import assert_refused, environment, run

COMMANDS = [
    ("audit", "verify"),
    ("kit", "validate", "acme"),
    ("brief", "validate", "tests/fixtures/briefs/acme_apples.yaml"),
    ("status", "0123456789abcdef"),
]

BAD_SETTINGS = [
    ("BRANDGATE_DATABASE_URL", "", "is empty"),
    ("BRANDGATE_QUEUE", "bogus", "'local' or 'celery'"),
    ("BRANDGATE_LOCAL_WORKERS", "0", "greater than or equal to 1"),
    ("BRANDGATE_MAX_IMAGE_BYTES", "-1", "greater than 0"),
    ("BRANDGATE_GPU_HOURLY_USD", "abc", "valid number"),
    ("BRANDGATE_SLACK_MANAGERS", "notjson", "JSON list"),
    ("BRANDGATE_LOG_FORMAT", "xml", "'json' or 'text'"),
]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c[:2]))
@pytest.mark.parametrize(("variable", "value", "mention"), BAD_SETTINGS, ids=[b[0] for b in BAD_SETTINGS])
def test_a_bad_setting_names_its_variable(
    tmp_path: Path, command: tuple[str, ...], variable: str, value: str, mention: str
) -> None:
    ran = run(*command, env=environment(tmp_path, **{variable: value}))
    assert_refused(ran, variable, mention)


def _not_a_database(tmp_path: Path) -> str:
    path = tmp_path / "notes.txt"
    path.write_text("these are not the tables you are looking for\n")
    return f"sqlite:///{path}"


@pytest.mark.parametrize(
    ("url", "mention"),
    [
        (lambda tmp: "postgresql+psycopg://postgres@127.0.0.1:99999/brandgate", "port 99999"),
        (lambda tmp: "nodriver://somewhere/db", "'nodriver' is not a database"),
        (lambda tmp: "postgresql+nosuchdriver://postgres@127.0.0.1/db", "no SQLAlchemy driver"),
        (_not_a_database, "is not an SQLite database file"),
        (lambda tmp: f"sqlite:///{tmp}", "is a folder"),
    ],
    ids=["bad-port", "bad-backend", "bad-driver", "not-a-database", "a-folder"],
)
@pytest.mark.parametrize("command", [("audit", "verify"), ("db", "upgrade"), ("status", "0123456789abcdef")],
                         ids=lambda c: " ".join(c[:2]))
def test_a_database_url_that_cannot_work_is_a_setting_error(
    tmp_path: Path, url: object, mention: str, command: tuple[str, ...]
) -> None:
    ran = run(*command, env=environment(tmp_path, BRANDGATE_DATABASE_URL=url(tmp_path)))  # type: ignore[operator]
    assert_refused(ran, "BRANDGATE_DATABASE_URL", mention)


def test_a_secret_setting_is_never_repeated(tmp_path: Path) -> None:
    ran = run("audit", "verify", env=environment(
        tmp_path, BRANDGATE_DATABASE_URL="postgresql+psycopg://user:hunter2@127.0.0.1:70000/db"))
    line = assert_refused(ran, "BRANDGATE_DATABASE_URL")
    assert "hunter2" not in ran.stderr, line


def test_the_sqlite_database_is_created_private(tmp_path: Path) -> None:
    ran = run("db", "upgrade", env=environment(tmp_path))
    assert ran.code == 0, ran.stderr
    for made in tmp_path.glob("brandgate.db*"):
        assert stat.S_IMODE(made.stat().st_mode) == 0o600, made
