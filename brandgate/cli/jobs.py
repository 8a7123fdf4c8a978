"""`brandgate generate|export|status|cancel`: requests through the configured queue, without Slack."""

from __future__ import annotations

import getpass
import json
import math
import sys
import time
from pathlib import Path
from typing import Any

import click

from brandgate.cli.output import check_out_folder, copy_private, emit_json, say, warn, write_private
from brandgate.cli.progress import ProgressDisplay, mode_for
from brandgate.contact_sheet import write_contact_sheet
from brandgate.errors import EXIT_BAD_INPUT, EXIT_FAILURE, UserError
from brandgate.jobs.contract import BriefRefused, JobQueue, RequestStatus, Submission
from brandgate.jobs.intake import check_brief_at_intake
from brandgate.jobs.queues import open_queue
from brandgate.jobs.request_side import QueueFront
from brandgate.kits import resolve_kit
from brandgate.logs import in_request
from brandgate.requests.states import TERMINAL_STATES
from brandgate.settings import Settings, get_settings
from policies.brief import brief_from_mapping, load_brief

DEFAULT_TIMEOUT_S = 3600.0


class Seconds(click.ParamType[float]):
    """A wait in seconds: a positive, finite number (a negative one would leave the request queued
    with nobody waiting for it, and nan never compares past a deadline)."""

    name = "seconds"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> float:
        try:
            seconds = float(value)
        except (TypeError, ValueError):
            self.fail(f"{value!r} is not a number of seconds", param, ctx)
        if not math.isfinite(seconds) or seconds <= 0:
            self.fail(f"{value!r}: give a positive number of seconds", param, ctx)
        return seconds


def _user(explicit: str | None) -> str:
    if explicit:
        return explicit
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "cli"


def _open(settings: Settings) -> JobQueue:
    return open_queue(settings)


def follow(queue: JobQueue, request_id: str, timeout: float, *, show: bool) -> RequestStatus:
    """Wait for the request, showing its progress (brandgate/cli/progress.py) unless `show` is off.

    On a terminal: a bar of images done with time left; under a pipe: a line on stderr per stage
    and image (not per denoising step).
    """
    deadline = time.monotonic() + timeout
    last = ""
    shown_index = 0  # the last image whose 'generating k/n' line was printed
    display = ProgressDisplay("generate", "images", mode=mode_for(not show))
    try:
        with display:
            while True:
                status = queue.wait(request_id, timeout=min(0.25, max(0.0, deadline - time.monotonic())))
                text = status.describe()
                if display.mode == "bar":
                    if status.n_images and display.total != status.n_images:
                        display.set_total(status.n_images)
                    display.update(_images_done(status), note=text)
                elif show:
                    # A short image can start and finish between two looks: still a line for each.
                    for missed in _images_passed_unseen(status, shown_index):
                        warn(f"generating {missed}/{status.n_images}")
                    if text != last and _coarse(text) != _coarse(last):
                        warn(text)
                    shown_index = max(shown_index, _image_reached(status))
                last = text
                if status.state in TERMINAL_STATES or time.monotonic() >= deadline:
                    return status
    except KeyboardInterrupt:
        # The work runs on our behalf: stop it rather than leave it spending GPU time.
        queue.cancel(request_id, by="cli-interrupt")
        raise


def _coarse(text: str) -> str:
    """Without a terminal, print a line per stage and image, not per step."""
    return text.split(", step")[0]


def _image_reached(status: RequestStatus) -> int:
    """The highest image (1-based) this status shows as started or made."""
    if status.state == "done":
        return len(status.images)
    if status.state == "running" and status.image_index:
        return status.image_index
    return 0


def _images_passed_unseen(status: RequestStatus, shown_index: int) -> range:
    """Images started since the last look whose own 'generating k/n' line was never printed.

    The image being generated now prints its own line (with its step), so it is left out.
    """
    reached = _image_reached(status)
    current = status.image_index if status.state == "running" and status.stage == "generating" else None
    last_unseen = reached - 1 if current == reached else reached
    return range(shown_index + 1, last_unseen + 1)


def _images_done(status: RequestStatus) -> float:
    """Images finished, with the one being made counted by its denoising steps."""
    if status.state == "done":
        return float(status.n_images or 0)
    if status.state == "running" and status.image_index and status.n_images:
        within = (status.step or 0) / status.steps if status.steps else 0.0
        return (status.image_index - 1) + within
    return 0.0


