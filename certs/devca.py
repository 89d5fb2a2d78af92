"""Generate the development CA and key pairs the sandboxes and the hub share.

Everything is made at run time into a directory git ignores: ``$GOVHUB_CERTS_DIR`` or
``certs/dev/`` under the working directory. Private keys are written with mode 0600;
nothing here is ever committed. Each ``ensure_*`` function is idempotent: it loads what
exists and generates only what is missing, under a file lock, so a sandbox starting
beside ``govhub certs init`` cannot produce a private key that does not match its
public half.

Layout::

    certs/dev/ca/ca.pem              the dev CA certificate (public: the trust anchor)
    certs/dev/ca/ca-key.pem          its private key (the signature sandbox signs with it)
    certs/dev/payment/platform.pem   the payment platform's public key (the hub verifies)
    certs/dev/payment/platform-key.pem   its private key (the payment sandbox signs)
    certs/dev/payment/merchant.pem   the hub's merchant public key (the sandbox verifies)
    certs/dev/payment/merchant-key.pem   its private key (the hub signs orders)
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import (
    CertificateIssuerPrivateKeyTypes,
    CertificatePublicKeyTypes,
    PrivateKeyTypes,
)
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = [
    "CERTS_DIR_ENV",
    "CertificateAuthority",
    "KeyPair",
    "default_dir",
    "ensure_ca",
    "ensure_key_pair",
    "ensure_payment_keys",
    "init",
    "load_private_key",
    "load_public_key",
]

CERTS_DIR_ENV = "GOVHUB_CERTS_DIR"
CA_NAME = "GovHub Dev CA (not for production)"


def default_dir() -> Path:
    """``$GOVHUB_CERTS_DIR``, else ``certs/dev`` under the working directory."""
    configured = os.environ.get(CERTS_DIR_ENV)
    return Path(configured) if configured else Path.cwd() / "certs" / "dev"


@contextlib.contextmanager
def _locked(directory: Path) -> Iterator[None]:
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / ".lock", "a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _write(path: Path, data: bytes, *, private: bool) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(path.suffix + ".tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
    descriptor = os.open(temporary, flags, 0o600 if private else 0o644)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(data)
    os.replace(temporary, path)


def _private_pem(key: PrivateKeyTypes) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def load_private_key(path: Path) -> PrivateKeyTypes:
    """A PEM private key from a file (unencrypted PKCS#8 or traditional)."""
    return serialization.load_pem_private_key(path.read_bytes(), password=None)


def load_public_key(path: Path) -> CertificatePublicKeyTypes:
    """A PEM public key (``BEGIN PUBLIC KEY``) or the key of a PEM certificate."""
    data = path.read_bytes()
    if b"BEGIN CERTIFICATE" in data:
        return x509.load_pem_x509_certificate(data).public_key()
    return serialization.load_pem_public_key(data)  # type: ignore[return-value]


@dataclass(frozen=True)
class KeyPair:
    """A private key file and its public half beside it."""

    private_path: Path
    public_path: Path

    def private_key(self) -> PrivateKeyTypes:
        """The private key."""
        return load_private_key(self.private_path)


def ensure_key_pair(directory: Path, stem: str, *, bits: int = 2048) -> KeyPair:
    """An RSA key pair ``<stem>-key.pem`` (0600) + ``<stem>.pem``, made if missing."""
    pair = KeyPair(directory / f"{stem}-key.pem", directory / f"{stem}.pem")
    with _locked(directory):
        if pair.private_path.exists() and pair.public_path.exists():
            return pair
        key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
        _write(pair.private_path, _private_pem(key), private=True)
        public = key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        _write(pair.public_path, public, private=False)
    return pair


@dataclass(frozen=True)
class PaymentKeys:
    """The payment platform's key pair and the hub's merchant key pair."""

    platform: KeyPair
    merchant: KeyPair


def ensure_payment_keys(directory: Path | None = None) -> PaymentKeys:
    """The payment sandbox's platform keys and the hub's merchant keys, made if missing."""
    base = (directory or default_dir()) / "payment"
    return PaymentKeys(
        platform=ensure_key_pair(base, "platform"), merchant=ensure_key_pair(base, "merchant")
    )


class CertificateAuthority:
    """A small CA: issues end-entity certificates and signs revocation lists.

    Args:
        key: The CA's private key.
        certificate: Its self-signed certificate.
    """

    def __init__(
        self, key: CertificateIssuerPrivateKeyTypes, certificate: x509.Certificate
    ) -> None:
        self.key = key
        self.certificate = certificate

    @property
    def certificate_pem(self) -> bytes:
        """The CA certificate as PEM: the trust anchor verifiers need."""
        return self.certificate.public_bytes(serialization.Encoding.PEM)

    def issue(
        self,
        common_name: str,
        public_key: CertificatePublicKeyTypes,
        *,
        organization: str = "GovHub Dev",
        days: int = 365,
        not_before: dt.datetime | None = None,
    ) -> x509.Certificate:
        """A signing (non-repudiation) certificate for ``public_key``."""
        start = not_before or dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
        subject = x509.Name(
            [
                x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization),
                x509.NameAttribute(NameOID.COMMON_NAME, common_name),
            ]
        )
        return (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(self.certificate.subject)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(start + dt.timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=True,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=False,
                    crl_sign=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(
                x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CODE_SIGNING]), critical=False
            )
            .sign(self.key, hashes.SHA256())
        )

    def revocation_list(
        self,
        revoked: Sequence[tuple[int, dt.datetime]],
        *,
        next_update_s: int = 3600,
    ) -> x509.CertificateRevocationList:
        """A CRL naming every ``(serial, revoked_at)``, signed by the CA."""
        now = dt.datetime.now(dt.UTC)
        builder = (
            x509.CertificateRevocationListBuilder()
            .issuer_name(self.certificate.subject)
            .last_update(now - dt.timedelta(seconds=1))
            .next_update(now + dt.timedelta(seconds=next_update_s))
        )
        for serial, when in revoked:
            builder = builder.add_revoked_certificate(
                x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(when).build()
            )
        return builder.sign(self.key, hashes.SHA256())


