"""The server key: encrypts secrets the hub must be able to read back.

API keys are stored as SHA-256 hashes, which is all REST (and WS-Security ``PasswordText``)
needs. WS-Security ``PasswordDigest`` is different: the client sends
``Base64(SHA-1(nonce + created + password))``, so the server must know the password itself
to recompute it. The hub therefore keeps a second copy of each API key, encrypted with a
server key (Fernet: AES-128-CBC + HMAC-SHA256), and decrypts it only to check a digest.

The server key comes from ``$GOVHUB_SECRET_KEY`` (one Fernet key, or several separated by
commas: the first encrypts, all decrypt, so keys can be rotated), else from the file
``[security] secret_key_file`` (default ``var/secret.key`` beside the configuration),
which is created with mode 0600 the first time a secret is sealed. Several nodes must
share the same key (set the variable on each).
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from hub.config import Config, ConfigError
from hub.store.protection import PayloadProtector, ProtectionError, load_data_keys

__all__ = ["SECRET_KEY_ENV", "KeyVault", "VaultError", "protector_for", "vault_for"]

SECRET_KEY_ENV = "GOVHUB_SECRET_KEY"  # noqa: S105 - the variable's name, not a secret
DEFAULT_KEY_FILE = "var/secret.key"


class VaultError(Exception):
    """The server key is missing, malformed, or does not open a sealed secret."""


class KeyVault:
    """Seals and opens secrets with the server key, loaded (or created) on first use.

    Args:
        keys: Fernet keys given directly (the first seals); when empty, ``key_file`` is used.
        key_file: Where the key lives when none is given; created (0600) if absent.
    """

    def __init__(self, keys: tuple[str, ...] = (), key_file: Path | None = None) -> None:
        self._keys = keys
        self._key_file = key_file
        self._fernet: MultiFernet | None = None
        self._lock = threading.Lock()

    @property
    def key_file(self) -> Path | None:
        """The file the key is read from (``None`` when the keys were given directly)."""
        return None if self._keys else self._key_file

    @property
    def source(self) -> str:
        """Where the key comes from, for messages (never the key itself)."""
        return f"${SECRET_KEY_ENV}" if self._keys else str(self._key_file)

    def seal(self, secret: str) -> str:
        """Encrypt ``secret``; the token is safe to store."""
        return self._cipher().encrypt(secret.encode()).decode("ascii")

    def open(self, token: str) -> str:
        """Decrypt a token made by :meth:`seal`.

        Raises:
            VaultError: The token was sealed with another server key, or is damaged.
        """
        try:
            return self._cipher().decrypt(token.encode("ascii")).decode()
        except (InvalidToken, UnicodeError):
            raise VaultError(
                f"the server key ({self.source}) does not open this secret:"
                " it was sealed with another key"
            ) from None

    def _cipher(self) -> MultiFernet:
        with self._lock:
            if self._fernet is None:
                keys = self._keys or (self._load_or_create(),)
                try:
                    self._fernet = MultiFernet([Fernet(key.strip().encode()) for key in keys])
                except ValueError:
                    raise VaultError(
                        f"the server key ({self.source}) is not a Fernet key: 32 url-safe"
                        " base64-encoded bytes, e.g. from"
                        " `python -c 'from cryptography.fernet import Fernet;"
                        " print(Fernet.generate_key().decode())'`"
                    ) from None
            return self._fernet

    def _load_or_create(self) -> str:
        path = self._key_file
        if path is None:
            raise VaultError(f"no server key: set ${SECRET_KEY_ENV}")
        try:
            return path.read_text(encoding="ascii").strip()
        except FileNotFoundError:
            pass
        if not path.parent.exists():
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)  # owner-only, as the key
        # Write a private temporary file, then link it into place: if another process
        # created the key meanwhile, the link fails and both use the first one.
        temporary = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(descriptor, "w", encoding="ascii") as file:
                file.write(Fernet.generate_key().decode("ascii") + "\n")
            with contextlib.suppress(FileExistsError):
                os.link(temporary, path)
        finally:
            temporary.unlink(missing_ok=True)
        return path.read_text(encoding="ascii").strip()


def vault_for(config: Config, environ: Mapping[str, str] | None = None) -> KeyVault:
    """The vault for a configuration: ``$GOVHUB_SECRET_KEY`` or the key file.

    Raises:
        ConfigError: ``[security]`` is malformed.
    """
    env = os.environ if environ is None else environ
    section: Any = config.sections.get("security", {})
    label = str(config.path) if config.path else "<config>"
    unknown = sorted(set(section) - _SECURITY_KEYS)
    if unknown:
        known = ", ".join(sorted(_SECURITY_KEYS))
        raise ConfigError(label, f"security.{unknown[0]}", f"is not a known key ({known})")
    raw_file = section.get("secret_key_file", DEFAULT_KEY_FILE)
    if not isinstance(raw_file, str) or not raw_file:
        raise ConfigError(label, "security.secret_key_file", "must be a file path")
    keys = tuple(k for k in env.get(SECRET_KEY_ENV, "").split(",") if k.strip())
    key_file = Path(raw_file)
    if not key_file.is_absolute():
        key_file = config.base_dir / key_file
    return KeyVault(keys, key_file)


_SECURITY_KEYS = frozenset({"secret_key_file", "data_key_file", "protect_personal_data"})
DEFAULT_DATA_KEY_FILE = "var/data.key"


def protector_for(
    config: Config, environ: Mapping[str, str] | None = None
) -> PayloadProtector | None:
    """What seals personal fields at rest: ``$GOVHUB_DATA_KEYS`` or ``[security] data_key_file``.

    ``[security] protect_personal_data = false`` turns it off (``None``).

    Raises:
        ConfigError: ``[security]`` is malformed, or the keys are.
    """
    env = os.environ if environ is None else environ
    section: Any = config.sections.get("security", {})
    label = str(config.path) if config.path else "<config>"
    enabled = section.get("protect_personal_data", True)
    if not isinstance(enabled, bool):
        raise ConfigError(label, "security.protect_personal_data", "must be true or false")
    if not enabled:
        return None
    raw_file = section.get("data_key_file", DEFAULT_DATA_KEY_FILE)
    if not isinstance(raw_file, str) or not raw_file:
        raise ConfigError(label, "security.data_key_file", "must be a file path")
    key_file = Path(raw_file)
    if not key_file.is_absolute():
        key_file = config.base_dir / key_file
    try:
        return PayloadProtector(load_data_keys(env, key_file))
    except ProtectionError as error:
        raise ConfigError(label, "security.data_key_file", str(error)) from None
