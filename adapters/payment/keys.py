"""Loading the RSA keys a payment destination's settings name (PEM inline or a file)."""

from __future__ import annotations

from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from adapters.sdk import ConfigurationError

__all__ = ["load_private", "load_public"]


def _read(setting: str, key: str, *, secret: bool) -> tuple[bytes, str]:
    if setting.lstrip().startswith("-----BEGIN"):
        return setting.encode(), f"{key} (inline)"
    path = Path(setting)
    # a secret setting's value (even a path) is never shown
    where = key if secret else f"{key} ({path})"
    try:
        return path.read_bytes(), where
    except OSError as error:
        raise ConfigurationError(
            f"{where}: the file cannot be read ({error.strerror}); start the payment sandbox"
            " or run `govhub certs init` for the dev keys"
        ) from None


def load_private(setting: str, key: str) -> rsa.RSAPrivateKey:
    """An RSA private key from PEM text or a PEM file.

    Raises:
        ConfigurationError: Missing, unreadable, or not an RSA private key (names ``key``).
    """
    data, where = _read(setting, key, secret=True)
    try:
        loaded = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError):
        raise ConfigurationError(f"{where}: not an unencrypted PEM private key") from None
    if not isinstance(loaded, rsa.RSAPrivateKey):
        raise ConfigurationError(f"{where}: RSA2 needs an RSA key")
    return loaded


def load_public(setting: str, key: str) -> rsa.RSAPublicKey:
    """An RSA public key from PEM text or a PEM file (``BEGIN PUBLIC KEY``).

    Raises:
        ConfigurationError: Missing, unreadable, or not an RSA public key (names ``key``).
    """
    data, where = _read(setting, key, secret=False)
    try:
        loaded = serialization.load_pem_public_key(data)
    except (ValueError, TypeError):
        raise ConfigurationError(f"{where}: not a PEM public key") from None
    if not isinstance(loaded, rsa.RSAPublicKey):
        raise ConfigurationError(f"{where}: RSA2 needs an RSA key")
    return loaded
