"""The signature adapter: the hub's client of the signing server (CA / 电子签章).

It signs (the server holds the seal's private key; the hub sends a digest), verifies
locally (certificate chain to the configured CA, the CA's CRL, the mathematics), and
asks for certificate status. The hub uses it in two places:

* the route transform ``<destination>.sign_license`` signs ``license.issued`` (and
  ``license.revoked``) on the way to the e-license library: ``headers.signature``
  covers the payload in RFC 8785 canonical JSON, so it binds every field, the licence
  file's ``sha256`` included;
* a screen on every incoming message: one that carries ``headers.signature`` must
  verify, or it is refused (422, the error naming ``headers.signature.<field>``); types
  listed in ``require_signature`` must carry one.
"""

from __future__ import annotations

import base64
import fnmatch
import threading
from pathlib import Path
from typing import Any, ClassVar

import requests
import rfc8785
from cryptography import x509

from adapters.sdk import (
    Adapter,
    Attempt,
    ConfigurationError,
    Receipt,
    RejectedError,
    RetriableError,
    TransformSpec,
)
from adapters.sdk.http import TimeoutSession, raise_for_status
from adapters.signature.algorithms import UnknownAlgorithm, algorithm
from adapters.signature.verification import CrlCache, Signature, SignatureProblem, check_signature
from hub import __version__
from hub.core.envelope import Envelope
from hub.core.errors import FieldError

__all__ = ["HEADER_FIELD", "SignatureAdapter", "canonical_payload"]

#: Where a signed message carries its signature.
HEADER_FIELD = "signature"
_SIGNATURE_FIELDS = ("algorithm", "value", "certificate", "serial", "signed_at")


def canonical_payload(payload: Any) -> bytes:
    """The bytes a message signature covers: the payload as RFC 8785 canonical JSON."""
    return rfc8785.dumps(payload)


