"""docker/: every service runs a real brandgate command and sets only settings that exist."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import click
import pytest
import yaml

from brandgate.cli.main import _register, cli
from brandgate.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
DOCKER = ROOT / "docker"
OUR_IMAGES = ("brandgate-bot", "brandgate-worker")
LONG_RUNNING = ("postgres", "redis", "bot", "worker-preview", "worker-export", "scheduler")


def compose() -> dict[str, Any]:
    document = yaml.safe_load((DOCKER / "compose.yaml").read_text())
    assert isinstance(document, dict)
    return document


def ours(service: dict[str, Any]) -> bool:
    return str(service.get("image", "")).split(":")[0] in OUR_IMAGES


def resolve(argv: list[str]) -> None:
    """Parse ARGV against our CLI without running it: unknown commands or options raise UsageError."""
    _register()
    assert argv[0] == "brandgate", argv
    command: click.Command = cli
    args = argv[1:]
    ctx = click.Context(cli)
    while isinstance(command, click.Group):
        assert args, f"{argv}: a command group needs a subcommand"
        sub = command.get_command(ctx, args[0])
        assert sub is not None, f"{argv}: `{args[0]}` is not a brandgate command"
        command, args = sub, args[1:]
    command.make_context(command.name or "", list(args))


def dockerfile_cmds() -> dict[str, list[str]]:
    found = {}
    for path in DOCKER.glob("*.Dockerfile"):
        match = re.search(r"^CMD (\[.*\])$", path.read_text(), re.MULTILINE)
        assert match, f"{path.name} has no exec-form CMD"
        found[path.name] = yaml.safe_load(match.group(1))
    return found


def test_every_service_command_exists_in_our_cli() -> None:
    services = compose()["services"]
    for service in services.values():
        if ours(service):
            resolve(service["command"])
    for command in dockerfile_cmds().values():
        resolve(command)
    assert {"bot", "worker-preview", "worker-export", "scheduler", "migrate"} <= set(services)


def test_every_environment_variable_is_a_known_setting() -> None:
    fields = set(Settings.model_fields)
    for name, service in compose()["services"].items():
        if not ours(service):
            continue
        env = service.get("environment") or {}
        assert isinstance(env, dict), f"{name}: use the mapping form for environment"
        for key in env:
            assert key.startswith("BRANDGATE_"), f"{name}: {key} is not a brandgate setting"
            assert key.removeprefix("BRANDGATE_").lower() in fields, f"{name}: {key} is not a Settings field"
    for path in DOCKER.glob("*.Dockerfile"):
        for key in re.findall(r"\b(BRANDGATE_[A-Z0-9_]+)=", path.read_text()):
            assert key.removeprefix("BRANDGATE_").lower() in fields, f"{path.name}: {key}"


def test_secrets_come_from_the_environment_and_services_are_checked() -> None:
    services = compose()["services"]
    secret = re.compile(r"PASSWORD|TOKEN|SECRET")
    for name, service in services.items():
        for key, value in (service.get("environment") or {}).items():
            if secret.search(key):
                assert "${" in str(value), f"{name}: {key} must come from the environment, not the file"
        url = (service.get("environment") or {}).get("BRANDGATE_DATABASE_URL", "")
        assert not url or "${POSTGRES_PASSWORD" in url or "${POSTGRES_APP_PASSWORD" in url
    for name in LONG_RUNNING:
        assert services[name].get("healthcheck", {}).get("test"), f"{name} has no health check"
    for name in ("worker-preview", "worker-export"):
        volumes = services[name]["volumes"]
        assert any(v.startswith("artifacts:") for v in volumes) and any(v.startswith("keys:") for v in volumes)
    assert services["worker-preview"]["command"][-3:] == ["preview", "--concurrency", "1"]
    assert services["worker-export"]["command"][-3:] == ["export", "--concurrency", "1"]


def test_docker_compose_config_validates() -> None:
    docker = shutil.which("docker")
    if docker is None:
        pytest.skip("no docker CLI on this machine")
    probe = subprocess.run([docker, "compose", "version"], capture_output=True, text=True, check=False)
    if probe.returncode != 0:
        pytest.skip(f"the docker CLI here has no compose plugin: {probe.stderr.strip() or probe.stdout.strip()}")
    env = {**os.environ, "POSTGRES_PASSWORD": "x", "POSTGRES_APP_PASSWORD": "y", "SLACK_BOT_TOKEN": "xoxb-x",
           "SLACK_SIGNING_SECRET": "x"}  # fmt: skip
    result = subprocess.run([docker, "compose", "-f", str(DOCKER / "compose.yaml"), "config", "-q"],
                            capture_output=True, text=True, env=env, check=False)
    assert result.returncode == 0, result.stderr


def _database_user(url: str) -> str:
    match = re.match(r"postgresql\+psycopg://([^:@/]+)[:@]", url)
    assert match, f"not a PostgreSQL URL with a user: {url}"
    return match.group(1)


def test_migrations_run_as_the_owner_and_every_other_service_as_the_app_role() -> None:
    """Least privilege (docs/audit.md): only `migrate` holds the owner's password."""
    services = compose()["services"]
    owner = services["postgres"]["environment"]["POSTGRES_USER"]
    migrate = services["migrate"]["environment"]
    app_role = migrate["BRANDGATE_DATABASE_APP_ROLE"]
    assert _database_user(migrate["BRANDGATE_DATABASE_URL"]) == owner != app_role
    assert "${POSTGRES_PASSWORD" in migrate["BRANDGATE_DATABASE_URL"]
    for name, service in services.items():
        env = service.get("environment") or {}
        if name == "migrate" or not ours(service) or "BRANDGATE_DATABASE_URL" not in env:
            continue
        assert _database_user(env["BRANDGATE_DATABASE_URL"]) == app_role, name
        assert "${POSTGRES_PASSWORD" not in env["BRANDGATE_DATABASE_URL"], f"{name} must not hold the owner's password"
        assert "BRANDGATE_DATABASE_APP_ROLE" not in env, name
    init = [v for v in services["postgres"]["volumes"] if "/docker-entrypoint-initdb.d/" in v]
    assert init, "the postgres service makes no application role"
    script = (DOCKER / init[0].split(":")[0]).read_text()
    assert f"CREATE ROLE {app_role} LOGIN" in script and "POSTGRES_APP_PASSWORD" in script
    assert "POSTGRES_APP_PASSWORD" in services["postgres"]["environment"]
