"""The model registry: which profile is active, which are candidates or retired, and how that changes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from brandgate.db.audit import append_event
from brandgate.db.models import GoldenOutput, ModelProfileRow
from brandgate.errors import UserError
from brandgate.settings import Settings
from pipeline.profiles import load_profile, profile_names
from policies.errors import InvalidInput

ACTIVE, CANDIDATE, RETIRED = "active", "candidate", "retired"


@dataclass(frozen=True)
class RegistryEntry:
    """A profile as `models list` shows it."""

    name: str
    status: str  # active, candidate, retired, invalid (the file no longer validates)
    profile_hash: str | None
    recorded_hash: str | None
    model: str | None
    promoted_at: datetime | None
    golden_outputs: int
    problem: str | None = None

    @property
    def changed(self) -> bool:
        """The profile file differs from what was registered: a config change the gate has not seen."""
        return (
            self.recorded_hash is not None and self.profile_hash is not None and self.profile_hash != self.recorded_hash
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "status": self.status,
            "profile_hash": self.profile_hash,
            "recorded_hash": self.recorded_hash,
            "changed_since_registered": self.changed,
            "model": self.model,
            "promoted_at": self.promoted_at.isoformat() if self.promoted_at else None,
            "golden_outputs": self.golden_outputs,
            "problem": self.problem,
        }


def default_active_name(settings: Settings) -> str:
    return str(getattr(settings, "preview_profile", "preview"))


def _profile_json(name: str, settings: Settings) -> tuple[dict[str, Any], str, str]:
    profile = load_profile(name, settings)
    return profile.model_dump(mode="json"), profile.content_hash(), profile.model


def register(session: Session, name: str, settings: Settings) -> ModelProfileRow:
    """The registry row of a profile, added as a candidate the first time the profile is named."""
    row = session.scalars(select(ModelProfileRow).where(ModelProfileRow.name == name)).first()
    if row is not None:
        return row
    try:
        data, digest, model = _profile_json(name, settings)
    except InvalidInput as exc:
        raise UserError(f"cannot register profile {name!r}: {exc}") from None
    row = ModelProfileRow(name=name, status=CANDIDATE, profile=data, profile_hash=digest, model_path=model)
    session.add(row)
    session.flush()
    return row


def active(session: Session) -> ModelProfileRow | None:
    return session.scalars(select(ModelProfileRow).where(ModelProfileRow.status == ACTIVE)).first()


def ensure_active(session: Session, settings: Settings, actor: str) -> ModelProfileRow:
    """The active profile; on a fresh database the configured preview profile becomes active."""
    row = active(session)
    if row is not None:
        return row
    row = register(session, default_active_name(settings), settings)
    row.status = ACTIVE
    row.promoted_at = datetime.now(UTC)
    append_event(
        session,
        actor=actor,
        kind="model.activated",
        subject_type="model_profile",
        subject_id=row.name,
        payload={"profile": row.name, "profile_hash": row.profile_hash, "reason": "first active profile"},
    )
    return row


def entries(session: Session, settings: Settings) -> list[RegistryEntry]:
    """Every profile file and every registered profile, active first."""
    rows = {r.name: r for r in session.scalars(select(ModelProfileRow))}
    goldens: dict[int, int] = {}
    for g in session.scalars(select(GoldenOutput)):
        goldens[g.profile_id] = goldens.get(g.profile_id, 0) + 1
    listed = []
    for name in sorted(set(profile_names(settings)) | set(rows)):
        row = rows.get(name)
        current: str | None = None
        model: str | None = row.model_path if row else None
        problem = None
        try:
            _, current, model = _profile_json(name, settings)
        except InvalidInput as exc:
            problem = str(exc)
        status = row.status if row is not None else "unregistered"
        listed.append(
            RegistryEntry(
                name=name,
                status=status if problem is None else f"{status} (invalid)",
                profile_hash=current,
                recorded_hash=row.profile_hash if row else None,
                model=model,
                promoted_at=row.promoted_at if row else None,
                golden_outputs=goldens.get(row.id, 0) if row else 0,
                problem=problem,
            )
        )
    order = {ACTIVE: 0, CANDIDATE: 1, "unregistered": 2, RETIRED: 3}
    listed.sort(key=lambda e: (order.get(e.status, 4), e.name))
    return listed


def make_active(session: Session, candidate: ModelProfileRow, actor: str, payload: dict[str, Any]) -> None:
    """Promote: the candidate becomes active and remembers which profile it replaced."""
    current = active(session)
    if current is not None and current.id == candidate.id:
        raise UserError(f"profile {candidate.name!r} is already active")
    if current is not None:
        current.status = RETIRED
    candidate.status = ACTIVE
    candidate.previous_active_id = current.id if current is not None else None
    candidate.promoted_at = datetime.now(UTC)
    session.flush()
    append_event(
        session,
        actor=actor,
        kind="model.promoted",
        subject_type="model_profile",
        subject_id=candidate.name,
        payload={"profile": candidate.name, "replaced": current.name if current else None, **payload},
    )


def rollback(session: Session, actor: str, reason: str, payload: dict[str, Any] | None = None) -> tuple[str, str]:
    """Restore the profile that was active before this one; returns (rolled back, restored)."""
    current = active(session)
    if current is None:
        raise UserError("no profile is active, so there is nothing to roll back")
    if current.previous_active_id is None:
        raise UserError(f"profile {current.name!r} has no previous active profile to roll back to")
    previous = session.get(ModelProfileRow, current.previous_active_id)
    if previous is None:
        raise UserError(f"the previous active profile of {current.name!r} is no longer registered")
    current.status = RETIRED
    previous.status = ACTIVE
    previous.promoted_at = datetime.now(UTC)
    session.flush()
    append_event(
        session,
        actor=actor,
        kind="model.rolled_back",
        subject_type="model_profile",
        subject_id=previous.name,
        payload={"from": current.name, "to": previous.name, "reason": reason, **(payload or {})},
    )
    return current.name, previous.name
