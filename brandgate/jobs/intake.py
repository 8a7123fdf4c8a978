"""Turning a submission or an export click into a validated request, before any limit or queue."""

from __future__ import annotations

import logging

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from brandgate.db.models import Approval, Image, Request
from brandgate.errors import UserError
from brandgate.jobs.contract import BriefRefused, Submission, UnknownRequest
from brandgate.jobs.state import NewRequest
from brandgate.kits import resolve_kit
from brandgate.requests.decisions import needs_a_person
from brandgate.settings import Settings
from pipeline.compose import check_brief_fits
from pipeline.profiles import load_profile
from policies.brief import Brief, brief_from_mapping, choose_seed
from policies.characters import quote
from policies.engine import screen_brief
from policies.kit import Kit

log = logging.getLogger(__name__)

MAX_PERSON_CHARS = 100
MAX_KEY_CHARS = 200


def _person(value: str, what: str) -> str:
    value = (value or "").strip()
    if not value:
        raise UserError(f"{what}: say who is asking (a user name or Slack user ID)")
    if len(value) > MAX_PERSON_CHARS:
        raise UserError(f"{what}: at most {MAX_PERSON_CHARS} characters (got {len(value)})")
    return value


def _key(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip()
    if not value or len(value) > MAX_KEY_CHARS:
        raise UserError(f"idempotency key: give 1 to {MAX_KEY_CHARS} characters")
    return value


def refuse_by_policy(brief: Brief, kit: Kit) -> None:
    """BriefRefused when a brief-only check of the kit's policy (BG501) rejects the brief.

    The same screening the worker repeats before generating; here it costs nothing, so a
    marketer's wording is answered at once and never counted as a failed job. A screening check
    that could not run refuses nothing here: the worker's screening reports it.
    """
    refusing = [c for c in screen_brief(brief, kit) if c.status == "fail" and c.severity == "reject"]
    if refusing:
        reason = "; ".join(f"{c.id} {c.name}: {c.message.removeprefix('brief refused: ')}" for c in refusing)
        reason += "; change the wording and ask again"
        raise BriefRefused(reason, tuple(c.id for c in refusing))


def check_brief_at_intake(brief: Brief, kit: Kit) -> None:
    """Everything that needs only the brief and its kit: fit, glyphs, logo, layout, then policy screening.

    UserError (exit 2) for what cannot be served, BriefRefused for what the policy refuses.
    """
    check_brief_fits(brief, kit)
    refuse_by_policy(brief, kit)


def new_request(settings: Settings, submission: Submission) -> NewRequest:
    """Validate what a person asked for against the kit and profile it names."""
    brief = submission.brief
    kit = resolve_kit(brief.kit, settings)
    try:
        check_brief_at_intake(brief, kit)
    except BriefRefused as exc:
        # A refusal is the policy working, not a fault: INFO, so an alert on errors stays quiet.
        log.info(
            "brief refused at intake: %s", exc.reason,
            extra={"event": "request.refused", "kit": kit.name, "checks": list(exc.check_ids),
                   "source": submission.source},
        )
        raise
    seed = brief.seed if brief.seed is not None else choose_seed()  # a brief's own seed is validated
    return NewRequest(
        brief=brief.model_dump(mode="json"),
        brief_hash=brief.content_hash(),
        kit_name=kit.name,
        kit_hash=kit.content_hash,
        requested_by=_person(submission.requested_by, "requested_by"),
        source=submission.source[:20],
        channel=submission.channel,
        idempotency_key=_key(submission.idempotency_key),
        profile_name=submission.profile,
        profile_hash=load_profile(submission.profile, settings).content_hash(),
        seed=seed,
        n_images=brief.n,
        # A full-size render is heavy work: it goes where it cannot hold previews up.
        queue="export" if submission.profile == settings.export_profile else "preview",
    )


def new_export(
    sessions: sessionmaker[Session], settings: Settings, image_id: str, requested_by: str,
    idempotency_key: str | None,
) -> NewRequest:
    """The HQ export of a preview: same brief and seed, the export profile, the export queue."""
    image_id = (image_id or "").strip()
    if not image_id or len(image_id) > 64:
        raise UserError("export: give the ID of a preview image (see `brandgate status REQUEST_ID`)")
    with sessions() as session:
        image = session.get(Image, image_id)
        if image is None:
            raise UnknownRequest(
                f"no image {quote(image_id, 64)}; `brandgate status REQUEST_ID` lists a request's images"
            )
        if image.kind != "preview":
            raise UserError(f"image {image_id} is already an export; export its preview {image.parent_image_id}")
        approval = session.scalars(select(Approval).where(Approval.image_id == image.id)).first()
        decision = approval.decision if approval is not None else None
        if image.verdict == "reject" or decision == "rejected":
            why = "rejected by a brand manager" if decision == "rejected" else "rejected by the brand checks"
            raise UserError(f"image {image_id} was {why}; it cannot be exported")
        if needs_a_person(image.verdict) and decision != "approved":
            why = "not fully checked" if image.verdict == "unverified" else "flagged by the brand checks"
            raise UserError(
                f"image {image_id} is {why} ({image.verdict}); a brand manager must approve it before the HQ export"
            )
        request = session.get(Request, image.request_id)
        assert request is not None
        brief_data = dict(request.brief)
    brief_data["n"] = 1
    brief_data["seed"] = image.seed
    brief = brief_from_mapping(brief_data, f"brief of request {request.id}")
    kit = resolve_kit(brief.kit, settings)
    return NewRequest(
        brief=brief.model_dump(mode="json"),
        brief_hash=request.brief_hash,
        kit_name=kit.name,
        kit_hash=kit.content_hash,
        requested_by=_person(requested_by, "requested_by"),
        source="export",
        channel=request.channel,
        idempotency_key=_key(idempotency_key),
        profile_name=settings.export_profile,
        profile_hash=load_profile(settings.export_profile, settings).content_hash(),
        seed=image.seed,
        n_images=1,
        queue="export",
        parent_image_id=image.id,
    )