def copy_outputs(status: RequestStatus, out: Path) -> dict[str, tuple[str, str | None]]:
    """Copy each signed image and its credentials sidecar into OUT with readable names."""
    out.mkdir(parents=True, exist_ok=True)
    copies: dict[str, tuple[str, str | None]] = {}
    for view in status.images:
        source = Path(view.artifact_path)
        stem = f"{status.request_id[:8]}-{view.index + 1:02d}-{view.verdict}"
        target = out / f"{stem}{source.suffix}"
        copy_private(source, target)
        manifest = None
        if view.manifest_path:
            manifest = str(out / f"{stem}.c2pa")
            copy_private(Path(view.manifest_path), Path(manifest))
        copies[view.image_id] = (str(target), manifest)
    return copies


def status_document(status: RequestStatus, copies: dict[str, tuple[str, str | None]] | None = None) -> dict[str, Any]:
    copies = copies or {}
    return {
        "request_id": status.request_id,
        "state": status.state,
        "description": status.describe(),
        "position": status.position,
        "stage": status.stage,
        "failure_reason": status.failure_reason,
        "n_images": status.n_images,
        "cost_usd": status.cost_usd,
        "images": [
            {
                "image_id": v.image_id,
                "index": v.index,
                "verdict": v.verdict,
                "seed": v.seed,
                "cost_usd": v.cost_usd,
                "path": copies.get(v.image_id, (v.artifact_path, None))[0],
                "credentials": copies.get(v.image_id, (None, v.manifest_path))[1] or v.manifest_path,
                "artifact_path": v.artifact_path,
                "failed_checks": [dict(c) for c in v.failed_checks],
                "decided_by": v.decided_by,
            }
            for v in status.images
        ],
    }


def _exit_code(status: RequestStatus) -> int:
    if status.state == "done":
        return 0
    if status.state == "failed" and status.stage == "screening":
        return EXIT_BAD_INPUT  # the prompt itself was refused: change it and submit again
    return EXIT_FAILURE


def _report(status: RequestStatus, out: Path | None, as_json: bool, what: str) -> None:
    copies = None
    sheet = None
    if out is not None and status.images:
        copies = copy_outputs(status, out)
        sheet = write_contact_sheet(out / "contact-sheet.html", [status], copies, title=what)
    document = status_document(status, copies)
    document["contact_sheet"] = str(sheet) if sheet else None
    if out is not None:
        # The request as JSON next to its images: scripts (and `make demo`) read IDs from it.
        out.mkdir(parents=True, exist_ok=True)
        write_private(out / "request.json", (json.dumps(document, indent=2, default=str) + "\n").encode())
    if as_json:
        emit_json(document)
    else:
        say(f"request {status.request_id}: {status.describe()} (cost ${status.cost_usd:.4f})")
        for view in status.images:
            path = (copies or {}).get(view.image_id, (view.artifact_path, None))[0]
            failed = "; ".join(str(c.get("message") or c["id"]) if str(c.get("message", "")).startswith(c["id"])
                               else f"{c['id']}: {c.get('message', '')}" for c in view.failed_checks)
            say(f"  {view.index + 1}. {view.verdict:<8} {path}" + (f"  [{failed}]" if failed else ""))
        if sheet:
            say(f"contact sheet: {sheet}")


def report_refused(refused: BriefRefused, as_json: bool) -> None:
    """A policy refusal as its own outcome: nothing was recorded, so there is no request ID."""
    if as_json:
        emit_json({"request_id": None, "state": "refused", "description": str(refused),
                   "refused_by": list(refused.check_ids), "reason": refused.reason, "images": []})
    else:
        warn(f"refused: {refused.reason} (nothing was queued or recorded)")


@click.command("generate")
@click.option("--brief", "brief_file", required=True, type=click.Path(path_type=Path),
              help="Brief file (.yaml, .yml or .json).")
