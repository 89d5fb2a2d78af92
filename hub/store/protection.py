"""Personal data at rest: resident IDs, mobile numbers and names encrypted field by field.

Stored payloads keep their shape; only the personal fields become tokens
``enc:sm4gcm:<key id>:<base64 of nonce + ciphertext + tag>`` (SM4 in GCM mode, the
national block cipher, GB/T 32907-2016, from ``cryptography``/OpenSSL; a 12-byte random
nonce per field; the field's name is the associated data, so a token moved to another
field does not open). Which fields (:func:`personal_fields`):

- ``id_no``, ``holder_id_no``, ``mobile`` anywhere;
- ``name`` of a person or party (``applicant``, ``payer``, ``sender``, ``receiver``,
  ``holder``, ``counterpart``) and ``legal_rep``;
- a party's ``code`` (``holder.code``, a project's ``applicant.code``) when its
  ``code_type`` is ``111`` (a resident ID).

So that a message can still be found by a resident ID, each one gets a keyed blind index,
``HMAC-SM3(index key, the 18-character number)``, stored as a ``resident_id`` business key
(``message_keys``): a search for an ID computes the same value; the number itself is in no
table. Keys (:class:`DataKeys`) come from ``$GOVHUB_DATA_KEYS`` or a key file; several SM4
keys may be given: the first encrypts, all decrypt (rotation: put a new key first, then
``govhub data rekey``). The index key never changes, or old messages could not be found.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import os
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from hub.core import digests
from hub.core.identifiers import IdentifierError, mask, mask_resident_id, normalise_resident_id

__all__ = [
    "DATA_KEYS_ENV",
    "TOKEN_PREFIX",
    "DataKeys",
    "PayloadProtector",
    "ProtectionError",
    "generate_keys_text",
    "load_data_keys",
    "mask_personal",
]

DATA_KEYS_ENV = "GOVHUB_DATA_KEYS"
TOKEN_PREFIX = "enc:sm4gcm:"  # noqa: S105 - the marker of a sealed field, not a secret
_ALWAYS = frozenset({"id_no", "holder_id_no", "mobile", "legal_rep"})
_PARTIES = frozenset({"applicant", "payer", "sender", "receiver", "holder", "counterpart"})
_RESIDENT_FIELDS = frozenset({"id_no", "holder_id_no"})


class ProtectionError(Exception):
    """The data keys are missing or malformed, or a token does not open with them."""


def generate_keys_text() -> str:
    """A new key file's text: one index key (32 bytes) and one SM4 key (16 bytes)."""
    index = base64.b64encode(os.urandom(32)).decode()
    sm4 = base64.b64encode(os.urandom(16)).decode()
    return f"index {index}\nsm4 {sm4}\n"


@dataclass(frozen=True)
class DataKeys:
    """The index key and the SM4 keys (the first encrypts), by key id."""

    index: bytes
    sm4: tuple[bytes, ...]

    @classmethod
    def parse(cls, text: str, source: str) -> DataKeys:
        """Read ``index <base64>`` and ``sm4 <base64>`` lines (``;`` separates lines too).

        Raises:
            ProtectionError: A line is not one of these, a key has the wrong length, or
                the index key or every SM4 key is missing.
        """
        index: bytes | None = None
        sm4: list[bytes] = []
        for raw in text.replace(";", "\n").splitlines():
            line = raw.split("#", 1)[0].strip()
            if not line:
                continue
            kind, _, value = line.partition(" ")
            try:
                key = base64.b64decode(value.strip(), validate=True)
            except (binascii.Error, ValueError):
                raise ProtectionError(f"{source}: a {kind} key is not base64") from None
            if kind == "index" and len(key) == 32:
                index = key
            elif kind == "sm4" and len(key) == 16:
                sm4.append(key)
            else:
                raise ProtectionError(
                    f"{source}: lines are `index <32 bytes, base64>` or `sm4 <16 bytes, base64>`"
                )
        if index is None or not sm4:
            raise ProtectionError(f"{source}: needs one index key and at least one sm4 key")
        return cls(index, tuple(sm4))

    @staticmethod
    def key_id(key: bytes) -> str:
        """A short public name of a key (the start of its SM3), safe to store."""
        return digests.digest("sm3", b"govhub-data-key:" + key)[:8]


def load_data_keys(environ: Mapping[str, str], key_file: Path) -> DataKeys:
    """``$GOVHUB_DATA_KEYS``, else the key file (created 0600 on first use).

    Raises:
        ProtectionError: The keys are malformed.
    """
    given = environ.get(DATA_KEYS_ENV, "").strip()
    if given:
        return DataKeys.parse(given, f"${DATA_KEYS_ENV}")
    if not key_file.exists():
        key_file.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        temporary = key_file.with_name(f".{key_file.name}.{os.getpid()}.{threading.get_ident()}")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(descriptor, "w", encoding="ascii") as handle:
                handle.write(generate_keys_text())
            with contextlib.suppress(FileExistsError):  # another process made it first
                os.link(temporary, key_file)
        finally:
            temporary.unlink(missing_ok=True)
    return DataKeys.parse(key_file.read_text(encoding="ascii"), str(key_file))


