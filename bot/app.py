"""Building the Slack app from settings: Web API client, middleware, listeners. Nothing runs at import."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor

from slack_bolt import App
from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler

from bot.access import Access, GroupMembers
from bot.governance import BrandgateGovernance, Governance
from bot.listeners import actions, commands, events, views
from bot.middleware.authorisation import WorkspaceOnly
from bot.middleware.retries import DeliveryLog, DropRetries
from bot.progress import ProgressTracker
from bot.runtime import BotMetrics, Runtime
from brandgate.errors import ConfigError
from brandgate.settings import Settings

log = logging.getLogger(__name__)
RUNTIME_KEY = "brandgate_runtime"


def web_client(settings: Settings, token: str) -> WebClient:
    """The Web API client: base URL from settings, and a 429 answered by waiting Retry-After and going on."""
    base_url = settings.slack_api_url if settings.slack_api_url.endswith("/") else settings.slack_api_url + "/"
    return WebClient(
        token=token,
        base_url=base_url,
        timeout=30,
        retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=settings.slack_rate_limit_retries)],
    )


def build_app(settings: Settings, governance: Governance | None = None) -> App:
    """The bolt App for these settings. `governance` defaults to the real queue and audit database."""
    if settings.slack_bot_token is None or settings.slack_signing_secret is None:
        raise ConfigError(
            "the bot needs BRANDGATE_SLACK_BOT_TOKEN (xoxb-…) and BRANDGATE_SLACK_SIGNING_SECRET;"
            " both are on the Slack app's Basic Information and OAuth pages (docs/slack.md)"
        )
    client = web_client(settings, settings.slack_bot_token.get_secret_value())
    # Lazy listeners and deliveries share one bounded pool: a burst of commands queues work, not threads.
    executor = ThreadPoolExecutor(max_workers=16, thread_name_prefix="brandgate-bot")
    governance = governance if governance is not None else BrandgateGovernance(settings)
    metrics = BotMetrics()
    runtime = Runtime(
        settings=settings,
        client=client,
        governance=governance,
        access=Access(settings, GroupMembers(client, settings.slack_group_cache_s)),
        tracker=ProgressTracker(client, governance, executor, interval=settings.slack_progress_interval_s),
        executor=executor,
        deliveries=DeliveryLog(),
        metrics=metrics,
    )
    app = App(
        name="brandgate",
        client=client,
        signing_secret=settings.slack_signing_secret.get_secret_value(),
        listener_executor=executor,
        # Ack functions run on the request's own thread, so a burst of lazy work (queueing, uploads)
        # on the executor can never delay an ack; lazy listeners still run after the response.
        process_before_response=True,
        # auth.test once at start-up: a wrong token fails here, not at the first command.
        token_verification_enabled=True,
    )
    app.use(DropRetries(runtime.deliveries, on_drop=metrics.repeats_dropped.inc))
    app.use(WorkspaceOnly())
    for listeners in (commands, actions, views, events):
        listeners.register(app, runtime)
    app.error(_log_error)
    setattr(app, RUNTIME_KEY, runtime)
    return app


def runtime_of(app: App) -> Runtime:
    """The shared state `build_app` made for this app (the HTTP server's /metrics and shutdown use it)."""
    runtime: Runtime = getattr(app, RUNTIME_KEY)
    return runtime


def _log_error(error: Exception) -> None:
    log.exception("unhandled error in a Slack listener", exc_info=error)
