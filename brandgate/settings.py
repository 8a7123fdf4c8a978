"""Settings from BRANDGATE_* environment variables or a `.env` file; nothing is built at import."""

from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict, SettingsError

from brandgate.errors import ConfigError
from policies.characters import quote

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    """Every knob an operator sets. Names are part of the public contract (docs/cli.md)."""

    model_config = SettingsConfigDict(
        env_prefix="BRANDGATE_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
    )

    database_url: str = Field(
        default_factory=lambda: f"sqlite:///{PROJECT_ROOT / 'var' / 'brandgate.db'}",
        description="SQLAlchemy URL; SQLite file under var/ by default, PostgreSQL in production.",
    )
    database_app_role: str | None = Field(
        default=None,
        pattern=r"^[a-z_][a-z0-9_]{0,62}$",
        description="PostgreSQL role the application connects as; `db upgrade`, run as the owner, grants it "
        "least privilege (no UPDATE, DELETE or TRUNCATE of evidence).",
    )
    artifacts_dir: Path = Field(default=PROJECT_ROOT / "var" / "artifacts")
    kits_dir: Path = Field(default=PROJECT_ROOT / "brand_kits")
    models_dir: Path = Field(default=PROJECT_ROOT / "var" / "models")
    profiles_dir: Path = Field(
        default=PROJECT_ROOT / "var" / "profiles",
        description="operator profiles (name.yaml), looked up before pipeline/profiles/",
    )
    keys_dir: Path = Field(default=PROJECT_ROOT / "var" / "keys")
    gpu_hourly_usd: float = Field(default=2.50, ge=0)

    queue: Literal["local", "celery"] = "local"
    broker_url: str = "redis://127.0.0.1:6379/0"

    slack_bot_token: SecretStr | None = None
    slack_signing_secret: SecretStr | None = None
    slack_app_token: SecretStr | None = None
    slack_api_url: str = "https://slack.com/api/"
    # The Slack bot: who may decide, who may pull the trail, and how the HTTP server defends itself.
    slack_managers: list[str] = Field(
        default_factory=list, description="Slack user IDs who may approve/reject for every kit."
    )
    slack_compliance_group: str | None = Field(
        default=None, description="Slack user group ID whose members may run /brandgate audit."
    )
    slack_compliance_users: list[str] = Field(default_factory=list)
    slack_allow_self_approval: bool = Field(
        default=False, description="Let a brand manager approve a flagged image they asked for themselves."
    )
    slack_group_cache_s: float = Field(default=300.0, ge=0, description="How long user-group members are cached.")
    slack_max_body_bytes: int = Field(default=1024 * 1024, gt=0, description="Larger requests get 413 unread.")
    slack_progress_interval_s: float = Field(default=1.0, ge=0.2, description="Least time between thread edits.")
    slack_progress_edits_per_minute: int = Field(
        default=40, ge=4,
        description="Progress edits (chat.update) per minute per workspace, for all requests together; Slack's"
        " Tier 3 limit is about 50, and approvals edit messages too.",
    )
    slack_rate_limit_retries: int = Field(default=5, ge=0, description="Retries of a Web API call answered 429.")
    slack_file_hosts: list[str] = Field(
        default_factory=lambda: ["files.slack.com"],
        description="Hosts (or origins such as http://127.0.0.1:8080) /brandgate verify may fetch files from"
        " with the bot token; anything else, redirects included, is refused.",
    )

    signing_cert: Path | None = None
    signing_key: Path | None = None
    trust_anchors: Path | None = None
    trail_key: Path | None = Field(
        default=None, description="Ed25519 PEM key that signs the audit tree's heads (default: KEYS_DIR/trail-key.pem)."
    )
    trail_public_key: Path | None = Field(
        default=None, description="The trail key's public half, for checking heads where the private key is not kept."
    )
    tsa_url: str | None = Field(
        default=None,
        description="RFC 3161 time-stamp authority for C2PA signatures; optional, none is reachable offline.",
    )
    signing_thumbnail: bool = Field(
        default=False,
        description="Embed a thumbnail in each manifest (adds tens of ms per image).",
    )
    visual_match_max_distance: int = Field(
        default=10, ge=0, le=64,
        description="Largest perceptual-hash distance `verify` reports as a visual match.",
    )

    # Jobs: the local pool size, the limits checked before anything is queued, crash policy.
    local_workers: int = Field(default=1, ge=1, le=64, description="Worker threads of the local queue.")
    preview_profile: str = "preview"
    export_profile: str = "export"
    generation_chunk: int = Field(
        default=1, ge=1, le=16,
        description="Images per model call (capped by the profile's max_batch_size); 1 lets the checks "
        "of one image run while the model makes the next.",
    )
    max_jobs_per_user: int = Field(default=3, ge=1, description="Queued or running requests per user.")
    max_daily_images_per_user: int = Field(default=200, ge=1)
    max_queue_length: int = Field(default=100, ge=1, description="Queued requests per queue.")
    kit_daily_budget_usd: float = Field(default=50.0, ge=0, description="GPU spend per kit per UTC day.")
    job_max_attempts: int = Field(default=3, ge=1, description="Deliveries of one job before it fails.")
    job_retry_delay_s: float = Field(default=5.0, ge=0)
    job_lease_s: float = Field(
        default=30.0, gt=0, description="A running job whose heartbeat is older than this is orphaned."
    )
    broker_visibility_timeout_s: int = Field(
        default=3600, ge=1, description="Redis redelivers an unacknowledged job after this; > longest job."
    )
    metrics_port: int = Field(
        default=9464, ge=0, le=65535,
        description="First /metrics port of a worker (pool process k prefers port + k); 0 = off.",
    )
    metrics_port_span: int = Field(
        default=16, ge=1, le=1024,
        description="Ports from METRICS_PORT a process may take when earlier ones are busy; 1 = that port only.",
    )
    log_format: Literal["json", "text"] = "json"
    health_timeout_s: float = Field(default=5.0, gt=0, le=120, description="Bound on each check of `health`.")
    health_min_free_bytes: int = Field(
        default=1024**3, ge=0, description="`health` fails when the artifacts or database disk has less free."
    )

    # Local detector folders for the content checks; a kit's policy.yaml `detector:` option wins.
    counts_detector: Path | None = Field(
        default=None, description="Zero-shot object detector folder (OWL-ViT/OWLv2) BG401 counts with."
    )
    anatomy_detector: Path | None = Field(
        default=None, description="Zero-shot detector folder BG402 finds hands and people with (else counts_detector)."
    )
    hand_models_dir: Path | None = Field(
        default=None,
        description="Folder of the hand and face models BG402 runs with no configuration "
        "(default: models_dir/mediapipe, filled by `make setup`).",
    )

    max_image_bytes: int = Field(default=50 * 1024 * 1024, gt=0)
    max_image_pixels: int = Field(default=40_000_000, gt=0)

    # Nightly regression suite, the determinism watchdog and the model gate (docs/regression.md).
    slack_report_channel: str | None = Field(default=None, description="Channel ID for regression reports.")
    regress_suite: Path = Field(default=PROJECT_ROOT / "suites" / "core.yaml")
    regress_seeds: int = Field(default=2, ge=1, le=16)
    regress_concurrency: int = Field(default=2, ge=1, le=64)
    regress_reports_dir: Path = Field(default=PROJECT_ROOT / "var" / "reports")
    regress_render_timeout_s: float = Field(default=600.0, gt=0, description="Longest wait for one render.")
    watchdog_tolerance: float = Field(
        default=0.5, ge=0, description="Most mean absolute difference (0-255 levels) between two renders of one seed."
    )
    nightly_cron: str = Field(default="0 2 * * *", description="When the nightly suite runs (crontab, UTC).")
    # The audit chain's head, posted daily where the database's owners cannot edit it (docs/audit.md).
    slack_compliance_channel: str | None = Field(
        default=None, description="Channel ID where the scheduler posts the audit chain head daily."
    )
    audit_anchor_cron: str = Field(default="0 6 * * *", description="When the chain head is posted (crontab, UTC).")
    audit_head_cron: str = Field(
        default="0 * * * *", description="When a signed tree head is made over the trail (crontab, UTC)."
    )
    # The review desk (docs/slack.md): what a decision costs, and the weekly governance report.
    review_cost_usd: float = Field(default=0.0, ge=0, description="What one brand manager's decision costs (USD).")
    review_reminder_cron: str = Field(
        default="0 * * * *", description="When waiting images are checked against each kit's review_sla_hours."
    )
    slack_governance_channel: str | None = Field(
        default=None, description="Channel ID where the scheduler posts the weekly governance report."
    )
    governance_report_cron: str = Field(default="0 8 * * mon", description="When the weekly report is posted (UTC).")
    scheduler_misfire_grace_s: int = Field(default=3600, ge=1, description="A missed run still starts this late.")
    gate_max_family_drop_points: float = Field(default=1.0, ge=0, description="Pass-rate points a family may lose.")
    gate_allow_unmeasured: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Brief or check families the gate lets stay 'not measured' (their defining check could not "
        "decide); any other unmeasured family refuses promotion. JSON list or comma-separated.",
    )
    gate_max_p95_ratio: float = Field(default=1.2, gt=0)
    gate_memory_budget_bytes: int = Field(default=16 * 1024**3, gt=0, description="Peak VRAM (GPU) or RSS (CPU).")
    gate_max_cost_ratio: float = Field(default=1.1, gt=0, description="Cost per usable image vs the active model.")
    auto_rollback: bool = Field(default=False, description="Roll back when the nightly run breaks the criteria.")

    @field_validator("gate_allow_unmeasured", mode="before")
    @classmethod
    def _families_list(cls, value: Any) -> Any:
        if isinstance(value, str):
            if value.strip().startswith("["):
                return json.loads(value)
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("broker_url")
    @classmethod
    def _broker_url_usable(cls, value: str) -> str:
        """A broker URL refused here, in one line, rather than by kombu with a traceback."""
        parts = urlsplit(value.strip())
        try:
            parts.port  # noqa: B018 - raises for a port outside 0-65535
        except ValueError:
            raise ValueError("has a port that is not a TCP port (1-65535)") from None
        if parts.scheme in ("redis", "rediss"):
            database = parts.path.strip("/")
            if database and not database.isdigit():
                raise ValueError(
                    f"names Redis database {quote(database, 40)}; a Redis database is a number (redis://HOST:6379/0)"
                )
        return value.strip()

    @field_validator("database_url")
    @classmethod
    def _url_not_empty(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("is empty; give an SQLAlchemy URL such as sqlite:///var/brandgate.db")
        return value.strip()


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once on first use; a bad value is a ConfigError naming its variable."""
    try:
        return Settings()
    except ValidationError as exc:
        raise ConfigError(describe_settings_error(exc)) from None
    except SettingsError as exc:
        raise ConfigError(describe_settings_error(exc)) from None


def describe_settings_error(exc: ValidationError | SettingsError) -> str:
    """One line naming the BRANDGATE_ variable at fault and what it must be, quoting little of its value."""
    prefix = Settings.model_config.get("env_prefix", "")
    if isinstance(exc, SettingsError):
        # pydantic-settings says 'error parsing value for field "slack_managers" from source ...'.
        found = re.search(r'field "(\w+)"', str(exc))
        name = f"{prefix}{found.group(1)}".upper() if found else "a BRANDGATE_ setting"
        kind = _annotation_words(found.group(1)) if found else "a valid value"
        return f"setting {name} cannot be read: give {kind}"
    clauses = []
    for err in exc.errors()[:3]:
        field = str(err["loc"][0]) if err["loc"] else ""
        name = f"{prefix}{field}".upper() if field else "a BRANDGATE_ setting"
        message = str(err["msg"]).removeprefix("Value error, ")
        got = err.get("input")
        shown = f" (got {quote(got, 60)})" if isinstance(got, str) and not _secret(field) else ""
        clauses.append(f"setting {name}: {message}{shown}")
    return "; ".join(clauses)


def _secret(field: str) -> bool:
    """Tokens, and URLs (which may carry a password), are never repeated back."""
    info = Settings.model_fields.get(field)
    return field.endswith("_url") or (info is not None and "SecretStr" in str(info.annotation))


def _annotation_words(field: str) -> str:
    info = Settings.model_fields.get(field)
    if info is not None and "list" in str(info.annotation):
        return 'a JSON list, like ["U012AB3CD"]'
    return "a valid value"