class PayloadProtector:
    """Encrypts the personal fields of payloads and opens them again.

    Args:
        keys: The data keys.
    """

    def __init__(self, keys: DataKeys) -> None:
        self.keys = keys
        self._by_id = {DataKeys.key_id(key): key for key in keys.sm4}
        self._current = DataKeys.key_id(keys.sm4[0])

    # ------------------------------------------------------------------ one value

    def seal(self, field: str, value: str) -> str:
        """The token of one field's value, under the current key."""
        nonce = os.urandom(12)
        encryptor = Cipher(algorithms.SM4(self._by_id[self._current]), modes.GCM(nonce)).encryptor()
        encryptor.authenticate_additional_data(field.encode())
        sealed = encryptor.update(value.encode()) + encryptor.finalize()
        token = base64.b64encode(nonce + sealed + encryptor.tag).decode("ascii")
        return f"{TOKEN_PREFIX}{self._current}:{token}"

    def open(self, field: str, token: str) -> str:
        """The value of a token made by :meth:`seal` (with any of the keys).

        Raises:
            ProtectionError: Another key sealed it, or it was changed.
        """
        key_id, _, body = token.removeprefix(TOKEN_PREFIX).partition(":")
        key = self._by_id.get(key_id)
        if key is None:
            raise ProtectionError(
                f"a field was sealed with data key {key_id}, which is not among the keys"
            )
        try:
            raw = base64.b64decode(body, validate=True)
            nonce, sealed, tag = raw[:12], raw[12:-16], raw[-16:]
            decryptor = Cipher(algorithms.SM4(key), modes.GCM(nonce, tag)).decryptor()
            decryptor.authenticate_additional_data(field.encode())
            return (decryptor.update(sealed) + decryptor.finalize()).decode()
        except (binascii.Error, ValueError, InvalidTag):
            raise ProtectionError("a sealed field was changed or is damaged") from None

    def blind_index(self, resident_id: str) -> str | None:
        """The search value of a resident ID (``None`` when it is not one)."""
        try:
            number = normalise_resident_id(resident_id)
        except IdentifierError:
            return None
        return "sm3:" + digests.hmac_digest("sm3", self.keys.index, number.encode())

    # ------------------------------------------------------------------ payloads

    def protect(self, payload: Any) -> Any:
        """A copy of ``payload`` with its personal fields sealed."""
        return self._walk(payload, None, self._seal_value)

    def reveal(self, payload: Any) -> Any:
        """A copy of ``payload`` with its sealed fields opened.

        Raises:
            ProtectionError: A field does not open with the keys.
        """
        return self._walk(payload, None, self._open_value)

    def rekey(self, payload: Any) -> Any:
        """``payload`` sealed again under the current key (``govhub data rekey``)."""
        return self.protect(self.reveal(payload))

    def resident_ids(self, payload: Any) -> Iterator[str]:
        """The blind indexes of every resident ID in a (clear) payload."""
        for field, value, parent in _fields(payload, None):
            if not isinstance(value, str):
                continue
            is_resident = field in _RESIDENT_FIELDS and (
                field == "holder_id_no" or parent.get("id_type", "111") == "111"
            )
            is_holder_code = field == "code" and parent.get("code_type") == "111"
            if is_resident or is_holder_code:
                index = self.blind_index(value)
                if index is not None:
                    yield index

    def _seal_value(self, field: str, value: str) -> str:
        return value if value.startswith(TOKEN_PREFIX) else self.seal(field, value)

    def _open_value(self, field: str, value: str) -> str:
        return self.open(field, value) if value.startswith(TOKEN_PREFIX) else value

    def _walk(self, node: Any, parent_key: str | None, change: Any) -> Any:
        if isinstance(node, list):
            return [self._walk(item, parent_key, change) for item in node]
        if not isinstance(node, dict):
            return node
        copy: dict[str, Any] = {}
        for key, value in node.items():
            if isinstance(value, str) and _personal(key, parent_key, node):
                copy[key] = change(key, value)
            else:
                copy[key] = self._walk(value, key, change)
        return copy


def mask_personal(payload: Any, parent_key: str | None = None) -> Any:
    """A copy of a (clear) payload with the personal fields masked, for showing.

    Resident IDs keep region and last four (``110105********002X``), mobiles their first
    three and last four, names their first character (``王**``).
    """
    if isinstance(payload, list):
        return [mask_personal(item, parent_key) for item in payload]
    if not isinstance(payload, dict):
        return payload
    masked: dict[str, Any] = {}
    for key, value in payload.items():
        if isinstance(value, str) and _personal(key, parent_key, payload):
            masked[key] = _mask_value(key, value)
        else:
            masked[key] = mask_personal(value, key)
    return masked


def _mask_value(key: str, value: str) -> str:
    if value.startswith(TOKEN_PREFIX):
        return "***"
    if key == "mobile":
        return mask(value, 3, 4)
    if key in ("name", "legal_rep"):
        return value[:1] + "*" * max(1, len(value) - 1)
    return mask_resident_id(value) if len(value) in (15, 18) else mask(value)


def _personal(key: str, parent_key: str | None, node: Mapping[str, Any]) -> bool:
    if key in _ALWAYS:
        return True
    if key == "name" and parent_key in _PARTIES:
        return True
    # A party given by a code (a holder, a project's applicant) is a person when the code is
    # a resident ID (code_type 111): that code is personal like an id_no.
    return key == "code" and parent_key in _PARTIES and node.get("code_type") == "111"


def _fields(node: Any, parent_key: str | None) -> Iterator[tuple[str, Any, Mapping[str, Any]]]:
    if isinstance(node, list):
        for item in node:
            yield from _fields(item, parent_key)
    elif isinstance(node, dict):
        for key, value in node.items():
            if parent_key in _PARTIES or key in _RESIDENT_FIELDS:
                yield key, value, node
            yield from _fields(value, key)