def self_signed_ca(
    key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey,
    name: x509.Name,
    *,
    start: dt.datetime | None = None,
) -> x509.Certificate:
    """A CA certificate for ``key``, valid ten years, that signs certificates and CRLs only."""
    start = start or dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )


def ensure_ca(directory: Path | None = None) -> CertificateAuthority:
    """The dev CA under ``<dir>/ca/``, generated (ECDSA P-256, 10 years) if missing."""
    base = (directory or default_dir()) / "ca"
    key_path, cert_path = base / "ca-key.pem", base / "ca.pem"
    with _locked(base):
        if key_path.exists() and cert_path.exists():
            key = load_private_key(key_path)
            if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
                raise ValueError(f"{key_path}: the CA key must be ECDSA or RSA")
            return CertificateAuthority(key, x509.load_pem_x509_certificate(cert_path.read_bytes()))
        ca_key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name(
            [
                x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "GovHub Dev"),
                x509.NameAttribute(NameOID.COMMON_NAME, CA_NAME),
            ]
        )
        certificate = self_signed_ca(ca_key, name)
        _write(key_path, _private_pem(ca_key), private=True)
        _write(cert_path, certificate.public_bytes(serialization.Encoding.PEM), private=False)
        return CertificateAuthority(ca_key, certificate)


def init(directory: Path | None = None) -> list[Path]:
    """Make every piece of dev material that is missing; the files, public and private."""
    base = directory or default_dir()
    ensure_ca(base)
    payment = ensure_payment_keys(base)
    return [
        base / "ca" / "ca.pem",
        base / "ca" / "ca-key.pem",
        payment.platform.public_path,
        payment.platform.private_path,
        payment.merchant.public_path,
        payment.merchant.private_path,
    ]
