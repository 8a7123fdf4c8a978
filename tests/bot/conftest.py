"""Bot fixtures: the fake Slack, kits with Slack access rules, and the real app served by uvicorn on loopback."""

from __future__ import annotations

import json
import shutil
import threading
import time
import urllib.parse
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.app import build_app, runtime_of
from bot.brandgate_services import BrandgateServices
from bot.listener_parts import Runtime
from bot.server import build_asgi
from bot.services import Services
from brandgate.db.models import Approval, AuditEvent, Request
from brandgate.db.schema import upgrade
from brandgate.jobs.request_side import QueueFront
from brandgate.settings import Settings
from pipeline.keys import IssuedChain, issue_chain, write_dev_chain
from policies.brief import Brief, brief_from_mapping
from tests.bot.worker import TestWorker
from tests.fake_slack import TEAM_ID, FakeSlack, fake_token, sign

ROOT = Path(__file__).resolve().parents[2]
SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
MARKETING = "CMARKETING"
NORDWIND_CHANNEL = "CNORDWIND"
ANNA = "UANNAMANAGER"  # acme brand manager by user ID in kit.yaml
GROUP_MANAGER = "UGROUPMANAGER"  # acme brand manager through the user group
GROUP = "SACMEMANAGERS"
MARK = "UMARKETER"  # asks for images, decides nothing
COMPLIANCE = "UCOMPLIANCE"


@pytest.fixture
def kits_dir(tmp_path: Path) -> Path:
    """The project's kits, with Slack rules: acme in the marketing channel, nordwind in its own."""
    target = tmp_path / "kits"
    shutil.copytree(ROOT / "brand_kits", target, ignore=shutil.ignore_patterns("*.py"))
    rules = {
        "acme": {"channels": [MARKETING], "manager_group": GROUP, "managers": [ANNA]},
        "nordwind": {"channels": [NORDWIND_CHANNEL, MARKETING], "manager_group": None, "managers": []},
    }
    for name, slack in rules.items():
        path = target / name / "kit.yaml"
        data = yaml.safe_load(path.read_text())
        data["slack"] = slack
        path.write_text(yaml.safe_dump(data, sort_keys=False))
    return target


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        fake.groups[GROUP] = [GROUP_MANAGER]
        yield fake


@pytest.fixture
def bot_settings(tmp_path: Path, kits_dir: Path, slack: FakeSlack) -> Settings:
    return Settings(
        database_url=f"sqlite:///{tmp_path / 'brandgate.db'}",
        artifacts_dir=tmp_path / "artifacts",
        kits_dir=kits_dir,
        models_dir=tmp_path / "models",
        keys_dir=tmp_path / "keys",
        slack_bot_token=fake_token(),
        slack_signing_secret=SECRET,
        slack_api_url=slack.api_url,
        slack_compliance_users=[COMPLIANCE],
        slack_progress_interval_s=0.2,
        slack_max_body_bytes=256 * 1024,
        slack_file_hosts=[slack.base],
    )


@pytest.fixture(scope="session")
def signing_chain() -> IssuedChain:
    return issue_chain()


@pytest.fixture(scope="session")
def profiles_loaded() -> None:
    """Reading a profile imports diffusers once per process (seconds, on a busy machine); done here,
    not inside the first command a test times."""
    from pipeline.profiles import load_profile

    load_profile("preview", Settings())


@pytest.fixture
def real_settings(bot_settings: Settings, signing_chain: IssuedChain, profiles_loaded: None) -> Settings:
    """The bot's settings on a migrated database with a development signing chain."""
    write_dev_chain(bot_settings.keys_dir, signing_chain)
    # Requests stay queued (no worker runs them unless a test says so): the per-person limit would bite.
    bot_settings.max_jobs_per_user = 1000
    upgrade(bot_settings)
    return bot_settings


@pytest.fixture
def front(real_settings: Settings) -> Iterator[QueueFront]:
    """The real queue without workers: requests are recorded and wait for `TestWorker`."""
    queue = QueueFront(real_settings)
    yield queue
    queue.close()


@pytest.fixture
def services(real_settings: Settings, front: QueueFront) -> BrandgateServices:
    return BrandgateServices(real_settings, queue=front)


@dataclass(frozen=True)
class Submitted:
    """A request as the database holds it, with its brief read back."""

    request_id: str
    brief: Brief
    requested_by: str
    source: str
    channel: str | None
    idempotency_key: str | None
    state: str
    queue: str
    parent_image_id: str | None