@click.option("--profile", default=None, help="Model profile (default: the preview profile).")
@click.option("--n", "n", type=int, default=None, help="Number of images (overrides the brief).")
@click.option("--seed", type=int, default=None, help="Seed (overrides the brief).")
@click.option("--out", type=click.Path(path_type=Path), default=None,
              help="Copy the signed images, their credentials and a contact sheet here.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@click.option("--user", default=None, help="Who is asking (default: your login name).")
@click.option("--timeout", type=Seconds(), default=DEFAULT_TIMEOUT_S, show_default=True,
              help="Seconds to wait for the request to finish.")
def generate(brief_file: Path, profile: str | None, n: int | None, seed: int | None, out: Path | None,
             as_json: bool, user: str | None, timeout: float) -> None:
    """Generate, check, sign and audit the images of a brief; exit 0 when done, whatever the verdicts."""
    settings = get_settings()
    brief = load_brief(brief_file)
    if n is not None or seed is not None:
        data = brief.model_dump(mode="json")
        if n is not None:
            data["n"] = n
        if seed is not None:
            data["seed"] = seed
        brief = brief_from_mapping(data, str(brief_file))
    if out is not None:
        check_out_folder(out)
    try:
        # Before any queue (and its workers) opens: intake repeats it, but a refusal costs nothing here.
        check_brief_at_intake(brief, resolve_kit(brief.kit, settings))
    except BriefRefused as exc:
        report_refused(exc, as_json)
        sys.exit(EXIT_BAD_INPUT)
    queue = _open(settings)
    try:
        accepted = queue.submit(Submission(
            brief=brief, requested_by=_user(user), source="cli",
            profile=profile or settings.preview_profile,
        ))
        if not as_json:
            warn(f"request {accepted.request_id} queued ({accepted.position} ahead)")
        with in_request(accepted.request_id):  # our log lines from here on name the request
            status = follow(queue, accepted.request_id, timeout, show=not as_json)
            _report(status, out, as_json, f"brief {brief_file.name}")
    finally:
        queue.close()
    if status.state not in TERMINAL_STATES:
        warn(f"request {status.request_id} still {status.describe()} after {timeout:.0f} s; "
             f"follow it with `brandgate status {status.request_id}`")
        sys.exit(EXIT_FAILURE)
    if status.state != "done" and not as_json:
        warn(f"error: {status.describe()}")
    sys.exit(_exit_code(status))


@click.command("export")
@click.argument("image_id")
@click.option("--user", default=None, help="Who is asking (default: your login name).")
@click.option("--key", "idempotency_key", default=None, help="Idempotency key: the same key exports once.")
@click.option("--wait/--no-wait", default=True, show_default=True, help="Wait for the export to finish.")
@click.option("--out", type=click.Path(path_type=Path), default=None, help="Copy the export here.")
@click.option("--json", "as_json", is_flag=True)
@click.option("--timeout", type=Seconds(), default=DEFAULT_TIMEOUT_S, show_default=True)
def export(image_id: str, user: str | None, idempotency_key: str | None, wait: bool, out: Path | None,
           as_json: bool, timeout: float) -> None:
    """Export a preview IMAGE_ID with the export profile and its seed, as a new signed asset."""
    settings = get_settings()
    if not wait and settings.queue == "local":
        raise UserError("--no-wait needs BRANDGATE_QUEUE=celery: the local queue runs inside this command")
    if out is not None:
        check_out_folder(out)
    queue = _open(settings)
    try:
        accepted = queue.export(image_id, _user(user), idempotency_key)
        if not wait:
            status = queue.status(accepted.request_id)
            if as_json:
                emit_json({**status_document(status), "duplicate": accepted.duplicate})
            else:
                say(f"export {accepted.request_id} {status.describe()}")
            return
        status = follow(queue, accepted.request_id, timeout, show=not as_json)
        _report(status, out, as_json, f"export of {image_id}")
    finally:
        queue.close()
    sys.exit(_exit_code(status))


@click.command("status")
@click.argument("request_id")
@click.option("--json", "as_json", is_flag=True)
def status_command(request_id: str, as_json: bool) -> None:
    """Where a request is: queue position, progress, or its images and verdicts."""
    front = QueueFront(get_settings())
    try:
        status = front.status(request_id)
    finally:
        front.close()
    if as_json:
        emit_json(status_document(status))
    else:
        _report(status, None, False, "status")


@click.command("cancel")
@click.argument("request_id")
@click.option("--user", default=None, help="Who is cancelling (default: your login name).")
@click.option("--json", "as_json", is_flag=True)
def cancel(request_id: str, user: str | None, as_json: bool) -> None:
    """Cancel a request: removed if queued, stopped at the next denoising step if running."""
    front = QueueFront(get_settings())
    try:
        status = front.cancel(request_id, _user(user))
    finally:
        front.close()
    if as_json:
        emit_json(status_document(status))
    else:
        say(f"request {request_id}: {status.describe()}")


def register(cli: click.Group) -> None:
    for command in (generate, export, status_command, cancel):
        cli.add_command(command)
