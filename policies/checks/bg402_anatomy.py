"""BG402 anatomy: more hands than the people in the image could have.

What it checks: a local zero-shot object detector is asked for "a photo of a hand" and
"a photo of a person" in one pass (each box goes to the query it scores highest for; boxes at or
above `detector_threshold` count, after non-maximum suppression). With people found, more than
two hands per person is a `fail`. Diffusion models add a third hand to a person far more often
than they leave out a person, which is why the rule compares against twice the people found.

The detector is a folder holding a transformers zero-shot object detector (OWL-ViT / OWLv2
architecture: config, weights and processor files), named by the `detector` option, else the
`BRANDGATE_ANATOMY_DETECTOR` environment variable, else `BRANDGATE_COUNTS_DETECTOR` (the one
BG401 uses). Nothing is downloaded; it is loaded once per process and shared with BG401.

Outcomes:

- no detector configured: `unverified` ("not checked: hands and people"), never `pass`;
- hands found but no person: `unverified` by default, since a close-up of hands has no person
  in frame and their number says nothing; `fail` with `fail_hands_without_people: true`;
- more hands than twice the people: `fail`, with every box and score in the evidence;
- otherwise `pass`, which means only "no surplus hands were detected".

Not checked: finger counts and hand geometry (bent, fused or backwards fingers). They need a
hand-landmark (keypoint) model, none ships here and none can be downloaded, so BG402 does not
claim them; its evidence says so under `not_checked`.

The brief's prompt is not used to skip: a generated image can show people the prompt never asked
for, and those are the hands that go wrong. `only_when_prompted: true` skips the check (`skip`:
it does not apply) when the prompt names no people or hands (a word list: person, people, man,
woman, hand, ...).

Options (policy.yaml, under BG402):

- `detector`: path to the detector folder (overrides the environment variables).
- `detector_threshold` (0.3): detection score from which a hand or person counts.
- `fail_hands_without_people` (false): fail when hands are found and no person is.
- `only_when_prompted` (false): skip when the prompt names no people or hands.
- `severity`: `flag` (default) or `reject`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from policies.check import Outcome
from policies.detector import detect_objects
from policies.options import number, switch

if TYPE_CHECKING:
    from policies.brief import Brief
    from policies.creative import Creative
    from policies.kit import Kit

ID = "BG402"
NAME = "anatomy"
FAMILY = "counts"
DEFAULT_SEVERITY = "flag"

DETECTOR_ENV = "BRANDGATE_ANATOMY_DETECTOR"
FALLBACK_DETECTOR_ENV = "BRANDGATE_COUNTS_DETECTOR"
HANDS_PER_PERSON = 2
NOT_CHECKED = ["finger counts", "hand geometry"]
PEOPLE_WORDS = re.compile(
    r"\b(person|persons|people|man|men|woman|women|boy|boys|girl|girls|child|children|kid|kids|"
    r"baby|babies|human|humans|adult|adults|customer|customers|worker|workers|family|crowd|team|"
    r"couple|friends?|portrait|selfie|hands?|fingers?|arms?|holding|holds?)\b",
    re.IGNORECASE,
)


def run(creative: Creative, brief: Brief | None, kit: Kit, options: Mapping[str, Any]) -> Outcome:
    threshold = number(options, ID, "detector_threshold", 0.3)
    fail_alone = switch(options, ID, "fail_hands_without_people", False)
    if switch(options, ID, "only_when_prompted", False) and (brief is None or not PEOPLE_WORDS.search(brief.prompt)):
        return Outcome("skip", "the prompt names no people or hands (only_when_prompted)")
    folder = options.get("detector") or os.environ.get(DETECTOR_ENV) or os.environ.get(FALLBACK_DETECTOR_ENV)
    if not folder:
        return Outcome(
            "unverified", f"not checked: hands and people, no detector configured ({DETECTOR_ENV})", confidence=0.0
        )

    found = detect_objects(creative, ["hand", "person"], Path(str(folder)), float(threshold))
    hands, people = len(found["hand"]), len(found["person"])
    evidence = {
        "method": "detector",
        "detector": str(folder),
        "threshold": float(threshold),
        "hands": hands,
        "people": people,
        "detections": found,
        "not_checked": NOT_CHECKED,
    }
    if people == 0 and hands > 0:
        if fail_alone:
            return Outcome(
                "fail", f"{_n(hands, 'hand')} and no person detected", confidence=0.5, evidence=evidence
            )
        return Outcome(
            "unverified",
            f"not checked: hands per person, {_n(hands, 'hand')} and no person detected",
            evidence=evidence,
        )
    if hands > HANDS_PER_PERSON * people:
        return Outcome(
            "fail",
            f"{_n(hands, 'hand')} for {_n(people, 'person', 'people')}: more hands than people could have",
            confidence=0.6,
            evidence=evidence,
        )
    return Outcome(
        "pass",
        f"{_n(hands, 'hand')} for {_n(people, 'person', 'people')} "
        "(finger counts and hand geometry not checked)",
        confidence=0.6,
        evidence=evidence,
    )


def _n(count: int, one: str, many: str | None = None) -> str:
    return f"{count} {one if count == 1 else (many or one + 's')}"
