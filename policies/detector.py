"""A local transformers zero-shot object detector, loaded once per process and shared by checks."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np

if TYPE_CHECKING:
    from policies.creative import Creative

_detectors: dict[str, tuple[Any, Any]] = {}
_detectors_lock = threading.Lock()


def load_detector(folder: Path) -> tuple[Any, Any]:
    """Processor and model from a local folder, once per process; never downloads."""
    key = str(folder.resolve())
    with _detectors_lock:
        if key not in _detectors:
            if not (folder / "config.json").is_file():
                raise ValueError(f"{folder} is not a transformers model folder (no config.json)")
            from transformers import AutoModelForZeroShotObjectDetection, AutoProcessor

            processor = AutoProcessor.from_pretrained(key, local_files_only=True)  # type: ignore[no-untyped-call]
            model = AutoModelForZeroShotObjectDetection.from_pretrained(key, local_files_only=True)
            model.eval()
            _detectors[key] = (processor, model)
        return _detectors[key]


def detect_objects(
    creative: Creative, names: list[str], folder: Path, threshold: float
) -> dict[str, list[dict[str, Any]]]:
    """Detections per object name, after non-maximum suppression.

    Each name is asked for as "a photo of a <name>"; a box goes to the name it scores highest
    for, and counts when that score is at least `threshold`.
    """
    import torch

    processor, model = load_detector(folder)
    queries = [f"a photo of a {name}" for name in names]
    inputs = processor(text=[queries], images=creative.pil(), return_tensors="pt")
    with torch.inference_mode():
        outputs = model(**inputs)
    target = torch.tensor([[creative.height, creative.width]])
    result = processor.post_process_grounded_object_detection(
        outputs, threshold=threshold, target_sizes=target, text_labels=[queries]
    )[0]
    found: dict[str, list[dict[str, Any]]] = {name: [] for name in names}
    boxes = result["boxes"].tolist()
    scores = result["scores"].tolist()
    labels = result["labels"].tolist()
    for index, name in enumerate(names):
        mine = [i for i, label in enumerate(labels) if int(label) == index]
        rects = [[boxes[i][0], boxes[i][1], boxes[i][2] - boxes[i][0], boxes[i][3] - boxes[i][1]] for i in mine]
        keep = cv2.dnn.NMSBoxes(rects, [scores[i] for i in mine], threshold, 0.5) if mine else []
        for k in np.asarray(keep).reshape(-1):
            i = mine[int(k)]
            x0, y0, x1, y1 = (round(v) for v in boxes[i])
            # Boxes near the border can reach past it; evidence shows them within the image.
            box = [max(0, x0), max(0, y0), min(creative.width, x1), min(creative.height, y1)]
            found[name].append({"score": round(scores[i], 3), "box": box})
    return found
