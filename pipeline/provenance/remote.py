"""Credentials kept elsewhere: the XMP reference to a remote manifest (never fetched), or to a store removed.

Verification is offline; what the reference is decides whether the asset has no credentials
here (remote, or removed) or carries a malformed pointer (invalid).
"""

from __future__ import annotations

import re

from pipeline.provenance.credentials import Credentials

# XMP's `dcterms:provenance`, as an attribute or an element: where C2PA points to a remote manifest.
_XMP_PROVENANCE = re.compile(
    rb'dcterms:provenance\s*=\s*"([^"]{0,8192})"|<dcterms:provenance>\s*([^<]{0,8192}?)\s*</dcterms:provenance>'
)
_REMOTE_MANIFEST_MAX_CHARS = 2048


def remote_manifest_reference(data: bytes) -> str | None:
    """The remote-manifest reference in the asset's XMP, decoded as far as it decodes; None without one."""
    # The plain substring test first: bytes.find is many times faster than the pattern's
    # alternation over a whole image, and almost no file has the property at all.
    match = _XMP_PROVENANCE.search(data) if b"dcterms:provenance" in data else None
    if match is None:
        return None
    raw = match.group(1) if match.group(1) is not None else match.group(2)
    return raw.decode("utf-8", errors="replace")


def remote_manifest_problem(reference: str) -> str | None:
    """Why `reference` cannot name a remote manifest (C2PA asks for an http(s) URL); None when it can."""
    from urllib.parse import urlsplit

    if not reference.strip():
        return "it is empty"
    if len(reference) > _REMOTE_MANIFEST_MAX_CHARS:
        return f"it is {len(reference):,} characters long"
    if any(ord(ch) < 0x21 or ord(ch) == 0x7F or ch == "\ufffd" for ch in reference):
        return "it holds spaces, control characters or bytes that are not UTF-8"
    try:
        parts = urlsplit(reference)
        parts.port  # noqa: B018  (raises on a port that is not a number)
    except ValueError as exc:
        return f"it is not a URL ({exc})"
    if parts.scheme not in ("http", "https"):
        return "it is not an http(s) URL"
    if not parts.hostname:
        return "it names no host"
    return None


# How XMP points at a manifest store inside the file itself (C2PA 2.x, "self#jumbf=/c2pa/<label>").
SELF_REFERENCE = "self#jumbf="


def remote_credentials(reference: str) -> Credentials:
    """Credentials that live at `reference`: not fetched (verification is offline), or a malformed pointer.

    A `self#jumbf=` reference points inside the file; reached here, the file holds no manifest
    store, so its credentials were removed: no credentials (exit 5, with the lookup), not tampering."""
    shown = reference if len(reference) <= 200 else reference[:200] + "…"
    if reference.strip().startswith(SELF_REFERENCE):
        return Credentials(
            state="no_credentials",
            removed_manifest=reference,
            problem=f"credentials removed from this file: its XMP still points at a manifest store inside it "
            f"({shown!r}), and the store is gone",
        )
    problem = remote_manifest_problem(reference)
    if problem is not None:
        return Credentials(
            state="invalid",
            remote_manifest=reference,
            problem=f"the remote manifest reference {shown!r} is malformed: {problem}",
        )
    return Credentials(
        state="no_credentials",
        remote_manifest=reference,
        problem=f"no credentials in the file: they are remote, at {shown}, and verification is offline (not fetched)",
    )