class Records:
    """What the bot left in the real database: requests, decisions, audit events."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions

    def requests(self, queue: str | None = None) -> list[Submitted]:
        with self.sessions() as session:
            rows = session.scalars(select(Request).order_by(Request.created_at, Request.id)).all()
            return [
                Submitted(
                    request_id=r.id,
                    brief=brief_from_mapping(dict(r.brief)),
                    requested_by=r.requested_by,
                    source=r.source,
                    channel=r.channel,
                    idempotency_key=r.idempotency_key,
                    state=r.state,
                    queue=r.queue,
                    parent_image_id=r.parent_image_id,
                )
                for r in rows
                if queue is None or r.queue == queue
            ]

    @property
    def submissions(self) -> list[Submitted]:
        """Briefs queued for previews (exports are `requests("export")`)."""
        return self.requests("preview")

    def decisions(self) -> dict[str, tuple[str, str, str | None]]:
        with self.sessions() as session:
            return {a.image_id: (a.decision, a.decided_by, a.reason) for a in session.scalars(select(Approval))}

    def events(self, kind: str | None = None) -> list[AuditEvent]:
        with self.sessions() as session:
            rows = session.scalars(select(AuditEvent).order_by(AuditEvent.seq)).all()
            return [e for e in rows if kind is None or e.kind == kind]


class ServedBot:
    """The real app under uvicorn on a loopback port, and a way to send it what Slack sends."""

    def __init__(self, settings: Settings, services: Services, slack: FakeSlack) -> None:
        self.slack = slack
        self.app = build_app(settings, services)
        self.runtime: Runtime = runtime_of(self.app)
        config = uvicorn.Config(build_asgi(self.app, settings), host="127.0.0.1", port=0, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.01)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        self.http = httpx.Client(base_url=self.url, timeout=10)

    def close(self) -> None:
        self.http.close()
        self.server.should_exit = True
        self.thread.join(10)

    def post(
        self, body: bytes, content_type: str, headers: dict[str, str] | None = None, **sign_kw: Any
    ) -> httpx.Response:
        signed = sign(SECRET, body, **sign_kw)
        return self.http.post(
            "/slack/events", content=body, headers={"Content-Type": content_type, **signed, **(headers or {})}
        )

    def command(
        self,
        text: str,
        user: str = MARK,
        channel: str = MARKETING,
        trigger: str | None = None,
        team: str = TEAM_ID,
        headers: dict[str, str] | None = None,
        **sign_kw: Any,
    ) -> httpx.Response:
        form = {
            "token": "legacy-verification-token",
            "team_id": team,
            "team_domain": "test",
            "channel_id": channel,
            "channel_name": "marketing",
            "user_id": user,
            "user_name": user.lower(),
            "command": "/brandgate",
            "text": text,
            "api_app_id": "ABRANDGATE",
            "is_enterprise_install": "false",
            "response_url": self.slack.response_url(uuid.uuid4().hex),
            "trigger_id": trigger or f"{uuid.uuid4().int % 10**12}.{uuid.uuid4().hex[:8]}",
        }
        body = urllib.parse.urlencode(form).encode()
        return self.post(body, "application/x-www-form-urlencoded", headers, **sign_kw)

    def interactive(
        self, payload: dict[str, Any], headers: dict[str, str] | None = None, **sign_kw: Any
    ) -> httpx.Response:
        body = urllib.parse.urlencode({"payload": json.dumps(payload)}).encode()
        return self.post(body, "application/x-www-form-urlencoded", headers, **sign_kw)

    def click(
        self,
        action_id: str,
        image_id: str,
        user: str,
        message: dict[str, Any] | None = None,
        channel: str = MARKETING,
        team: str = TEAM_ID,
    ) -> httpx.Response:
        message = message or {"type": "message", "ts": "1700000000.000100", "text": "", "blocks": []}
        return self.interactive(
            {
                "type": "block_actions",
                "user": {"id": user, "username": user.lower(), "name": user.lower(), "team_id": team},
                "api_app_id": "ABRANDGATE",
                "token": "legacy-verification-token",
                "container": {
                    "type": "message",
                    "message_ts": message["ts"],
                    "channel_id": channel,
                    "is_ephemeral": False,
                    "thread_ts": message.get("thread_ts"),
                },
                "trigger_id": f"{uuid.uuid4().int % 10**12}.{uuid.uuid4().hex[:8]}",
                "team": {"id": team, "domain": "test"},
                "enterprise": None,
                "is_enterprise_install": False,
                "channel": {"id": channel, "name": "marketing"},
                "message": message,
                "response_url": self.slack.response_url(uuid.uuid4().hex),
                "actions": [
                    {
                        "action_id": action_id,
                        "block_id": f"image:{image_id}",
                        "text": {"type": "plain_text", "text": action_id},
                        "value": image_id,
                        "type": "button",
                        "action_ts": f"{time.time():.6f}",
                    }
                ],
            }
        )

    def submit_view(
        self,
        view: dict[str, Any],
        values: dict[str, Any],
        user: str = MARK,
        team: str = TEAM_ID,
        view_id: str | None = None,
    ) -> httpx.Response:
        submitted = {
            **view,
            "id": view_id or f"V{uuid.uuid4().hex[:10].upper()}",
            "team_id": team,
            "hash": "1700000000.abcdef",
            "state": {"values": values},
        }
        return self.interactive(
            {
                "type": "view_submission",
                "team": {"id": team, "domain": "test"},
                "user": {"id": user, "username": user.lower(), "name": user.lower(), "team_id": team},
                "api_app_id": "ABRANDGATE",
                "token": "legacy-verification-token",
                "trigger_id": f"{uuid.uuid4().int % 10**12}.{uuid.uuid4().hex[:8]}",
                "view": submitted,
                "response_urls": [],
                "is_enterprise_install": False,
                "enterprise": None,
            }
        )


@dataclass
class BotUnderTest:
    bot: ServedBot
    services: BrandgateServices
    slack: FakeSlack
    records: Records
    worker: TestWorker

    def newest_request(self) -> str:
        return self.records.requests()[-1].request_id


@pytest.fixture
def served(
    real_settings: Settings, services: BrandgateServices, front: QueueFront, slack: FakeSlack
) -> Iterator[BotUnderTest]:
    bot = ServedBot(real_settings, services, slack)
    try:
        yield BotUnderTest(bot, services, slack, Records(front.sessions), TestWorker(real_settings, front))
    finally:
        bot.close()
