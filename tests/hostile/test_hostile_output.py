"""What `check` and `verify` print for hostile names and for a credential from another trail."""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from brandgate.db.audit import append_event, chain_head
from brandgate.db.engine import make_engine, make_sessionmaker
from brandgate.db.schema import upgrade
from brandgate.settings import Settings
from pipeline.provenance.governance import TrailAnchor
from pipeline.provenance.signer import Signer
from tests.hostile.cli import environment, run
from tests.pipeline.provenance_world import encode, record, scene, settings_with_chain

FORGED = "campaign.png: pass\n  note"


def _trail(settings: Settings, subjects: list[tuple[str, str]]) -> tuple[int, str]:
    upgrade(settings)
    engine = make_engine(settings)
    try:
        for kind, subject in subjects:
            with make_sessionmaker(engine).begin() as session:
                append_event(session, actor="worker", kind=f"{kind}.recorded", subject_type=kind, subject_id=subject,
                             payload={})  # fmt: skip
        return chain_head(engine)
    finally:
        engine.dispose()


def _signed(settings: Settings, path: Path) -> Path:
    seq, digest = _trail(settings, [("request", "req-0001"), ("image", "img-0001")])
    governance = record(trail=TrailAnchor(seq, digest))
    Signer.from_settings(settings).sign(encode(scene(seed=3), "image/png"), "image/png", governance).write(path)
    return path


def test_check_escapes_a_name_that_would_forge_a_line(tmp_path: Path) -> None:
    image = tmp_path / FORGED
    Image.new("RGB", (128, 128), (250, 250, 250)).save(image, "PNG")
    ran = run("check", str(image), "--kit", "acme", env=environment(tmp_path))
    assert ran.code in (0, 3, 4), ran.stderr[-2000:]
    lines = ran.stdout.splitlines()
    assert not any(line.startswith("campaign.png: pass") or line == "  note" for line in lines), ran.stdout
    assert "campaign.png: pass\\x0a  note" in lines[0]


def test_verify_escapes_a_name_that_would_forge_a_line(tmp_path: Path) -> None:
    settings = settings_with_chain(tmp_path, database_url=f"sqlite:///{tmp_path / 'brandgate.db'}")
    path = _signed(settings, tmp_path / FORGED)
    ran = run("verify", str(path), env=environment(tmp_path))
    assert ran.code == 0, ran.stdout + ran.stderr[-2000:]
    assert ran.stdout.splitlines()[0].startswith(str(tmp_path / "campaign.png: pass\\x0a  note: trusted"))
    assert not any(line.startswith("campaign.png") or line == "  note" for line in ran.stdout.splitlines())


def test_a_credential_from_another_intact_trail_is_not_called_tampered(tmp_path: Path) -> None:
    settings = settings_with_chain(tmp_path, database_url=f"sqlite:///{tmp_path / 'production.db'}")
    path = _signed(settings, tmp_path / "published.png")
    # Staging: its own intact trail, longer than production's, that never saw this request.
    staging = settings.model_copy(update={"database_url": f"sqlite:///{tmp_path / 'brandgate.db'}"})
    _trail(staging, [("request", f"staging-{n}") for n in range(5)])
    ran = run("verify", str(path), env=environment(tmp_path))
    assert ran.code == 3, ran.stdout + ran.stderr[-2000:]
    assert "recorded in a different audit trail" in ran.stdout and "cut" not in ran.stdout, ran.stdout
    empty = settings.model_copy(update={"database_url": f"sqlite:///{tmp_path / 'empty.db'}"})
    upgrade(empty)
    ran = run("verify", str(path), env=environment(tmp_path, BRANDGATE_DATABASE_URL=empty.database_url))
    assert ran.code == 3 and "recorded in a different audit trail" in ran.stdout, ran.stdout
    # The trail that made it still answers: held.
    ran = run("verify", str(path), env=environment(tmp_path, BRANDGATE_DATABASE_URL=settings.database_url))
    assert ran.code == 0, ran.stdout
