"""Property: whatever brief, kit or policy file a user hands the CLI, it answers 0 or 2, never a traceback.

The entry point runs in-process (the same `main()` the `brandgate` script calls) so hypothesis can
try hundreds of files quickly; the subprocess cases in the other files cover the same paths once.
"""

from __future__ import annotations

import contextlib
import io
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from brandgate.cli.main import main
from brandgate.settings import get_settings
from tests.hostile.cli import KITS
from tests.hostile.strategies import document, kit_data, policy_data

PROPERTY_SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)


@pytest.fixture(scope="module", autouse=True)
def _isolated_settings() -> Iterator[None]:
    with tempfile.TemporaryDirectory() as scratch, pytest.MonkeyPatch.context() as patch:
        patch.setenv("BRANDGATE_DATABASE_URL", f"sqlite:///{scratch}/brandgate.db")
        patch.setenv("BRANDGATE_ARTIFACTS_DIR", f"{scratch}/artifacts")
        patch.setenv("BRANDGATE_KITS_DIR", str(KITS))
        get_settings.cache_clear()
        yield
    get_settings.cache_clear()


def brandgate(*args: str) -> tuple[int, str, str]:
    """The real entry point in-process: exit code, stdout, stderr. Any escaping exception fails the test."""
    out, err = io.StringIO(), io.StringIO()
    argv = sys.argv
    sys.argv = ["brandgate", *args]
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                main()
                code = 0
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    finally:
        sys.argv = argv
    return code, out.getvalue(), err.getvalue()


def assert_answered(code: int, stderr: str) -> None:
    assert "Traceback" not in stderr, stderr[-2000:]
    assert code in (0, 2), (code, stderr[-2000:])
    if code == 2:
        errors = [line for line in stderr.splitlines() if line.startswith("error:")]
        assert len(errors) == 1 and len(errors[0]) <= 2100, stderr[-2000:]


@PROPERTY_SETTINGS
@given(kind=st.sampled_from(["yaml", "json"]), data=st.data())
def test_any_brief_file_is_valid_or_refused_in_one_line(kind: str, data: st.DataObject) -> None:
    text = data.draw(document(kind))
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / f"brief.{kind}"
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        code, _, stderr = brandgate("brief", "validate", str(path))
    assert_answered(code, stderr)


def validate_kit_with(file: str, text: str) -> tuple[int, str]:
    """`kit validate` on a copy of acme whose `file` holds `text`: exit code and stderr."""
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch) / "acme"
        shutil.copytree(KITS / "acme", root)
        (root / file).write_text(text, encoding="utf-8", errors="surrogatepass")
        code, _, stderr = brandgate("kit", "validate", str(root))
    return code, stderr


BASE_KIT = yaml.safe_load((KITS / "acme" / "kit.yaml").read_text())


@PROPERTY_SETTINGS
@given(data=st.data())
def test_any_kit_file_is_valid_or_refused_in_one_line(data: st.DataObject) -> None:
    text = data.draw(st.one_of(kit_data(BASE_KIT).map(lambda d: yaml.safe_dump(d, allow_unicode=True)),
                               document("yaml")))
    assert_answered(*validate_kit_with("kit.yaml", text))


@PROPERTY_SETTINGS
@given(data=st.data())
def test_any_policy_file_is_valid_or_refused_in_one_line(data: st.DataObject) -> None:
    text = data.draw(st.one_of(policy_data.map(lambda d: yaml.safe_dump(d, allow_unicode=True)),
                               document("yaml", policy_data)))
    assert_answered(*validate_kit_with("policy.yaml", text))
