"""Building the Slack app from settings: Web API client, middleware, listeners. Nothing runs at import."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

from slack_bolt import App
from slack_bolt.error import BoltError
from slack_sdk.errors import SlackApiError

from bot.access import Access, GroupMembers
from bot.brandgate_services import BrandgateServices
from bot.listener_parts import BotMetrics, Runtime
from bot.listeners import actions, commands, events, views
from bot.middleware.authorisation import WorkspaceOnly
from bot.middleware.retries import DeliveryLog, DropRetries
from bot.people import DisplayNames
from bot.progress import ProgressTracker
from bot.review_desk import ReviewDesk
from bot.services import Services
from brandgate.errors import ConfigError
from brandgate.settings import Settings
from brandgate.slack_client import web_client

log = logging.getLogger(__name__)
RUNTIME_KEY = "brandgate_runtime"


def build_app(settings: Settings, services: Services | None = None) -> App:
    """The bolt App for these settings. `services` defaults to the real queue and audit database."""
    secret = settings.slack_signing_secret.get_secret_value().strip() if settings.slack_signing_secret else ""
    token = settings.slack_bot_token.get_secret_value().strip() if settings.slack_bot_token else ""
    if not token or not secret:
        # An empty secret would start a bot that refuses (or, worse, cannot check) every request.
        raise ConfigError(
            "the bot needs BRANDGATE_SLACK_BOT_TOKEN (xoxb-…) and BRANDGATE_SLACK_SIGNING_SECRET, neither empty;"
            " both are on the Slack app's Basic Information and OAuth pages (docs/slack.md)"
        )
    client = web_client(settings, "the bot")
    # Lazy listeners and deliveries share one bounded pool: a burst of commands queues work, not threads.
    executor = ThreadPoolExecutor(max_workers=16, thread_name_prefix="brandgate-bot")
    services = services if services is not None else BrandgateServices(settings)
    metrics = BotMetrics()
    access = Access(settings, GroupMembers(client, settings.slack_group_cache_s))
    desk = ReviewDesk(settings, client, services, access, interval=settings.slack_progress_interval_s)
    tracker = ProgressTracker(
        client, services, executor, interval=settings.slack_progress_interval_s,
        edits_per_minute=settings.slack_progress_edits_per_minute,
    )
    tracker.needs_decisions = desk.request_needs_decisions
    desk.after_decision = tracker.recount
    runtime = Runtime(
        settings=settings,
        client=client,
        services=services,
        access=access,
        tracker=tracker,
        executor=executor,
        deliveries=DeliveryLog(),
        metrics=metrics,
        desk=desk,
        people=DisplayNames(client, settings.slack_group_cache_s),
    )
    with _start_up_errors(settings):
        app = App(
            name="brandgate",
            client=client,
            signing_secret=secret,
            listener_executor=executor,
            # Ack functions run on the request's own thread, so a burst of lazy work (queueing, uploads)
            # on the executor can never delay an ack; lazy listeners still run after the response.
            process_before_response=True,
            # auth.test once at start-up: a wrong token or an unreachable API stops the bot here.
            token_verification_enabled=True,
        )
    app.use(DropRetries(runtime.deliveries, on_drop=metrics.repeats_dropped.inc))
    app.use(WorkspaceOnly())
    for listeners in (commands, actions, views, events):
        listeners.register(app, runtime)
    app.error(_log_error)
    setattr(app, RUNTIME_KEY, runtime)
    # Decisions made anywhere (another bot process, the CLI) are followed from now on.
    desk.start()
    return app


@contextmanager
def _start_up_errors(settings: Settings) -> Iterator[None]:
    """bolt's start-up auth.test failing, as one line saying what to fix (never a traceback)."""
    # The SDK logs a failed call at ERROR with its own wording; the one line below says it better.
    sdk_log = logging.getLogger("slack_sdk.web.base_client")
    level = sdk_log.level
    sdk_log.setLevel(logging.CRITICAL)
    try:
        yield
    except (BoltError, SlackApiError) as exc:
        # bolt wraps auth.test's SlackApiError in a BoltError whose text repeats the whole response.
        cause = exc if isinstance(exc, SlackApiError) else exc.__context__
        error = cause.response.get("error") if isinstance(cause, SlackApiError) else None
        raise ConfigError(
            f"Slack refused BRANDGATE_SLACK_BOT_TOKEN ({error or 'auth.test failed'});"
            " copy the Bot User OAuth Token (xoxb-…) from the app's OAuth & Permissions page"
        ) from None
    except (OSError, ValueError) as exc:
        # URLError is an OSError; its reason never carries the token.
        reason = getattr(exc, "reason", None) or exc
        raise ConfigError(
            f"cannot reach the Slack Web API at {settings.slack_api_url} ({reason});"
            " check the network, or BRANDGATE_SLACK_API_URL"
        ) from None
    finally:
        sdk_log.setLevel(level)


def runtime_of(app: App) -> Runtime:
    """The shared state `build_app` made for this app (the HTTP server's /metrics and shutdown use it)."""
    runtime: Runtime = getattr(app, RUNTIME_KEY)
    return runtime


def _log_error(error: Exception) -> None:
    log.exception("unhandled error in a Slack listener", exc_info=error)
