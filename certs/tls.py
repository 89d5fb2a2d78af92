"""Mutual TLS material: a CA, the hub's server certificate, one certificate per client, a CRL.

``govhub certs init|issue|revoke`` call these. Everything is generated where it is used
(the hub's machine), into ``<certs dir>/tls/``, which git ignores; private keys are 0600::

    tls/ca.pem, tls/ca-key.pem             the client CA (the hub trusts only it)
    tls/crl.pem                            revoked client certificates, signed by the CA
    tls/server.pem, tls/server-key.pem     the hub's certificate (its hosts as SANs)
    tls/clients/<name>.pem, <name>-key.pem  a client's certificate: CN = its client name

A client's certificate maps to the GovHub client of the same name (``govhub clients``);
the key and certificate are handed to that department's system, and only there kept.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from certs.devca import (
    _locked,
    _private_pem,
    _write,
    default_dir,
    load_private_key,
    self_signed_ca,
)

__all__ = [
    "TlsFiles",
    "client_name_of",
    "init_tls",
    "issue_client",
    "revoke_client",
    "revoked_serials",
    "tls_dir",
]

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")


def tls_dir(directory: Path | None = None) -> Path:
    """``<certs dir>/tls`` (see :func:`certs.devca.default_dir`)."""
    return (directory or default_dir()) / "tls"


@dataclass(frozen=True)
class TlsFiles:
    """Where the pieces of one TLS directory are."""

    base: Path

    @property
    def ca(self) -> Path:
        """The client CA certificate."""
        return self.base / "ca.pem"

    @property
    def ca_key(self) -> Path:
        """Its private key."""
        return self.base / "ca-key.pem"

    @property
    def crl(self) -> Path:
        """The revocation list."""
        return self.base / "crl.pem"

    @property
    def server(self) -> Path:
        """The hub's certificate."""
        return self.base / "server.pem"

    @property
    def server_key(self) -> Path:
        """Its private key."""
        return self.base / "server-key.pem"

    def client(self, name: str) -> tuple[Path, Path]:
        """A client's certificate and private key."""
        return self.base / "clients" / f"{name}.pem", self.base / "clients" / f"{name}-key.pem"


def _name(common: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "GovHub"),
            x509.NameAttribute(NameOID.COMMON_NAME, common),
        ]
    )


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)


def _ca(files: TlsFiles) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = load_private_key(files.ca_key)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ValueError(f"{files.ca_key}: the TLS CA key must be ECDSA")
    return key, x509.load_pem_x509_certificate(files.ca.read_bytes())


def _leaf(
    ca_key: ec.EllipticCurvePrivateKey,
    ca: x509.Certificate,
    common: str,
    usage: x509.ObjectIdentifier,
    days: int,
    hosts: Sequence[str] = (),
) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    start = _now()
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(common))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
    )
    if hosts:
        names: list[x509.GeneralName] = []
        for host in hosts:
            try:
                names.append(x509.IPAddress(ipaddress.ip_address(host)))
            except ValueError:
                names.append(x509.DNSName(host))
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    return key, builder.sign(ca_key, hashes.SHA256())


def _pem(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.PEM)


def init_tls(
    directory: Path | None = None, hosts: Sequence[str] = ("127.0.0.1", "localhost")
) -> list[Path]:
    """The CA, an empty CRL and the server certificate, each made if missing.

    Args:
        directory: The certs directory (default :func:`certs.devca.default_dir`).
        hosts: Names and addresses the server certificate is for.

    Returns:
        The files of the directory.
    """
    files = TlsFiles(tls_dir(directory))
    with _locked(files.base):
        if not (files.ca.exists() and files.ca_key.exists()):
            ca_key = ec.generate_private_key(ec.SECP256R1())
            ca = self_signed_ca(ca_key, _name("GovHub client CA"), start=_now())
            _write(files.ca_key, _private_pem(ca_key), private=True)
            _write(files.ca, _pem(ca), private=False)
        ca_key, ca = _ca(files)
        if not files.crl.exists():
            _write(files.crl, _crl(ca_key, ca, ()), private=False)
        if not (files.server.exists() and files.server_key.exists()):
            key, certificate = _leaf(
                ca_key, ca, hosts[0], ExtendedKeyUsageOID.SERVER_AUTH, 825, hosts
            )
            _write(files.server_key, _private_pem(key), private=True)
            _write(files.server, _pem(certificate), private=False)
    return [files.ca, files.ca_key, files.crl, files.server, files.server_key]


def issue_client(directory: Path | None, name: str, *, days: int = 365) -> tuple[Path, Path]:
    """A new certificate and key for the client ``name`` (replacing an earlier one).

    Raises:
        ValueError: ``name`` is not a client name, or there is no CA (run init first).
    """
    if not _NAME.match(name):
        raise ValueError("a client name is 1-100 letters, digits, '_', '.' or '-'")
    files = TlsFiles(tls_dir(directory))
    if not files.ca.exists():
        raise ValueError(f"no TLS CA in {files.base}: run `govhub certs init` first")
    with _locked(files.base):
        ca_key, ca = _ca(files)
        key, certificate = _leaf(ca_key, ca, name, ExtendedKeyUsageOID.CLIENT_AUTH, days)
        cert_path, key_path = files.client(name)
        _write(key_path, _private_pem(key), private=True)
        _write(cert_path, _pem(certificate), private=False)
    return cert_path, key_path


def revoke_client(directory: Path | None, name: str) -> int:
    """Put the current certificate of ``name`` on the CRL; its serial.

    Raises:
        ValueError: No certificate was issued to ``name`` here.
    """
    files = TlsFiles(tls_dir(directory))
    cert_path, _key = files.client(name)
    if not cert_path.exists():
        raise ValueError(f"no certificate was issued to {name!r} in {files.base}")
    certificate = x509.load_pem_x509_certificate(cert_path.read_bytes())
    with _locked(files.base):
        ca_key, ca = _ca(files)
        serials = revoked_serials(files.crl) | {certificate.serial_number}
        _write(files.crl, _crl(ca_key, ca, sorted(serials)), private=False)
    return certificate.serial_number


def _crl(ca_key: ec.EllipticCurvePrivateKey, ca: x509.Certificate, serials: Sequence[int]) -> bytes:
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca.subject)
        .last_update(now)
        .next_update(now + dt.timedelta(days=30))
    )
    for serial in serials:
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(now).build()
        )
    return builder.sign(ca_key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)


def revoked_serials(crl_path: Path, ca_path: Path | None = None) -> set[int]:
    """The serials a CRL file revokes (checked against the CA when ``ca_path`` is given).

    Raises:
        ValueError: The CRL is not signed by the CA.
    """
    if not crl_path.exists():
        return set()
    crl = x509.load_pem_x509_crl(crl_path.read_bytes())
    if ca_path is not None:
        ca = x509.load_pem_x509_certificate(ca_path.read_bytes())
        public = ca.public_key()
        if not isinstance(public, ec.EllipticCurvePublicKey) or not crl.is_signature_valid(public):
            raise ValueError(f"{crl_path} is not signed by {ca_path}")
    return {entry.serial_number for entry in crl}


def client_name_of(certificate: x509.Certificate) -> str | None:
    """The client a certificate names (its subject's CN), if it has one."""
    names = certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    if not names:
        return None
    value = names[0].value
    return value if isinstance(value, str) else value.decode()
