"""BG603 through the real pipeline: the tiny model's coloured noise is flagged under its brand elements."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from brandgate.db.models import CheckResultRow
from brandgate.jobs.local import LocalQueue
from brandgate.settings import Settings
from tests.brandgate.jobs.support import BRANDED_BRIEF, Records, submission


def test_tiny_model_noise_is_flagged_and_each_image_is_compared_with_the_earlier(
    job_settings: Settings, records: Records
) -> None:
    queue = LocalQueue(job_settings)
    try:
        status = queue.wait(queue.submit(submission(**{**BRANDED_BRIEF, "n": 2})).request_id, timeout=300)
    finally:
        queue.close()

    assert status.state == "done", status
    assert [image.verdict for image in status.images] == ["flag", "flag"]
    for image in status.images:
        failed = {check["id"]: check for check in image.failed_checks}
        assert "BG603" in failed, image.failed_checks
        assert failed["BG603"]["message"].startswith("degenerate picture: coloured noise")

    with Session(records.engine) as session:
        rows = session.scalars(select(CheckResultRow).where(CheckResultRow.check_id == "BG603")).all()
        by_image = {row.image_id: row for row in rows}
    first, second = (by_image[image.image_id] for image in status.images)
    # The headline plate and logo are left out: what is measured is the generated background.
    assert first.evidence["background_share"] < 1.0
    assert "nearest_earlier" not in first.evidence
    # The second image was compared with the first one's background, and is not a copy of it.
    assert second.evidence["nearest_earlier"]["index"] == 0
    assert second.evidence["nearest_earlier"]["difference"] > 4
