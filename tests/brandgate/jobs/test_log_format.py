"""`BRANDGATE_LOG_FORMAT` through the real CLI and the real bot: JSON lines when asked, and every line
logged while a request is in scope names it, whichever thread or library wrote it."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import yaml

from brandgate.settings import Settings
from tests.brandgate.jobs.support import PLAIN_BRIEF, ROOT
from tests.fake_slack import FakeSlack, fake_token


def _env(job_settings: Settings, **more: str) -> dict[str, str]:
    return {
        **{k: v for k, v in os.environ.items() if k != "BRANDGATE_LOG_FORMAT"},
        "PYTHONPATH": str(ROOT),
        "BRANDGATE_DATABASE_URL": job_settings.database_url,
        "BRANDGATE_MODELS_DIR": str(job_settings.models_dir),
        "BRANDGATE_KEYS_DIR": str(job_settings.keys_dir),
        "BRANDGATE_PROFILES_DIR": str(job_settings.profiles_dir),
        "BRANDGATE_ARTIFACTS_DIR": str(job_settings.artifacts_dir),
        **more,
    }


def _generate(job_settings: Settings, tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    brief = tmp_path / "brief.yaml"
    brief.write_text(yaml.safe_dump({**PLAIN_BRIEF, "n": 1}))
    return subprocess.run(
        [sys.executable, "-m", "brandgate", "generate", "--brief", str(brief), "--json"],
        cwd=ROOT, env=_env(job_settings, **env), capture_output=True, text=True, timeout=600, check=False,
    )


def test_generate_logs_json_lines_that_all_name_the_request(job_settings: Settings, tmp_path: Path) -> None:
    done = _generate(job_settings, tmp_path, BRANDGATE_LOG_FORMAT="json")
    assert done.returncode == 0, done.stderr[-3000:]
    request_id = json.loads(done.stdout)["request_id"]
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    records = [json.loads(line) for line in lines]  # every stderr line is one JSON document
    events = {r.get("event") for r in records}
    assert {"request.queued", "request.claimed", "image.recorded", "request.done"} <= events
    # from the queue on, every line concerns the request and says so, the libraries' lines too
    start = next(i for i, r in enumerate(records) if r.get("event") == "request.queued")
    assert all(r.get("request_id") == request_id for r in records[start:]), records[start:]
    assert len({r["logger"] for r in records[start:]}) >= 3


def test_text_is_the_default_for_a_command_and_names_the_request_too(job_settings: Settings, tmp_path: Path) -> None:
    done = _generate(job_settings, tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    request_id = json.loads(done.stdout)["request_id"]
    logged = [line for line in done.stderr.splitlines() if " INFO " in line or " WARNING " in line]
    assert logged and not any(line.startswith("{") for line in done.stderr.splitlines())
    done_line = next(line for line in logged if "request done" in line)
    assert done_line.endswith(f"request_id={request_id}")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_the_bot_logs_json_when_asked_uvicorn_included(job_settings: Settings, tmp_path: Path) -> None:
    port = _free_port()
    log = tmp_path / "bot.log"
    with FakeSlack() as slack:
        env = _env(
            job_settings,
            BRANDGATE_LOG_FORMAT="json",
            BRANDGATE_SLACK_API_URL=slack.api_url,
            BRANDGATE_SLACK_BOT_TOKEN=fake_token(),
            BRANDGATE_SLACK_SIGNING_SECRET="test-signing-secret",
            BRANDGATE_METRICS_PORT="0",
        )
        with log.open("wb") as out:
            bot = subprocess.Popen(
                [sys.executable, "-m", "brandgate", "bot", "--port", str(port)],
                cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            )
        try:
            deadline = time.monotonic() + 180
            while True:
                assert bot.poll() is None, log.read_text()[-3000:]
                with contextlib.suppress(OSError):
                    urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2).read()
                    break
                assert time.monotonic() < deadline, log.read_text()[-3000:]
                time.sleep(0.3)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(bot.pid, signal.SIGTERM)
            bot.wait(timeout=30)
    lines = [line for line in log.read_text().splitlines() if line.strip()]
    records = [json.loads(line) for line in lines]  # nothing in another format, uvicorn's lines included
    assert any(r["logger"].startswith("uvicorn") for r in records), lines
