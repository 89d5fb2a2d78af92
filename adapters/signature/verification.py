"""Checking a signature where the hub stands: the chain, the status, the mathematics.

Verification needs no call to the signing server: the certificate travels with the
signature, the CA certificate is configured (the trust anchor), and revocations come
from the CA's CRL, fetched and cached (its own signature is checked against the CA).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import InvalidSignature

from adapters.signature.algorithms import UnknownAlgorithm, algorithm

__all__ = ["CrlCache", "Signature", "SignatureProblem", "check_signature"]


@dataclass(frozen=True, slots=True)
class Signature:
    """A detached signature with the certificate that checks it.

    Attributes:
        algorithm: A registered algorithm name (``ECDSA-P256-SHA256``).
        value: The signature, base64.
        certificate: The signer's certificate, PEM.
        serial: The certificate's serial, upper-case hex.
        signed_at: When the server signed (RFC 3339).
        digest_algorithm: The digest the algorithm signs (``SHA256``, ``SM3``).
    """

    algorithm: str
    value: str
    certificate: str
    serial: str
    signed_at: str
    digest_algorithm: str = "SHA256"

    def to_json(self) -> dict[str, str]:
        """As carried in ``headers.signature``."""
        return {
            "algorithm": self.algorithm,
            "digest_algorithm": self.digest_algorithm,
            "value": self.value,
            "certificate": self.certificate,
            "serial": self.serial,
            "signed_at": self.signed_at,
        }


class SignatureProblem(ValueError):
    """A signature does not verify; ``field`` names the part that failed.

    Args:
        field: ``value``, ``certificate``, ``algorithm``, ``signed_at``...
        reason: What is wrong, for people.
    """

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class CrlCache:
    """The CA's revocation list, fetched when older than ``max_age_s``.

    Args:
        fetch: Returns the CRL as PEM bytes (raises when the server cannot be reached).
        max_age_s: How long a fetched CRL is trusted before fetching again.
    """

    def __init__(self, fetch: Callable[[], bytes], max_age_s: float) -> None:
        self._fetch = fetch
        self.max_age_s = max_age_s
        self._lock = threading.Lock()
        self._crl: x509.CertificateRevocationList | None = None
        self._fetched = 0.0

    def current(self, ca: x509.Certificate) -> x509.CertificateRevocationList:
        """A CRL signed by ``ca`` and not older than allowed.

        Raises:
            SignatureProblem: The CRL is not signed by the CA (``certificate``).
            Exception: Whatever ``fetch`` raises when a fresh one is needed.
        """
        with self._lock:
            if self._crl is None or time.monotonic() - self._fetched > self.max_age_s:
                crl = x509.load_pem_x509_crl(self._fetch())
                if not crl.is_signature_valid(ca.public_key()):  # type: ignore[arg-type]
                    raise SignatureProblem("certificate", "the CRL is not signed by the CA")
                self._crl, self._fetched = crl, time.monotonic()
            return self._crl

    def invalidate(self) -> None:
        """Fetch again on the next check (after a revocation we made)."""
        with self._lock:
            self._crl = None


def check_signature(
    data: bytes,
    signature: Signature,
    ca: x509.Certificate,
    crl: x509.CertificateRevocationList | None,
) -> None:
    """Check ``signature`` over ``data`` against the CA and its CRL.

    Raises:
        SignatureProblem: The first thing that does not hold, naming the field.
    """
    try:
        implementation = algorithm(signature.algorithm)
    except UnknownAlgorithm as error:
        raise SignatureProblem("algorithm", str(error)) from None
    try:
        certificate = x509.load_pem_x509_certificate(signature.certificate.encode())
    except ValueError:
        raise SignatureProblem("certificate", "not a PEM certificate") from None
    try:
        certificate.verify_directly_issued_by(ca)
    except (ValueError, TypeError, InvalidSignature):
        raise SignatureProblem("certificate", "not issued by the trusted CA") from None
    try:
        signed_at = dt.datetime.fromisoformat(signature.signed_at)
    except ValueError:
        raise SignatureProblem("signed_at", "not an RFC 3339 time") from None
    if signed_at.tzinfo is None:
        raise SignatureProblem("signed_at", "needs an offset")
    if not certificate.not_valid_before_utc <= signed_at <= certificate.not_valid_after_utc:
        raise SignatureProblem("certificate", "not valid at signed_at")
    if crl is not None and crl.get_revoked_certificate_by_serial_number(certificate.serial_number):
        raise SignatureProblem("certificate", "revoked")
    if not implementation.fits(certificate.public_key()):
        raise SignatureProblem("algorithm", f"the certificate's key is not {implementation.name}")
    try:
        value = base64.b64decode(signature.value, validate=True)
    except (binascii.Error, ValueError):
        raise SignatureProblem("value", "not base64") from None
    digest_value = implementation.digest(data)
    if not implementation.verify_digest(certificate.public_key(), digest_value, value):
        raise SignatureProblem("value", "does not verify against the signed content")
