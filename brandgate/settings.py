"""Settings from BRANDGATE_* environment variables or a `.env` file; nothing is built at import."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    """Every knob an operator sets. Names are part of DESIGN.md's public contract."""

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
    slack_rate_limit_retries: int = Field(default=5, ge=0, description="Retries of a Web API call answered 429.")

    signing_cert: Path | None = None
    signing_key: Path | None = None
    trust_anchors: Path | None = None
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

    max_image_bytes: int = Field(default=50 * 1024 * 1024, gt=0)
    max_image_pixels: int = Field(default=40_000_000, gt=0)

    @field_validator("database_url")
    @classmethod
    def _url_not_empty(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("BRANDGATE_DATABASE_URL is empty; give an SQLAlchemy URL")
        return value.strip()


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once on first use."""
    return Settings()
