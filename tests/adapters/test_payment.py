"""The payment adapter: the contract suite, RSA2 signing and amounts."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from flask import Flask

from adapters.payment import rsa2
from adapters.payment.adapter import PaymentAdapter
from adapters.payment.sandbox import DEFAULT_APP_ID, create_app
from adapters.sdk.testing import AdapterContract
from tests.fullonline import dev_certs

CERTS = dev_certs()


def _sandbox() -> Flask:
    return create_app(CERTS)


class TestPaymentContract(AdapterContract):
    adapter = PaymentAdapter
    sandbox = staticmethod(_sandbox)
    examples = ("payment.requested",)

    def settings(self, url: str) -> dict[str, Any]:
        return {
            "url": url,
            "app_id": DEFAULT_APP_ID,
            "merchant_private_key": str(CERTS / "payment" / "merchant-key.pem"),
            "platform_public_key": str(CERTS / "payment" / "platform.pem"),
            "notify_url": "http://127.0.0.1:9/inbound/payment/notify",
        }


def test_signing_string_sorts_keys_and_skips_empty_values_and_sign() -> None:
    params = {"b": "2", "a": "1", "empty": "", "none": None, "sign": "x", "sign_type": "RSA2"}
    assert rsa2.signing_string(params) == "a=1&b=2&sign_type=RSA2"


# A notification as the platform documents it, with the string it signs written out by
# hand (not by rsa2.signing_string): sorted, non-empty, without ``sign`` and ``sign_type``.
NOTIFICATION = {
    "notify_id": "ac05099524730693a8b330c5ecf72da9786",
    "notify_time": "2026-11-27 15:45:22",
    "notify_type": "trade_status_sync",
    "app_id": DEFAULT_APP_ID,
    "charset": "utf-8",
    "version": "1.0",
    "sign_type": "RSA2",
    "out_trade_no": "WH-FEE-000123",
    "trade_no": "2026112722001405610500002611",
    "trade_status": "TRADE_SUCCESS",
    "total_amount": "20.00",
    "gmt_payment": "2026-11-27 15:45:21",
    "pay_channel": "",
}
NOTIFICATION_SIGNED_TEXT = (
    f"app_id={DEFAULT_APP_ID}&charset=utf-8&gmt_payment=2026-11-27 15:45:21"
    "&notify_id=ac05099524730693a8b330c5ecf72da9786&notify_time=2026-11-27 15:45:22"
    "&notify_type=trade_status_sync&out_trade_no=WH-FEE-000123"
    "&total_amount=20.00&trade_no=2026112722001405610500002611"
    "&trade_status=TRADE_SUCCESS&version=1.0"
)


def _platform_signature(key: rsa.RSAPrivateKey, text: str) -> str:
    raw = key.sign(text.encode("utf-8"), padding.PKCS1v15(), hashes.SHA256())
    return base64.b64encode(raw).decode("ascii")


def test_a_notification_signed_without_sign_type_verifies() -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    signed = {**NOTIFICATION, "sign": _platform_signature(key, NOTIFICATION_SIGNED_TEXT)}
    assert rsa2.signing_string(NOTIFICATION, rsa2.NOTIFICATION_UNSIGNED) == (
        NOTIFICATION_SIGNED_TEXT
    )
    assert rsa2.verify(signed, key.public_key(), rsa2.NOTIFICATION_UNSIGNED)


def test_a_notification_signed_over_sign_type_does_not_verify() -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    text = NOTIFICATION_SIGNED_TEXT.replace("&total_amount=", "&sign_type=RSA2&total_amount=")
    signed = {**NOTIFICATION, "sign": _platform_signature(key, text)}
    assert not rsa2.verify(signed, key.public_key(), rsa2.NOTIFICATION_UNSIGNED)


def test_rsa2_signature_verifies_and_any_change_breaks_it() -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    params = {"app_id": DEFAULT_APP_ID, "total_amount": "10.00", "subject": "工本费"}
    signed = {**params, "sign": rsa2.sign(params, key)}
    assert rsa2.verify(signed, key.public_key())
    assert not rsa2.verify({**signed, "total_amount": "10.01"}, key.public_key())
    assert not rsa2.verify({**signed, "extra": "1"}, key.public_key())
    assert not rsa2.verify({**signed, "sign": "not base64!"}, key.public_key())


@pytest.mark.parametrize(("fen", "yuan"), [(1, "0.01"), (1000, "10.00"), (123456, "1234.56")])
def test_amounts_convert_exactly_between_fen_and_yuan(fen: int, yuan: str) -> None:
    assert rsa2.yuan_from_fen(fen) == yuan
    assert rsa2.fen_from_yuan(yuan) == fen


@pytest.mark.parametrize("text", ["10", "10.0", "10.001", "-1.00", "1e3", " 10.00", "01.00"])
def test_amounts_in_any_other_form_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="two decimals"):
        rsa2.fen_from_yuan(text)
