"""Profiles: built-ins load, bad values are refused with the valid ones listed."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from brandgate.settings import Settings
from pipeline.profiles import SCHEDULERS, load_profile, supported_dtypes
from policies.errors import InvalidInput
from tests.pipeline.generation_world import FAST_PROFILE, write_profile


def test_builtin_preview_and_export_load(gen_settings: Settings) -> None:
    preview = load_profile("preview", gen_settings)
    export = load_profile("export", gen_settings)
    assert preview.name == "preview" and export.name == "export"
    assert export.steps > preview.steps
    assert export.resolution[0] > preview.resolution[0]
    assert preview.scheduler.config["timestep_spacing"] == "trailing"
    assert preview.steps <= preview.max_steps and export.steps <= export.max_steps


def test_content_hash_is_stable_and_tracks_every_field(gen_settings: Settings) -> None:
    first = load_profile("preview", gen_settings)
    again = load_profile("preview", gen_settings)
    assert first.content_hash() == again.content_hash()
    assert first.with_steps(first.steps - 1).content_hash() != first.content_hash()


def test_profile_is_frozen(gen_settings: Settings) -> None:
    profile = load_profile("preview", gen_settings)
    with pytest.raises(ValidationError):
        profile.steps = 99  # type: ignore[misc]


def test_profile_typo_lists_valid_names(gen_settings: Settings) -> None:
    with pytest.raises(InvalidInput) as caught:
        load_profile("previwe", gen_settings)
    message = str(caught.value)
    assert "did you mean 'preview'" in message
    assert "valid: export, preview" in message


def test_operator_profile_overrides_builtin(gen_settings: Settings) -> None:
    write_profile(gen_settings, name="preview", steps=3)
    assert load_profile("preview", gen_settings).steps == 3


def test_unknown_scheduler_is_refused_with_valid_names(gen_settings: Settings) -> None:
    path = write_profile(gen_settings, scheduler={"name": "EulerDiscrete"})
    with pytest.raises(InvalidInput) as caught:
        load_profile(str(path), gen_settings)
    message = str(caught.value)
    assert "unknown scheduler 'EulerDiscrete'" in message
    assert "did you mean EulerDiscreteScheduler" in message
    for name in SCHEDULERS:
        assert name in message


def test_unknown_scheduler_setting_and_bad_spacing_are_refused(gen_settings: Settings) -> None:
    path = write_profile(gen_settings, scheduler={"name": "DDIMScheduler", "config": {"timestep_spacng": "x"}})
    with pytest.raises(
        InvalidInput,
        match=r"DDIMScheduler has no setting 'timestep_spacng'; valid: .*timestep_spacing",
    ):
        load_profile(str(path), gen_settings)
    path = write_profile(gen_settings, scheduler={"name": "DDIMScheduler", "config": {"timestep_spacing": "even"}})
    with pytest.raises(InvalidInput, match="timestep_spacing 'even' is not one of leading, linspace, trailing"):
        load_profile(str(path), gen_settings)


def test_steps_over_the_cap_are_refused(gen_settings: Settings) -> None:
    path = write_profile(gen_settings, steps=9, max_steps=8)
    with pytest.raises(InvalidInput, match=r"steps 9 is over this profile's cap of 8; give 1\.\.8"):
        load_profile(str(path), gen_settings)
    path = write_profile(gen_settings, steps=10, max_steps=500)
    with pytest.raises(InvalidInput, match="max_steps"):
        load_profile(str(path), gen_settings)
    profile = load_profile(str(write_profile(gen_settings)), gen_settings)
    with pytest.raises(InvalidInput, match="over this profile's cap"):
        profile.with_steps(FAST_PROFILE["max_steps"] + 1)


def test_resolution_must_be_a_multiple_of_8(gen_settings: Settings) -> None:
    path = write_profile(gen_settings, resolution=[100, 64])
    with pytest.raises(InvalidInput, match=r"side 100 is not a multiple of 8.*try 96"):
        load_profile(str(path), gen_settings)
    profile = load_profile(str(write_profile(gen_settings)), gen_settings)
    with pytest.raises(InvalidInput, match="side 130 is not a multiple of 8"):
        profile.render_size((130, 128))


def test_render_size_scales_down_keeping_aspect(gen_settings: Settings) -> None:
    profile = load_profile(str(write_profile(gen_settings, resolution=[256, 256])), gen_settings)
    assert profile.render_size((128, 128)) == (128, 128)
    assert profile.render_size((1024, 512)) == (256, 128)


def test_unknown_field_is_refused(gen_settings: Settings) -> None:
    path = write_profile(gen_settings, batch_size=8)
    with pytest.raises(InvalidInput, match="batch_size: unknown field"):
        load_profile(str(path), gen_settings)


@pytest.mark.parametrize("dtype", ["fp16", "bf16"])
def test_dtype_the_cpu_cannot_run_is_refused(gen_settings: Settings, dtype: str) -> None:
    if dtype in supported_dtypes("cpu"):
        pytest.skip(f"this CPU runs {dtype}")
    path = write_profile(gen_settings, dtype=dtype, device="cpu")
    with pytest.raises(InvalidInput) as caught:
        load_profile(str(path), gen_settings)
    assert (
        f"asks for dtype {dtype}, which cpu here cannot run; "
        f"valid here: {', '.join(supported_dtypes('cpu'))}" in str(caught.value)
    )


def test_missing_profile_file_and_bad_yaml(gen_settings: Settings, tmp_path) -> None:
    with pytest.raises(InvalidInput, match="no such profile file"):
        load_profile(str(tmp_path / "nope.yaml"), gen_settings)
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [unclosed\n")
    with pytest.raises(InvalidInput, match=r"not valid YAML: .* at line"):
        load_profile(str(bad), gen_settings)
    bad.write_text("- a list\n")
    with pytest.raises(InvalidInput, match="a profile is a mapping"):
        load_profile(str(bad), gen_settings)
