"""The trust anchors and the SDK's verification settings, shared by the signer and the verifier.

Offline by design: no remote manifests, no OCSP.
"""

from __future__ import annotations

import io
import logging
from pathlib import Path
from typing import Any

import c2pa

from pipeline.keys import load_certificates, read_pem_file

log = logging.getLogger(__name__)


def verify_settings(trust_anchors_pem: bytes | None) -> dict[str, Any]:
    # Offline by default: no remote manifests, no OCSP. Without anchors nothing is
    # trusted, and the SDK says so (signingCredential.untrusted) rather than failing.
    settings: dict[str, Any] = {
        "verify": {
            "verify_after_reading": True,
            "verify_trust": True,
            "remote_manifest_fetch": False,
            "ocsp_fetch": False,
        },
    }
    if trust_anchors_pem:
        settings["trust"] = {"trust_anchors": trust_anchors_pem.decode("ascii", errors="replace")}
    return settings


def read_context(trust_anchors_pem: bytes | None) -> c2pa.Context:
    return c2pa.Context.from_dict(verify_settings(trust_anchors_pem))


def read_anchors(path: Path, *, explicit: bool) -> bytes | None:
    """The verifier's anchors; a default dev root that is absent means 'trust nothing', not an error."""
    if not explicit and not path.exists():
        log.warning("no trust anchors at %s; signatures will verify as valid but untrusted", path)
        return None
    pem = read_pem_file(path, "trust anchors", "TRUST_ANCHORS")
    load_certificates(pem, path)
    return pem


def validation_state(image: bytes, context: c2pa.Context) -> str | None:
    with c2pa.Reader("image/png", io.BytesIO(image), context=context) as reader:
        state = reader.get_validation_state()
    return None if state is None else str(state)
