"""Signing and reading content credentials with the real C2PA SDK: formats, ingredients, keys, tampering."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from PIL import Image

from pipeline.keys import DOCUMENT_SIGNING_OID, IssuedChain, issue_chain
from pipeline.provenance.credentials import CredentialsUnreadable
from pipeline.provenance.governance import GOVERNANCE_LABEL, ApprovalRecord, CheckRecord, GovernanceRecord
from pipeline.provenance.sidecar import sidecar_path
from pipeline.provenance.signer import TRAINED_ALGORITHMIC_MEDIA, Ingredient, Signer, SigningConfigError
from pipeline.provenance.verifier import Verifier
from tests.pipeline.provenance_world import (
    encode,
    foreign_tool_png,
    record,
    scene,
    signer_for,
    transplant_credentials,
)


@pytest.fixture(scope="module")
def chain() -> IssuedChain:
    return issue_chain()


@pytest.fixture(scope="module")
def signer(chain: IssuedChain) -> Signer:
    return signer_for(chain)


@pytest.fixture(scope="module")
def verifier(chain: IssuedChain) -> Verifier:
    return Verifier(chain.root_cert)


@pytest.fixture(scope="module")
def picture() -> Image.Image:
    return scene()


@pytest.mark.parametrize("media_type", ["image/png", "image/jpeg", "image/webp"])
def test_each_format_signs_and_verifies_trusted(
    signer: Signer, verifier: Verifier, picture: Image.Image, media_type: str
) -> None:
    original = encode(picture, media_type)
    signed = signer.sign(original, media_type, record())

    credentials = verifier.read(signed.image)

    assert credentials.state == "trusted", credentials.failure
    assert credentials.validation_state == "Trusted"
    assert "signingCredential.trusted" in [c.code for c in credentials.success]
    assert credentials.claim_generator == f"brandgate/{signer.version}"
    assert credentials.signer is not None and "content signer" in credentials.signer.subject
    created = credentials.actions[0]
    assert created["action"] == "c2pa.created"
    assert created["digitalSourceType"] == TRAINED_ALGORITHMIC_MEDIA
    assert created["softwareAgent"] == {"name": "tiny-sd", "version": record().model.revision}
    # The pixels are untouched: the image decodes to what went in.
    assert Image.open(io.BytesIO(signed.image)).size == picture.size


def test_governance_assertion_round_trips_exactly(signer: Signer, verifier: Verifier, picture: Image.Image) -> None:
    approval = ApprovalRecord(
        decision="approved",
        decided_by="U02BRANDMGR",
        decided_at=dt.datetime(2026, 3, 4, 5, 6, 7, 891011, tzinfo=dt.timezone(dt.timedelta(hours=2))),
        reason="logo placement is fine for this channel",
    )
    original = record(verdict="approved", approval=approval)
    signed_at = dt.datetime(2026, 3, 4, 6, 0, tzinfo=dt.UTC)

    credentials = verifier.read(
        signer.sign(encode(picture, "image/png"), "image/png", original, signed_at=signed_at).image
    )

    assert credentials.governance == original
    assert credentials.governance_raw == {**original.to_assertion(), "signed_at": signed_at.isoformat()}
    assert credentials.signing_time == signed_at.isoformat()
    assert credentials.signing_time_source == "claimed by signer"
    assert credentials.unknown_assertions == ()


def test_every_check_is_signed_with_its_status_and_the_reason_it_did_not_decide(
    signer: Signer, verifier: Verifier, picture: Image.Image
) -> None:
    checks = (
        CheckRecord("BG101", "pass", 0.99),
        CheckRecord("BG102", "skip", 1.0, reason="neither the brief nor the kit requires a disclaimer"),
        CheckRecord("BG401", "unverified", 0.0, reason="not checked: object counts (apple), no detector configured"),
        CheckRecord("BG402", "unverified", 0.0, reason="accepted unverified by policy: not checked: hands and people",
                    accepted=True),
    )  # fmt: skip
    original = record(verdict="unverified", checks=checks)
    credentials = verifier.read(signer.sign(encode(picture, "image/png"), "image/png", original).image)
    assert credentials.governance == original
    signed = {c["id"]: c for c in credentials.governance_raw["checks"]}
    assert credentials.governance_raw["verdict"] == "unverified"
    assert signed["BG101"] == {"id": "BG101", "status": "pass", "confidence": 0.99}
    assert signed["BG102"]["reason"] == "neither the brief nor the kit requires a disclaimer"
    assert signed["BG401"]["status"] == "unverified" and signed["BG401"]["reason"].startswith("not checked: ")
    assert signed["BG402"]["accepted"] == "accepted unverified by policy"


def test_composited_image_lists_logo_and_background_as_placed_ingredients(
    signer: Signer, verifier: Verifier, picture: Image.Image
) -> None:
    logo = encode(Image.new("RGBA", (64, 32), (200, 0, 0, 255)), "image/png")
    background = encode(picture, "image/jpeg")
    composite = encode(scene(seed=1), "image/png")

    credentials = verifier.read(
        signer.sign(
            composite,
            "image/png",
            record(),
            [Ingredient.logo(logo, "image/png", "acme-primary.png"), Ingredient.background(background, "image/jpeg")],
        ).image
    )

    assert credentials.state == "trusted"
    assert [(i["title"], i["relationship"], i["role"]) for i in credentials.ingredients] == [
        ("acme-primary.png", "componentOf", "logo"),
        ("generated background", "componentOf", "background"),
    ]
    placed = [a for a in credentials.actions if a["action"] == "c2pa.placed"]
    assert len(placed) == 2
    referenced = [a["parameters"]["ingredients"][0]["url"] for a in placed]
    assert referenced == [
        "self#jumbf=c2pa.assertions/c2pa.ingredient.v3",
        "self#jumbf=c2pa.assertions/c2pa.ingredient.v3__1",
    ]


def test_hq_export_names_the_signed_preview_as_parent_and_records_the_approval(
    signer: Signer, verifier: Verifier, picture: Image.Image
) -> None:
    preview = signer.sign(encode(picture, "image/png"), "image/png", record())
    approval = ApprovalRecord("approved", "U02BRANDMGR", dt.datetime(2026, 3, 4, tzinfo=dt.UTC))
    export_record = record(image_id="img-0001-hq", verdict="approved", profile_name="hq", approval=approval)

    export = verifier.read(
        signer.sign(
            encode(scene(512), "image/jpeg"),
            "image/jpeg",
            export_record,
            [Ingredient.preview(preview.image, "image/png")],
        ).image
    )

    assert export.state == "trusted"
    assert export.manifest_count == 2  # the preview's own manifest travels inside the export's
    (parent,) = export.ingredients
    assert parent["relationship"] == "parentOf"
    assert parent["has_credentials"] is True
    assert parent["validation_state"] == "trusted"
    assert [a["action"] for a in export.actions] == ["c2pa.opened", "c2pa.edited"]
    assert export.governance is not None and export.governance.approval == approval


def test_two_parents_are_refused(signer: Signer, picture: Image.Image) -> None:
    png = encode(picture, "image/png")
    with pytest.raises(ValueError, match="at most one parentOf"):
        signer.sign(png, "image/png", record(), [Ingredient.preview(png, "image/png")] * 2)


def test_sidecar_verifies_the_signed_file_and_is_written_next_to_it(
    signer: Signer, verifier: Verifier, picture: Image.Image, tmp_path: Path
) -> None:
    signed = signer.sign(encode(picture, "image/webp"), "image/webp", record())

    image_path, sidecar = signed.write(tmp_path / "out" / "img-0001.webp")

    assert sidecar == sidecar_path(image_path) == tmp_path / "out" / "img-0001.c2pa"
    assert sidecar.read_bytes() == signed.manifest_store
    from_sidecar = verifier.read(image_path.read_bytes(), manifest_store=sidecar.read_bytes())
    assert from_sidecar.state == "trusted"
    assert from_sidecar.manifest_source == "sidecar"
    assert from_sidecar.governance == record()


def test_other_anchors_make_it_valid_but_untrusted(signer: Signer, picture: Image.Image) -> None:
    signed = signer.sign(encode(picture, "image/png"), "image/png", record())

    credentials = Verifier(issue_chain("someone else").root_cert).read(signed.image)

    assert credentials.state == "valid"
    assert credentials.failure_codes == ("signingCredential.untrusted",)


def test_file_signed_by_a_different_ca_is_valid_but_untrusted(verifier: Verifier, picture: Image.Image) -> None:
    foreign = signer_for(issue_chain("Mallory Media"))

    credentials = verifier.read(foreign.sign(encode(picture, "image/jpeg"), "image/jpeg", record()).image)

    assert credentials.state == "valid"
    assert credentials.signer is not None and "Mallory Media" in credentials.signer.subject
    assert credentials.governance == record()  # readable, but vouched for by nobody we trust


def test_pixels_edited_under_copied_credentials_are_invalid(
    signer: Signer, verifier: Verifier, picture: Image.Image
) -> None:
    signed = signer.sign(encode(picture, "image/png"), "image/png", record())
    edited = picture.copy()
    edited.putpixel((10, 10), (0, 0, 0))

    credentials = verifier.read(transplant_credentials(signed.image, encode(edited, "image/png")))

    assert credentials.state == "invalid"
    assert "assertion.dataHash.mismatch" in credentials.failure_codes


def test_flipped_byte_is_invalid(signer: Signer, verifier: Verifier, picture: Image.Image) -> None:
    signed = bytearray(signer.sign(encode(picture, "image/jpeg"), "image/jpeg", record()).image)
    signed[-200] ^= 0x01  # inside the entropy-coded pixel data

    credentials = verifier.read(bytes(signed))

    assert credentials.state == "invalid"
    assert "assertion.dataHash.mismatch" in credentials.failure_codes


def test_truncated_signed_file_is_invalid_not_unsigned(
    signer: Signer, verifier: Verifier, picture: Image.Image
) -> None:
    signed = signer.sign(encode(picture, "image/png"), "image/png", record()).image

    credentials = verifier.read(signed[: len(signed) // 2])

    assert credentials.state == "invalid"
    assert credentials.problem is not None and "credentials present but unreadable" in credentials.problem


def test_re_encoding_strips_the_credentials(signer: Signer, verifier: Verifier, picture: Image.Image) -> None:
    signed = signer.sign(encode(picture, "image/png"), "image/png", record()).image

    reencoded = encode(Image.open(io.BytesIO(signed)).convert("RGB"), "image/jpeg", quality=80)

    assert verifier.read(reencoded).state == "no_credentials"


def test_text_named_png_is_unreadable(verifier: Verifier) -> None:
    with pytest.raises(CredentialsUnreadable, match="not a readable"):
        verifier.read(b"just some text, saved as picture.png\n" * 4)


def test_unknown_assertions_from_another_tool_are_reported_not_fatal(chain: IssuedChain, picture: Image.Image) -> None:
    credentials = Verifier(chain.root_cert).read(foreign_tool_png(chain, picture))

    assert credentials.state == "trusted"
    assert credentials.claim_generator == "OtherTool/9.1"
    assert credentials.unknown_assertions == ("org.example.review",)
    # A foreign assertion under our label is reported as unreadable, not trusted as ours.
    assert credentials.governance is None
    assert credentials.governance_error is not None and "schema" in credentials.governance_error
    assert credentials.governance_raw == {"verdict": "pass"}
    assert GOVERNANCE_LABEL not in credentials.unknown_assertions


def test_hsm_style_callback_signs_without_handing_over_the_key(chain: IssuedChain, picture: Image.Image) -> None:
    key = serialization.load_pem_private_key(chain.signing_key, password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    calls: list[int] = []

    def kms_sign(data: bytes) -> bytes:
        calls.append(len(data))
        return key.sign(data, ec.ECDSA(hashes.SHA256()))

    signer = Signer(chain_pem=chain.signing_chain, sign_callback=kms_sign, trust_anchors_pem=chain.root_cert)
    credentials = Verifier(chain.root_cert).read(signer.sign(encode(picture, "image/png"), "image/png", record()).image)

    assert credentials.state == "trusted"
    assert len(calls) >= 2  # once for the start-up self-test, once for the image


def test_key_that_does_not_match_its_certificate_fails_at_start_up(chain: IssuedChain) -> None:
    with pytest.raises(SigningConfigError, match="does not match the signing certificate"):
        Signer(chain_pem=chain.signing_chain, key_pem=issue_chain().signing_key, trust_anchors_pem=chain.root_cert)


def test_callback_with_the_wrong_key_fails_at_start_up(chain: IssuedChain) -> None:
    wrong = ec.generate_private_key(ec.SECP256R1())

    with pytest.raises(SigningConfigError, match="callback's key does not match"):
        Signer(
            chain_pem=chain.signing_chain,
            sign_callback=lambda data: wrong.sign(data, ec.ECDSA(hashes.SHA256())),
            trust_anchors_pem=chain.root_cert,
        )


def test_expired_signing_certificate_fails_at_start_up() -> None:
    now = dt.datetime.now(dt.UTC)
    expired = issue_chain(signing_not_before=now - dt.timedelta(days=400), signing_not_after=now - dt.timedelta(days=1))

    with pytest.raises(SigningConfigError, match="expired on"):
        signer_for(expired)


def test_certificate_with_only_document_signing_eku_fails_at_start_up() -> None:
    with pytest.raises(SigningConfigError, match="EKU"):
        signer_for(issue_chain(extended_key_usages=(DOCUMENT_SIGNING_OID,)))


def test_signer_not_chaining_to_the_trust_anchors_fails_at_start_up(chain: IssuedChain) -> None:
    with pytest.raises(SigningConfigError, match="does not chain to the trust anchors"):
        Signer(chain_pem=chain.signing_chain, key_pem=chain.signing_key, trust_anchors_pem=issue_chain().root_cert)


def test_governance_record_refuses_bad_values() -> None:
    with pytest.raises(ValueError, match="verdict must be one of"):
        record(verdict="maybe")
    with pytest.raises(ValueError, match="seed must be a non-negative integer"):
        record(seed=-1)
    with pytest.raises(ValueError, match="check IDs repeat"):
        record(checks=record().checks * 2)
    with pytest.raises(ValueError, match="time zone"):
        ApprovalRecord("approved", "U1", dt.datetime(2026, 1, 1))
    with pytest.raises(ValueError, match="lacks field 'seed'"):
        GovernanceRecord.from_assertion({k: v for k, v in record().to_assertion().items() if k != "seed"})


def test_thumbnail_is_embedded_only_when_asked(chain: IssuedChain, verifier: Verifier, picture: Image.Image) -> None:
    png = encode(picture, "image/png")
    plain = signer_for(chain).sign(png, "image/png", record())
    with_thumbnail = signer_for(chain, thumbnail=True).sign(png, "image/png", record())

    def has_thumbnail(data: bytes) -> bool:
        manifest = verifier.read(data).raw["manifests"]
        return any("thumbnail" in m for m in manifest.values())

    assert not has_thumbnail(plain.image)
    assert has_thumbnail(with_thumbnail.image)


def test_unreachable_time_stamp_authority_fails_at_start_up_with_the_fix(chain: IssuedChain) -> None:
    with pytest.raises(
        SigningConfigError, match=r"time-stamp authority http://127\.0\.0\.1:9/tsa failed.*unset BRANDGATE_TSA_URL"
    ):
        signer_for(chain, tsa_url="http://127.0.0.1:9/tsa")


def test_chain_that_starts_with_a_ca_fails_at_start_up_with_the_fix(chain: IssuedChain) -> None:
    with pytest.raises(SigningConfigError, match="the first certificate is a CA; put the signing"):
        Signer(chain_pem=chain.intermediate_cert + chain.signing_cert, key_pem=chain.intermediate_key)


def test_one_signer_and_verifier_serve_several_threads(signer: Signer, verifier: Verifier) -> None:
    from concurrent.futures import ThreadPoolExecutor

    images = [encode(scene(96, seed=n), "image/png") for n in range(6)]
    with ThreadPoolExecutor(3) as pool:
        signed = list(pool.map(lambda data: signer.sign(data, "image/png", record()), images * 2))
        states = list(pool.map(lambda asset: verifier.read(asset.image).state, signed))

    assert states == ["trusted"] * 12


def test_sidecar_lands_next_to_an_image_in_the_artifact_store(
    signer: Signer, verifier: Verifier, tmp_path: Path
) -> None:
    from brandgate.artifacts import ArtifactStore

    signed = signer.sign(encode(scene(96), "image/png"), "image/png", record())
    stored = ArtifactStore(tmp_path / "artifacts").put(signed.image, ".png")

    sidecar = signed.write_sidecar(stored.path)

    assert sidecar == stored.path.with_name(f"{signed.sha256}.c2pa")
    assert verifier.read(stored.path.read_bytes(), manifest_store=sidecar.read_bytes()).state == "trusted"
