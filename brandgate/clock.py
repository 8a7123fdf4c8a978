"""The time the trail records: always aware, always UTC."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import overload


def now() -> datetime:
    return datetime.now(UTC)


@overload
def as_utc(moment: datetime) -> datetime: ...
@overload
def as_utc(moment: None) -> None: ...
def as_utc(moment: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; everything we write is UTC."""
    if moment is None:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def moment(text: str, *, end_of_day: bool = False) -> datetime:
    """An ISO date or date-time a person typed to bound a period; no offset means UTC. A bare date as
    the end of a period (`end_of_day`) is the start of the next day, so that whole day is included.
    ValueError when it is neither."""
    text = text.strip()
    if len(text) == 10:
        day = date.fromisoformat(text)
        start = datetime(day.year, day.month, day.day, tzinfo=UTC)
        return start + timedelta(days=1) if end_of_day else start
    return as_utc(datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00")))
