"""Shared test fixtures: paths, settings pointing at temporary folders."""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from brandgate.settings import Settings
from tests.services import PG_HOST, PG_PORT, unavailable

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
KITS = ROOT / "brand_kits"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings isolated from the developer's var/: a fresh SQLite file and folders per test."""
    return Settings(
        database_url=f"sqlite:///{tmp_path / 'brandgate.db'}",
        artifacts_dir=tmp_path / "artifacts",
        kits_dir=KITS,
        models_dir=tmp_path / "models",
        keys_dir=tmp_path / "keys",
    )


# --- databases -------------------------------------------------------------------------------

PG_SERVER = f"postgresql+psycopg://postgres@{PG_HOST}:{PG_PORT}"


def _pg_admin() -> Any:
    """An autocommit connection to the server's maintenance database (CREATE/DROP DATABASE)."""
    import psycopg

    return psycopg.connect(
        f"host={PG_HOST} port={PG_PORT} user=postgres dbname=postgres connect_timeout=5", autocommit=True
    )


def _pg_create(name: str, template: str | None = None) -> None:
    with _pg_admin() as admin:
        suffix = f' TEMPLATE "{template}"' if template else ""
        admin.execute(f'CREATE DATABASE "{name}"{suffix}')


def _pg_drop(name: str) -> None:
    with _pg_admin() as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def _pg_reachable() -> None:
    try:
        _pg_admin().close()
    except Exception as exc:  # unreachable, refused login, missing database: no server to test against
        unavailable(f"PostgreSQL on {PG_HOST}:{PG_PORT} (user postgres) is unreachable: {exc}")


@pytest.fixture(scope="session")
def pg_url(_pg_reachable: None) -> Iterator[str]:
    """URL of an empty PostgreSQL database made for this test session, dropped at the end."""
    name = f"brandgate_test_{uuid.uuid4().hex[:12]}"
    _pg_create(name)
    try:
        yield f"{PG_SERVER}/{name}"
    finally:
        _pg_drop(name)


@pytest.fixture(scope="session")
def _pg_template(_pg_reachable: None) -> Iterator[str]:
    """A migrated database that per-test databases are copied from (cheaper than migrating each)."""
    from brandgate.db.schema import upgrade

    name = f"brandgate_tpl_{uuid.uuid4().hex[:12]}"
    _pg_create(name)
    try:
        upgrade(Settings(database_url=f"{PG_SERVER}/{name}"))
        yield name
    finally:
        _pg_drop(name)


@pytest.fixture
def pg_migrated_url(_pg_template: str) -> Iterator[str]:
    """A fresh, migrated PostgreSQL database for one test."""
    name = f"brandgate_t_{uuid.uuid4().hex[:12]}"
    _pg_create(name, template=_pg_template)
    try:
        yield f"{PG_SERVER}/{name}"
    finally:
        _pg_drop(name)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_settings(request: pytest.FixtureRequest, settings: Settings) -> Settings:
    """Settings whose database is migrated to head: a fresh SQLite file, or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        from brandgate.db.schema import upgrade

        upgrade(settings)
        return settings
    url = request.getfixturevalue("pg_migrated_url")
    return settings.model_copy(update={"database_url": url})


@pytest.fixture
def add_image() -> Any:
    """Write a request with one image and its check rows, the way the pipeline records them:
    each row bound to the chain by the event that records it."""
    from datetime import UTC, datetime

    from brandgate.db.evidence import record_image
    from brandgate.db.models import CheckResultRow, Image, Request
    from brandgate.requests import lifecycle

    def add(
        session: Any,
        *,
        kit: str = "acme",
        verdict: str = "flag",
        created_at: datetime | None = None,
        checks: list[tuple[str, str, str]] | None = None,
        request_id: str | None = None,
        cost_usd: float = 0.012,
        headline: str = "Fresh Deals Friday",
        requested_by: str = "U123MARKETER",
        phash: str | None = None,
        kind: str = "preview",
        parent_image_id: str | None = None,
    ) -> Image:
        when = created_at or datetime.now(UTC)
        rid = request_id or uuid.uuid4().hex
        if session.get(Request, rid) is None:
            request = Request(
                id=rid,
                requested_by=requested_by,
                source="slack",
                channel="C42",
                kit_name=kit,
                kit_hash="a" * 64,
                brief={"kit": kit, "prompt": "five red apples", "headline": headline},
                brief_hash="b" * 64,
                profile_name="tiny",
                seed=1234,
                n_images=1,
                created_at=when,
            )
            session.add(request)
            lifecycle.queue(session, request)
        image = Image(
            id=uuid.uuid4().hex,
            request_id=rid,
            index=session.query(Image).filter_by(request_id=rid).count(),
            sha256=uuid.uuid4().hex * 2,
            width=512,
            height=512,
            model_id="brandgate/tiny-sd",
            model_revision="r1",
            generation_config={"steps": 4},
            seed=1234,
            verdict=verdict,
            phash=phash,
            kind=kind,
            parent_image_id=parent_image_id,
            gpu_seconds=1.5,
            cost_usd=cost_usd,
            created_at=when,
        )
        rows = [
            CheckResultRow(
                image_id=image.id,
                check_id=check_id,
                name=f"check-{check_id}",
                status=status,
                severity=severity,
                confidence=0.9,
                message=f"{check_id} said {status}",
                evidence={"score": 0.5},
            )
            for check_id, status, severity in checks or [("BG101", "fail", "flag"), ("BG601", "pass", "reject")]
        ]
        record_image(
            session, image, rows, actor="worker", kind="image.created",
            payload={"request_id": rid, "verdict": verdict, "cost_usd": cost_usd,
                     "failed_checks": [c.check_id for c in rows if c.status in ("fail", "error")]},
        )
        session.flush()
        return image

    return add


@pytest.fixture
def run_cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Any:
    """Run `brandgate ARGS` in-process through main(), the path that maps errors to exit codes."""
    from brandgate.cli.main import main
    from brandgate.settings import get_settings

    def run(settings: Settings, *args: str) -> tuple[int, str, str]:
        monkeypatch.setenv("BRANDGATE_DATABASE_URL", settings.database_url)
        monkeypatch.setenv("BRANDGATE_ARTIFACTS_DIR", str(settings.artifacts_dir))
        monkeypatch.setenv("BRANDGATE_KITS_DIR", str(settings.kits_dir))
        monkeypatch.setattr(sys, "argv", ["brandgate", *args])
        get_settings.cache_clear()
        capsys.readouterr()
        try:
            main()
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        finally:
            get_settings.cache_clear()
        out, err = capsys.readouterr()
        return code, out, err

    return run
