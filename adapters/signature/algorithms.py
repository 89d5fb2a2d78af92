"""Signature algorithms behind one interface, and the digests they use.

Built in: ``RSA-SHA256`` (PKCS #1 v1.5) and ``ECDSA-P256-SHA256`` from ``cryptography``,
and the digests ``SHA256`` and ``SM3`` (GB/T 32905). Signing works on a digest, so a
large document is hashed where it is and only the digest travels to the signing server.

SM2 (GB/T 32918, what Chinese CAs issue) is not in ``cryptography``. It plugs in as
one more :class:`SignatureAlgorithm`, registered with :func:`register` or through the
entry-point group ``govhub.signature_algorithms``; the README says what it takes.
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from collections.abc import Callable
from importlib.metadata import entry_points
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils

__all__ = [
    "DIGESTS",
    "PLUGIN_GROUP",
    "SignatureAlgorithm",
    "UnknownAlgorithm",
    "algorithm",
    "algorithms",
    "digest",
    "register",
]

PLUGIN_GROUP = "govhub.signature_algorithms"


def _sm3(data: bytes) -> bytes:
    hasher = hashes.Hash(hashes.SM3())
    hasher.update(data)
    return hasher.finalize()


#: Digest functions by name.
DIGESTS: dict[str, Callable[[bytes], bytes]] = {
    "SHA256": lambda data: hashlib.sha256(data).digest(),
    "SM3": _sm3,
}


class UnknownAlgorithm(ValueError):
    """No algorithm (or digest) of that name is registered."""


def digest(name: str, data: bytes) -> bytes:
    """The ``name`` digest (``SHA256`` or ``SM3``) of ``data``.

    Raises:
        UnknownAlgorithm: No such digest.
    """
    try:
        function = DIGESTS[name]
    except KeyError:
        raise UnknownAlgorithm(f"unknown digest {name!r} (known: {', '.join(DIGESTS)})") from None
    return function(data)


class SignatureAlgorithm(ABC):
    """One way to sign: a key type, a digest and a signature scheme.

    Keys are whatever the implementation uses (``cryptography`` key objects for the
    built-ins, raw bytes for an SM2 library); the interface never looks inside.

    Attributes:
        name: How signatures name it (``headers.signature.algorithm``).
        digest_name: The digest it signs (a key of :data:`DIGESTS`).
    """

    name: str
    digest_name: str

    def digest(self, data: bytes) -> bytes:
        """The digest this algorithm signs, of ``data``."""
        return digest(self.digest_name, data)

    @abstractmethod
    def generate_key(self) -> Any:
        """A new private key (the signing server's seals)."""

    @abstractmethod
    def public_key(self, private_key: Any) -> Any:
        """The public half of ``private_key``, as certificates carry it."""

    @abstractmethod
    def fits(self, public_key: Any) -> bool:
        """Whether ``public_key`` is a key of this algorithm."""

    @abstractmethod
    def sign_digest(self, private_key: Any, digest_value: bytes) -> bytes:
        """The signature over a digest made by :meth:`digest`."""

    @abstractmethod
    def verify_digest(self, public_key: Any, digest_value: bytes, signature: bytes) -> bool:
        """True when ``signature`` is the key's signature over ``digest_value``."""


class RsaSha256(SignatureAlgorithm):
    """RSA with SHA-256, PKCS #1 v1.5 (``SHA256withRSA``)."""

    name = "RSA-SHA256"
    digest_name = "SHA256"

    def generate_key(self) -> rsa.RSAPrivateKey:
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def public_key(self, private_key: Any) -> Any:
        return private_key.public_key()

    def fits(self, public_key: Any) -> bool:
        return isinstance(public_key, rsa.RSAPublicKey)

    def sign_digest(self, private_key: Any, digest_value: bytes) -> bytes:
        signature: bytes = private_key.sign(
            digest_value, padding.PKCS1v15(), utils.Prehashed(hashes.SHA256())
        )
        return signature

    def verify_digest(self, public_key: Any, digest_value: bytes, signature: bytes) -> bool:
        try:
            public_key.verify(
                signature, digest_value, padding.PKCS1v15(), utils.Prehashed(hashes.SHA256())
            )
        except (InvalidSignature, ValueError):
            return False
        return True


class EcdsaP256Sha256(SignatureAlgorithm):
    """ECDSA on NIST P-256 with SHA-256; signatures DER-encoded."""

    name = "ECDSA-P256-SHA256"
    digest_name = "SHA256"

    def generate_key(self) -> ec.EllipticCurvePrivateKey:
        return ec.generate_private_key(ec.SECP256R1())

    def public_key(self, private_key: Any) -> Any:
        return private_key.public_key()

    def fits(self, public_key: Any) -> bool:
        return isinstance(public_key, ec.EllipticCurvePublicKey) and isinstance(
            public_key.curve, ec.SECP256R1
        )

    def sign_digest(self, private_key: Any, digest_value: bytes) -> bytes:
        signature: bytes = private_key.sign(
            digest_value, ec.ECDSA(utils.Prehashed(hashes.SHA256()))
        )
        return signature

    def verify_digest(self, public_key: Any, digest_value: bytes, signature: bytes) -> bool:
        try:
            public_key.verify(signature, digest_value, ec.ECDSA(utils.Prehashed(hashes.SHA256())))
        except (InvalidSignature, ValueError):
            return False
        return True


_REGISTRY: dict[str, SignatureAlgorithm] = {}
_plugins_loaded = False


def register(implementation: SignatureAlgorithm) -> None:
    """Make an algorithm available under its :attr:`~SignatureAlgorithm.name`."""
    if implementation.digest_name not in DIGESTS:
        raise UnknownAlgorithm(f"{implementation.name} uses an unknown digest")
    _REGISTRY[implementation.name] = implementation


def _load_plugins() -> None:
    global _plugins_loaded
    if _plugins_loaded:
        return
    _plugins_loaded = True
    for entry in entry_points(group=PLUGIN_GROUP):
        implementation = entry.load()
        register(implementation() if isinstance(implementation, type) else implementation)


def algorithms() -> list[str]:
    """Every registered algorithm's name."""
    _load_plugins()
    return sorted(_REGISTRY)


def algorithm(name: str) -> SignatureAlgorithm:
    """The algorithm called ``name``.

    Raises:
        UnknownAlgorithm: None is registered under that name.
    """
    _load_plugins()
    try:
        return _REGISTRY[name]
    except KeyError:
        known = ", ".join(sorted(_REGISTRY))
        raise UnknownAlgorithm(f"unknown signature algorithm {name!r} (known: {known})") from None


register(RsaSha256())
register(EcdsaP256Sha256())