class SignatureAdapter(Adapter):
    """Signs and verifies documents and messages with the signing server's seals."""

    name = "signature"
    version = "1.0"
    accepts = ()
    transforms: ClassVar[dict[str, TransformSpec]] = {
        "sign_license": TransformSpec(
            accepts=("license.issued", "license.revoked"),
            description="sign the licence record (headers.signature) for the e-license library",
        ),
        "sign": TransformSpec(
            accepts=("*",), description="sign any message's payload (headers.signature)"
        ),
    }
    settings_schema: ClassVar[dict[str, Any]] = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "additionalProperties": False,
        "required": ["url", "api_key", "ca_certificate"],
        "properties": {
            "url": {
                "type": "string",
                "pattern": "^https?://",
                "description": "The signing server's base URL.",
            },
            "api_key": {
                "type": "string",
                "minLength": 8,
                "writeOnly": True,
                "description": "Bearer key of the signing server; use ${VAR}.",
            },
            "seal": {
                "type": "string",
                "minLength": 1,
                "default": "govhub-seal",
                "description": "The key id of the seal the hub signs with.",
            },
            "ca_certificate": {
                "type": "string",
                "minLength": 1,
                "description": "The trust anchor: a PEM certificate, inline or a file path"
                " (relative to the working directory).",
            },
            "verify_inbound": {
                "type": "boolean",
                "default": True,
                "description": "Refuse incoming messages whose headers.signature does not verify.",
            },
            "require_signature": {
                "type": "array",
                "items": {"type": "string", "minLength": 1},
                "default": [],
                "description": "Message types (globs) that must arrive signed.",
            },
            "crl_max_age_s": {"type": "number", "exclusiveMinimum": 0, "default": 300},
            "timeout_s": {"type": "number", "exclusiveMinimum": 0, "default": 10},
            "connect_timeout_s": {"type": "number", "exclusiveMinimum": 0, "default": 5},
        },
    }

    def __init__(self, destination: str, settings: dict[str, Any]) -> None:
        super().__init__(destination, settings)
        self.url = str(settings["url"]).rstrip("/")
        self.seal = str(settings.get("seal", "govhub-seal"))
        self.verify_inbound = bool(settings.get("verify_inbound", True))
        self.require_signature = tuple(settings.get("require_signature", ()))
        self.http = TimeoutSession(
            timeout_s=float(settings.get("timeout_s", 10)),
            connect_timeout_s=float(settings.get("connect_timeout_s", 5)),
        )
        self.http.headers["User-Agent"] = f"GovHub/{__version__}"
        self.http.headers["Authorization"] = f"Bearer {settings['api_key']}"
        self.crl = CrlCache(self._fetch_crl, float(settings.get("crl_max_age_s", 300)))
        self._ca: x509.Certificate | None = None
        self._seal_algorithm: str | None = None
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ documents

    def sign(self, data: bytes) -> Signature:
        """Sign a document (a licence file, a canonical payload) with the hub's seal.

        Only the digest leaves the hub.

        Raises:
            RetriableError: The signing server is down or busy.
            ConfigurationError: The API key is wrong, the seal unknown or revoked.
        """
        implementation = algorithm(self._seal_algorithm_name())
        digest_value = implementation.digest(data)
        response = self._call(
            "POST",
            "/api/v1/sign",
            json={
                "key_id": self.seal,
                "digest": base64.b64encode(digest_value).decode(),
                "digest_algorithm": implementation.digest_name,
            },
        )
        if response.status_code in (404, 409):
            raise ConfigurationError(
                f"seal {self.seal!r}: the signing server answered {response.status_code}"
                f" ({_error_text(response)})",
                status_code=response.status_code,
            )
        raise_for_status(response, self.destination)
        document = response.json()
        return Signature(
            algorithm=document["algorithm"],
            digest_algorithm=document.get("digest_algorithm", implementation.digest_name),
            value=document["value"],
            certificate=document["certificate"],
            serial=document["serial"],
            signed_at=document["signed_at"],
        )

    def verify(self, data: bytes, signature: Signature) -> None:
        """Check a signature over ``data``: chain to the CA, not revoked, mathematics.

        Raises:
            SignatureProblem: It does not verify; ``field`` names what failed.
            RetriableError: The CRL is needed and cannot be fetched.
            ConfigurationError: The CA certificate setting is wrong.
        """
        ca = self.ca_certificate()
        try:
            crl = self.crl.current(ca)
        except requests.RequestException as error:
            raise RetriableError(
                f"cannot fetch the CRL from {self.destination}: {type(error).__name__}"
            ) from None
        except ValueError as error:
            if isinstance(error, SignatureProblem):
                raise
            raise RetriableError(f"{self.destination} served a CRL that does not parse") from None
        check_signature(data, signature, ca, crl)

    def certificate_status(self, serial: str) -> str:
        """``good``, ``revoked`` or ``unknown``, as the signing server says now."""
        response = self._call("GET", f"/api/v1/certificates/{serial}/status")
        raise_for_status(response, self.destination)
        status: str = response.json()["status"]
        return status

    def revoke(self, serial: str, reason: str = "unspecified") -> None:
        """Revoke a certificate at the signing server (its next CRL lists it)."""
        response = self._call(
            "POST", f"/api/v1/certificates/{serial}/revoke", json={"reason": reason}
        )
        raise_for_status(response, self.destination)
        self.crl.invalidate()

    # ------------------------------------------------------------------ messages

    def sign_message(self, message: Envelope) -> Envelope:
        """The message with ``headers.signature`` over its canonical payload."""
        signature = self.sign(canonical_payload(message.payload))
        headers = dict(message.headers)
        headers[HEADER_FIELD] = {**signature.to_json(), "covers": "payload"}
        return Envelope(
            id=message.id,
            type=message.type,
            source=message.source,
            payload=message.payload,
            created_at=message.created_at,
            client_ref=message.client_ref,
            correlation_id=message.correlation_id,
            headers=headers,
        )

    def verify_message(self, message: Envelope) -> list[FieldError]:
        """Reasons ``message``'s signature does not verify (none: it does).

        Raises:
            RetriableError: The CRL cannot be fetched now.
        """
        prefix = f"headers.{HEADER_FIELD}"
        carried = message.headers.get(HEADER_FIELD)
        if not isinstance(carried, dict):
            return [FieldError(prefix, "must be an object with " + ", ".join(_SIGNATURE_FIELDS))]
        missing = [k for k in _SIGNATURE_FIELDS if not isinstance(carried.get(k), str)]
        if missing:
            return [FieldError(f"{prefix}.{k}", "required, a string") for k in missing]
        if carried.get("covers", "payload") != "payload":
            return [FieldError(f"{prefix}.covers", "only 'payload' is supported")]
        signature = Signature(
            algorithm=carried["algorithm"],
            digest_algorithm=str(carried.get("digest_algorithm", "")),
            value=carried["value"],
            certificate=carried["certificate"],
            serial=carried["serial"],
            signed_at=carried["signed_at"],
        )
        try:
            self.verify(canonical_payload(message.payload), signature)
        except SignatureProblem as problem:
            return [FieldError(f"{prefix}.{problem.field}", problem.reason)]
        except ConfigurationError as error:
            raise RetriableError(f"cannot verify signatures: {error}") from None
        return []

    # ------------------------------------------------------------------ hub hooks

    def transform(self, name: str, message: Envelope) -> Envelope:
        """``sign_license`` and ``sign``: the message signed by the hub's seal."""
        if name not in self.transforms:
            raise NotImplementedError(f"{self.name} has no transform {name!r}")
        return self.sign_message(message)

    def screen(self, message: Envelope) -> list[FieldError]:
        """Refuse a message whose signature does not verify, or a required one missing."""
        if HEADER_FIELD in message.headers:
            return self.verify_message(message) if self.verify_inbound else []
        if any(fnmatch.fnmatchcase(message.type, p) for p in self.require_signature):
            return [FieldError(f"headers.{HEADER_FIELD}", f"{message.type} must arrive signed")]
        return []

    def deliver(self, message: Envelope, attempt: Attempt) -> Receipt:
        """The signing server takes no messages: route to it only through transforms."""
        raise RejectedError(
            f"{self.destination} signs through route transforms; it takes no deliveries"
        )

    def check(self) -> None:
        """The server answers with our key, knows our seal, and the CA setting loads."""
        self.ca_certificate()
        self._seal_algorithm_name()

    def close(self) -> None:
        """Close pooled connections."""
        self.http.close()

    # ------------------------------------------------------------------ plumbing

    def ca_certificate(self) -> x509.Certificate:
        """The configured trust anchor (loaded once).

        Raises:
            ConfigurationError: Not a PEM certificate, or the file is missing.
        """
        with self._lock:
            if self._ca is None:
                self._ca = _load_certificate(str(self.settings["ca_certificate"]))
            return self._ca

    def _seal_algorithm_name(self) -> str:
        with self._lock:
            if self._seal_algorithm is not None:
                return self._seal_algorithm
        response = self._call("GET", "/api/v1/seals")
        raise_for_status(response, self.destination)
        for seal in response.json().get("seals", []):
            if seal.get("key_id") == self.seal:
                try:
                    algorithm(str(seal["algorithm"]))
                except UnknownAlgorithm as error:
                    raise ConfigurationError(f"seal {self.seal!r}: {error}") from None
                with self._lock:
                    self._seal_algorithm = str(seal["algorithm"])
                    return self._seal_algorithm
        raise ConfigurationError(f"seal: the signing server has no seal {self.seal!r}")

    def _fetch_crl(self) -> bytes:
        response = self._call("GET", "/api/v1/crl")
        raise_for_status(response, self.destination)
        return response.content

    def _call(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        try:
            return self.http.request(method, self.url + path, allow_redirects=False, **kwargs)
        except requests.Timeout:
            raise RetriableError(f"{self.destination}: no answer in time") from None
        except requests.ConnectionError as error:
            raise RetriableError(
                f"cannot connect to {self.destination}: {type(error).__name__}"
            ) from None


def _error_text(response: requests.Response) -> str:
    try:
        return str(response.json().get("error", ""))[:200]
    except ValueError:
        return ""


def _load_certificate(setting: str) -> x509.Certificate:
    if setting.lstrip().startswith("-----BEGIN"):
        data = setting.encode()
        where = "ca_certificate (inline)"
    else:
        path = Path(setting)
        where = f"ca_certificate ({path})"
        try:
            data = path.read_bytes()
        except OSError as error:
            raise ConfigurationError(
                f"{where}: cannot be read ({error.strerror}); start the signature sandbox"
                " or run `govhub certs init` for the dev CA"
            ) from None
    try:
        return x509.load_pem_x509_certificate(data)
    except ValueError:
        raise ConfigurationError(f"{where}: not a PEM certificate") from None
