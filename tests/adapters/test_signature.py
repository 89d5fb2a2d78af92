"""The signature adapter: the contract suite, signing and verifying documents."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask

from adapters.sdk.testing import AdapterContract
from adapters.signature.adapter import SignatureAdapter
from adapters.signature.algorithms import algorithm, algorithms, digest
from adapters.signature.sandbox import DEFAULT_API_KEY, create_app
from adapters.signature.verification import SignatureProblem
from tests.fullonline import RunningSandbox, dev_certs, serving

CERTS = dev_certs()


def _sandbox() -> Flask:
    return create_app(CERTS)


def _settings(url: str, **extra: Any) -> dict[str, Any]:
    return {
        "url": url,
        "api_key": DEFAULT_API_KEY,
        "ca_certificate": str(CERTS / "ca" / "ca.pem"),
        **extra,
    }


class TestSignatureContract(AdapterContract):
    adapter = SignatureAdapter
    sandbox = staticmethod(_sandbox)

    def settings(self, url: str) -> dict[str, Any]:
        return _settings(url)


@pytest.fixture
def server() -> Iterator[RunningSandbox]:
    with serving(_sandbox()) as sandbox:
        yield sandbox


@pytest.fixture(params=["govhub-seal", "govhub-seal-rsa"])
def signer(request: pytest.FixtureRequest, server: RunningSandbox) -> Iterator[SignatureAdapter]:
    adapter = SignatureAdapter("signature", _settings(server.url, seal=request.param))
    yield adapter
    adapter.close()


LICENCE_FILE = "电子证照 老年人优待证 No.2430599 持证人 王秀英".encode() * 40


def test_signed_licence_file_verifies(signer: SignatureAdapter) -> None:
    signature = signer.sign(LICENCE_FILE)
    signer.verify(LICENCE_FILE, signature)  # raises if it does not verify


@pytest.mark.parametrize("position", [0, 1000, len(LICENCE_FILE) - 1])
def test_changing_one_byte_of_a_signed_licence_fails(
    signer: SignatureAdapter, position: int
) -> None:
    signature = signer.sign(LICENCE_FILE)
    changed = bytearray(LICENCE_FILE)
    changed[position] ^= 0x01
    with pytest.raises(SignatureProblem) as raised:
        signer.verify(bytes(changed), signature)
    assert raised.value.field == "value"


def test_revoked_certificate_no_longer_verifies(signer: SignatureAdapter) -> None:
    signature = signer.sign(LICENCE_FILE)
    assert signer.certificate_status(signature.serial) == "good"
    signer.revoke(signature.serial, "key compromise")
    assert signer.certificate_status(signature.serial) == "revoked"
    with pytest.raises(SignatureProblem) as raised:
        signer.verify(LICENCE_FILE, signature)
    assert raised.value.field == "certificate"
    assert "revoked" in raised.value.reason


def test_certificate_from_another_ca_does_not_verify(server: RunningSandbox, tmp_path: Any) -> None:
    with serving(create_app(tmp_path / "other-ca")) as stranger:
        foreign = SignatureAdapter("signature", _settings(stranger.url))
        signature = foreign.sign(LICENCE_FILE)
        foreign.close()
    ours = SignatureAdapter("signature", _settings(server.url))
    with pytest.raises(SignatureProblem) as raised:
        ours.verify(LICENCE_FILE, signature)
    ours.close()
    assert raised.value.field == "certificate"


def test_algorithms_share_one_interface() -> None:
    assert {"RSA-SHA256", "ECDSA-P256-SHA256"} <= set(algorithms())
    for name in ("RSA-SHA256", "ECDSA-P256-SHA256"):
        implementation = algorithm(name)
        key = implementation.generate_key()
        value = implementation.sign_digest(key, implementation.digest(b"licence"))
        public = implementation.public_key(key)
        assert implementation.verify_digest(public, implementation.digest(b"licence"), value)
        assert not implementation.verify_digest(public, implementation.digest(b"licencf"), value)


def test_sm3_digest_matches_the_standard_test_vector() -> None:
    # GB/T 32905-2016, example 1: SM3("abc")
    assert digest("SM3", b"abc").hex() == (
        "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
    )
