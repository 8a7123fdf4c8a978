"""The last words of `make demo`: what it made, each image's verdict and why, in plain words.

Reads the audit rows `make demo` exported (one JSON object per image) and prints, for a person
who has just run one command, whether anything passed and what stopped the rest. Exits 0: the
demo worked whatever the verdicts; it is the verdicts that must be honest.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

TINY_MODEL = "tiny-sd"
WHY_NOT = ("fail", "error", "unverified")


def main(audit_rows: Path) -> int:
    rows = [json.loads(line) for line in audit_rows.read_text(encoding="utf-8").splitlines() if line.strip()]
    if not rows:
        print(f"the demo recorded no image ({audit_rows} is empty)")
        return 1
    passed = [r for r in rows if r["verdict"] == "pass"]
    print()
    print(f"what the demo made: {len(rows)} image(s) from the prompt {rows[0]['prompt']!r}")
    if any(str(r["model_id"]).endswith(TINY_MODEL) for r in rows):
        print(
            f"  model: {TINY_MODEL}, the tiny offline model brandgate builds for demos and tests. It draws "
            "coloured noise, not the prompt: the pictures under the headline, disclaimer and logo are noise."
        )
    print(f"  passed: {len(passed)} of {len(rows)}")
    for row in rows:
        print(f"  image {row['index'] + 1}: {row['verdict']}")
        for check in row["checks"]:
            if check["status"] in WHY_NOT and "accepted" not in check:
                print(f"    {check['id']} {check['status']}: {check['message']}")
    if not passed:
        print("  nothing here is usable: every image goes to a brand manager (or is rejected), as it should.")
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1] if len(sys.argv) > 1 else "var/demo/audit.jsonl")))
