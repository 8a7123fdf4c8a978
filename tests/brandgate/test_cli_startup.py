"""What the commands people wait on load at start-up: `--help`, `check --help`, `verify FILE`.

Times are measured by benchmarks/verify_speed.py; these tests hold the cause of a slow start
instead: the heavy libraries a command has no use for stay unimported, in a fresh process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import click
import pytest

from brandgate.cli.main import COMMAND_MODULES, COMMAND_SUMMARIES, _register, cli
from brandgate.settings import Settings
from pipeline.keys import issue_chain
from pipeline.provenance.signer import Signer
from tests.pipeline.provenance_world import encode, record, scene, settings_with_chain

ROOT = Path(__file__).resolve().parents[2]
HEAVY = {"torch", "diffusers", "transformers", "cv2", "pytesseract", "tesserocr", "mediapipe", "sqlalchemy",
         "alembic", "celery", "slack_bolt", "numpy", "imagehash"}  # fmt: skip
# Runs the real entry point, then reports which top-level packages the command imported.
PROBE = """
import json, sys
sys.argv = ["brandgate", *sys.argv[1:]]
from brandgate.cli.main import main
try:
    main()
except SystemExit:
    pass
sys.stderr.write("\\nLOADED " + json.dumps(sorted(sys.modules)) + "\\n")
"""


def loaded_by(settings: Settings | None, *args: str) -> set[str]:
    """The top-level packages the command imported."""
    return {name.split(".")[0] for name in modules_loaded_by(settings, *args)}


def modules_loaded_by(settings: Settings | None, *args: str) -> set[str]:
    """Every module the command imported, by its full name."""
    environ = {**os.environ, "PYTHONPATH": str(ROOT)}
    if settings is not None:
        environ |= {"BRANDGATE_KEYS_DIR": str(settings.keys_dir), "BRANDGATE_DATABASE_URL": settings.database_url}
    done = subprocess.run([sys.executable, "-c", PROBE, *args], cwd=ROOT, env=environ, capture_output=True,
                          text=True, timeout=60)  # fmt: skip
    line = next(line for line in done.stderr.splitlines() if line.startswith("LOADED "))
    return set(json.loads(line.removeprefix("LOADED ")))


@pytest.mark.parametrize("args", [["--help"], ["check", "--help"], ["verify", "--help"], ["checks", "--help"]])
def test_help_loads_no_heavy_library(args: list[str]) -> None:
    loaded = loaded_by(None, *args)

    assert not loaded & (HEAVY | {"pydantic", "c2pa"}), sorted(loaded & (HEAVY | {"pydantic", "c2pa"}))


def test_verify_of_a_signed_file_loads_c2pa_but_no_database_model_or_ocr(tmp_path: Path) -> None:
    settings = settings_with_chain(tmp_path)
    path = tmp_path / "signed.png"
    Signer.from_settings(settings).sign(encode(scene(), "image/png"), "image/png", record()).write(path)

    loaded = loaded_by(settings, "verify", str(path))

    assert "c2pa" in loaded  # the probe ran the command for real
    assert not loaded & HEAVY, sorted(loaded & HEAVY)


def test_verify_of_another_organisations_signed_file_loads_no_lookup_database_or_perceptual_hash(
    tmp_path: Path,
) -> None:
    """Another signer's credentials, no trail anchor: nothing to look up and no record of ours to check."""
    settings = settings_with_chain(tmp_path)
    other = issue_chain("Other Newsroom")
    path = tmp_path / "theirs.jpg"
    Signer(chain_pem=other.signing_chain, key_pem=other.signing_key).sign(
        encode(scene(), "image/jpeg"), "image/jpeg", record(trail=None)
    ).write(path)

    loaded = modules_loaded_by(settings, "verify", str(path))

    assert "c2pa" in loaded and "brandgate.verification" in loaded  # the probe ran the command for real
    unwanted = {"numpy", "sqlalchemy", "PIL", "brandgate.db.models", "brandgate.db.engine", "policies.perceptual",
                "policies.creative", "cv2", "imagehash", "scipy", "torch"}  # fmt: skip
    assert not loaded & unwanted, sorted(loaded & unwanted)


def test_verify_of_a_file_without_credentials_looks_it_up_without_opencv_scipy_or_imagehash(tmp_path: Path) -> None:
    settings = settings_with_chain(tmp_path)
    path = tmp_path / "unsigned.jpg"
    path.write_bytes(encode(scene(), "image/jpeg"))

    loaded = loaded_by(settings, "verify", str(path))

    assert {"numpy", "PIL", "sqlalchemy"} <= loaded  # the probe hashed the file and asked the trail
    assert not loaded & {"cv2", "scipy", "imagehash", "torch", "pytesseract"}, sorted(loaded)


def test_the_help_summaries_are_the_commands_own() -> None:
    _register()
    ctx = click.Context(cli)
    for name in COMMAND_MODULES:
        command = cli.get_command(ctx, name)
        assert command is not None
        assert COMMAND_SUMMARIES.get(name) == command.get_short_help_str(limit=1000), name
    assert set(COMMAND_SUMMARIES) <= set(COMMAND_MODULES)
