"""`brandgate render` and `brandgate models build-tiny` through the real command line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from brandgate.cli.main import _register, cli
from brandgate.settings import Settings, get_settings
from pipeline.generation import derive_seeds
from tests.pipeline.generation_world import ROOT, write_profile

BRIEF = {
    "kit": "acme",
    "prompt": "five red apples on a wooden table",
    "headline": "Fresh Deals Friday",
    "disclaimer": "Offer ends Sunday.",
    "logo": "primary",
    "size": [512, 512],
    "n": 2,
    "seed": 77,
}


def write_brief(folder: Path, **changes: object) -> Path:
    path = folder / "brief.yaml"
    path.write_text(yaml.safe_dump({**BRIEF, **changes}))
    return path


@pytest.fixture
def env(gen_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    values = {
        "BRANDGATE_MODELS_DIR": str(gen_settings.models_dir),
        "BRANDGATE_PROFILES_DIR": str(gen_settings.profiles_dir),
        "BRANDGATE_ARTIFACTS_DIR": str(gen_settings.artifacts_dir),
        "BRANDGATE_KITS_DIR": str(gen_settings.kits_dir),
        "BRANDGATE_GPU_HOURLY_USD": "3.6",
    }
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    yield {**os.environ, **values}
    get_settings.cache_clear()


def brandgate(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "brandgate", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_render_writes_composed_images_with_seeds_and_cost(
    env: dict[str, str], gen_settings: Settings, tmp_path: Path
) -> None:
    write_profile(gen_settings)
    out = tmp_path / "out"
    _register()
    result = CliRunner().invoke(
        cli,
        [
            "render",
            "--brief",
            str(write_brief(tmp_path)),
            "--profile",
            "fast",
            "--out",
            str(out),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["request_seed"] == 77 and document["composed"] is True
    images = document["images"]
    assert [i["seed"] for i in images] == derive_seeds(77, 2)
    for entry in images:
        assert Path(entry["path"]).is_file()
        assert json.loads(Path(entry["path"]).with_suffix(".json").read_text())["seed"] == entry["seed"]
        assert entry["cost_usd"] == pytest.approx(entry["gpu_seconds"] / 1000, rel=1e-4, abs=1e-9)
        assert {p["element"] for p in entry["composition"]["placements"]} == {
            "headline",
            "disclaimer",
            "logo",
        }
        assert entry["record"]["size"]["output"] == [512, 512]
    assert document["total_cost_usd"] == pytest.approx(sum(i["cost_usd"] for i in images), rel=1e-3)


def test_render_no_compose_and_seed_override(env: dict[str, str], gen_settings: Settings, tmp_path: Path) -> None:
    write_profile(gen_settings)
    _register()
    result = CliRunner().invoke(
        cli,
        [
            "render",
            "--brief",
            str(write_brief(tmp_path)),
            "--profile",
            "fast",
            "--n",
            "1",
            "--seed",
            "5",
            "--no-compose",
            "--out",
            str(tmp_path / "out"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert f"seed {derive_seeds(5, 1)[0]}" in result.stdout
    assert "request seed 5, profile fast" in result.stdout
    [sidecar] = (tmp_path / "out").glob("*.json")
    assert json.loads(sidecar.read_text())["composition"] is None


@pytest.mark.parametrize(
    "args, message",
    [
        (["--seed", "-1"], "--seed: -1 is negative"),
        (["--seed", str(2**63)], "is larger than 9223372036854775807"),
        (
            ["--profile", "previw"],
            "no profile named 'previw'; did you mean 'preview'? valid: export, preview",
        ),
        (["--n", "0"], "n: Input should be greater than or equal to 1"),
    ],
)
def test_render_bad_flags_exit_2(env: dict[str, str], tmp_path: Path, args: list[str], message: str) -> None:
    result = brandgate(["render", "--brief", str(write_brief(tmp_path)), *args], env)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_render_refuses_before_generating(env: dict[str, str], gen_settings: Settings, tmp_path: Path) -> None:
    out = tmp_path / "out"
    long = "Supercalifragilisticexpialidocious Everything Must Go"
    result = brandgate(
        [
            "render",
            "--brief",
            str(write_brief(tmp_path, headline=long, size=[128, 128])),
            "--out",
            str(out),
        ],
        env,
    )
    assert result.returncode == 2 and "does not fit the headline box" in result.stderr
    assert not out.exists()

    over = write_profile(gen_settings, name="greedy", steps=60, max_steps=40)
    result = brandgate(["render", "--brief", str(write_brief(tmp_path)), "--profile", str(over)], env)
    assert result.returncode == 2 and "steps 60 is over this profile's cap of 40" in result.stderr

    write_profile(gen_settings, name="gone", model="no-such-model")
    result = brandgate(["render", "--brief", str(write_brief(tmp_path)), "--profile", "gone"], env)
    assert result.returncode == 2 and "no-such-model does not exist" in result.stderr

    result = brandgate(["render", "--brief", str(write_brief(tmp_path, size=[500, 512]))], env)
    assert result.returncode == 2 and "not a multiple of 8; try 496" in result.stderr


def test_models_build_tiny(
    env: dict[str, str],
    tmp_path: Path,
    tiny_model: tuple[Path, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("BRANDGATE_MODELS_DIR", str(tmp_path / "models"))
    get_settings.cache_clear()
    _register()
    runner = CliRunner()
    first = runner.invoke(cli, ["models", "build-tiny", "--json"])
    assert first.exit_code == 0, first.output
    built = json.loads(first.stdout)
    assert built["built"] is True and built["content_hash"] == tiny_model[1]
    assert (tmp_path / "models" / "tiny-sd" / "model_index.json").is_file()
    again = runner.invoke(cli, ["models", "build-tiny"])
    assert again.exit_code == 0 and "already exists" in again.stdout
    bad = brandgate(
        ["models", "build-tiny", "--name", "../escape"],
        {**env, "BRANDGATE_MODELS_DIR": str(tmp_path)},
    )
    assert bad.returncode == 2 and "is not a folder name" in bad.stderr
