"""A signing server (电子签章服务) with its own dev CA, as the hub's tests and demo use it.

At start-up it loads or makes the dev CA (``certs.devca``: ``certs/dev/ca/``, never
committed) and issues two seals, an ECDSA P-256 one (``govhub-seal``, the default) and
an RSA one (``govhub-seal-rsa``). Their private keys never leave the server: clients
send a digest and get a signature with the seal's certificate back.

Endpoints (``Authorization: Bearer <api key>`` on all but the public CA material)::

    GET  /api/v1/ca                           the CA certificate (PEM), public
    GET  /api/v1/crl                          the current CRL (PEM, signed by the CA), public
    GET  /api/v1/seals                        the seals: key id, algorithm, certificate
    POST /api/v1/seals                        {key_id, algorithm, common_name}: issue a seal
    POST /api/v1/sign                         {key_id, digest (base64), digest_algorithm}
    POST /api/v1/verify                       {digest, algorithm, value, certificate}
    GET  /api/v1/certificates/<serial>/status good | revoked | unknown
    POST /api/v1/certificates/<serial>/revoke {reason}

Serials are upper-case hex. A revoked seal cannot sign (409).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hmac
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from flask import Flask, Response, jsonify, request

from adapters.sdk.sandbox import SandboxInfo, install_faults
from adapters.signature.algorithms import UnknownAlgorithm, algorithm, algorithms
from certs.devca import CertificateAuthority, ensure_ca

__all__ = ["DEFAULT_API_KEY", "DEFAULT_SEAL", "SANDBOX", "create_app"]

#: The sandbox's API key when none is set; the default configuration uses the same one.
DEFAULT_API_KEY = "sandbox-signature-key-0001"  # a sandbox's public test value
DEFAULT_SEAL = "govhub-seal"
_DEFAULT_SEALS = {DEFAULT_SEAL: "ECDSA-P256-SHA256", "govhub-seal-rsa": "RSA-SHA256"}
MAX_BODY = 256 * 1024


@dataclass
class _Seal:
    key_id: str
    algorithm: str
    private_key: Any
    certificate: x509.Certificate

    def to_json(self) -> dict[str, Any]:
        return {
            "key_id": self.key_id,
            "algorithm": self.algorithm,
            "serial": serial_hex(self.certificate.serial_number),
            "certificate": self.certificate.public_bytes(serialization.Encoding.PEM).decode(),
        }


def serial_hex(serial: int) -> str:
    """A certificate serial as the service writes it: upper-case hex."""
    return format(serial, "X")


class _Service:
    def __init__(self, ca: CertificateAuthority) -> None:
        self.ca = ca
        self.lock = threading.Lock()
        self.seals: dict[str, _Seal] = {}
        self.issued: dict[int, x509.Certificate] = {}
        self.revoked: dict[int, tuple[dt.datetime, str]] = {}
        # the default seals' keys outlive a reset (only their certificates are re-issued):
        # making an RSA key is the slow part of starting
        self._default_keys: dict[str, Any] = {}
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.seals.clear()
            self.issued.clear()
            self.revoked.clear()
        for key_id, name in _DEFAULT_SEALS.items():
            self.issue_seal(key_id, name, f"GovHub {key_id}")

    def issue_seal(self, key_id: str, algorithm_name: str, common_name: str) -> _Seal:
        implementation = algorithm(algorithm_name)
        if _DEFAULT_SEALS.get(key_id) == algorithm_name:
            private_key = self._default_keys.get(key_id)
            if private_key is None:
                private_key = self._default_keys[key_id] = implementation.generate_key()
        else:
            private_key = implementation.generate_key()
        certificate = self.ca.issue(common_name, implementation.public_key(private_key))
        seal = _Seal(key_id, algorithm_name, private_key, certificate)
        with self.lock:
            self.seals[key_id] = seal
            self.issued[certificate.serial_number] = certificate
        return seal


def create_app(directory: Path | None = None, api_key: str | None = None) -> Flask:
    """The signing server app.

    Args:
        directory: Where the dev CA lives (``certs.devca.default_dir()`` by default).
        api_key: The bearer key clients must send; ``$GOVHUB_SIGNATURE_API_KEY`` or
            :data:`DEFAULT_API_KEY` by default.
    """
    key = api_key or os.environ.get("GOVHUB_SIGNATURE_API_KEY", DEFAULT_API_KEY)
    service = _Service(ensure_ca(directory))
    app = Flask("govhub.sandbox.signature")
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY
    app.extensions["signature_sandbox"] = service
    install_faults(app, service.reset)

    def error(status: int, message: str) -> tuple[Response, int]:
        return jsonify({"error": message}), status

    def authorised() -> bool:
        given = request.headers.get("Authorization", "")
        return given.startswith("Bearer ") and hmac.compare_digest(given[7:], key)

    @app.before_request
    def _authenticate() -> tuple[Response, int] | None:
        public = request.path in ("/api/v1/ca", "/api/v1/crl")
        if request.path.startswith("/api/") and not public and not authorised():
            return error(401, "missing or wrong API key")
        return None

    def body() -> dict[str, Any]:
        document = request.get_json(silent=True)
        return document if isinstance(document, dict) else {}

    @app.get("/api/v1/ca")
    def ca_certificate() -> Response:
        return Response(service.ca.certificate_pem, mimetype="application/x-pem-file")

    @app.get("/api/v1/crl")
    def revocation_list() -> Response:
        with service.lock:
            revoked = [(serial, when) for serial, (when, _reason) in service.revoked.items()]
        crl = service.ca.revocation_list(revoked)
        return Response(
            crl.public_bytes(serialization.Encoding.PEM), mimetype="application/x-pem-file"
        )

    @app.get("/api/v1/seals")
    def list_seals() -> Response:
        with service.lock:
            return jsonify({"seals": [seal.to_json() for seal in service.seals.values()]})

    @app.post("/api/v1/seals")
    def add_seal() -> tuple[Response, int]:
        document = body()
        key_id = str(document.get("key_id", ""))
        if not key_id or len(key_id) > 64:
            return error(400, "key_id: required, at most 64 characters")
        try:
            seal = service.issue_seal(
                key_id,
                str(document.get("algorithm", "ECDSA-P256-SHA256")),
                str(document.get("common_name", key_id))[:64],
            )
        except UnknownAlgorithm as problem:
            return error(400, f"algorithm: {problem}")
        return jsonify(seal.to_json()), 201

    @app.post("/api/v1/sign")
    def sign() -> tuple[Response, int]:
        document = body()
        with service.lock:
            seal = service.seals.get(str(document.get("key_id", DEFAULT_SEAL)))
        if seal is None:
            return error(404, "key_id: no such seal")
        if seal.certificate.serial_number in service.revoked:
            return error(409, "the seal's certificate is revoked")
        implementation = algorithm(seal.algorithm)
        if document.get("digest_algorithm", implementation.digest_name) != (
            implementation.digest_name
        ):
            return error(
                400, f"digest_algorithm: {seal.algorithm} signs {implementation.digest_name}"
            )
        try:
            digest_value = base64.b64decode(str(document.get("digest", "")), validate=True)
        except (binascii.Error, ValueError):
            return error(400, "digest: not base64")
        if len(digest_value) != 32:
            return error(400, "digest: must be 32 bytes")
        value = implementation.sign_digest(seal.private_key, digest_value)
        return jsonify(
            {
                "algorithm": seal.algorithm,
                "digest_algorithm": implementation.digest_name,
                "value": base64.b64encode(value).decode(),
                **{k: v for k, v in seal.to_json().items() if k in ("serial", "certificate")},
                "signed_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            }
        ), 200

    @app.post("/api/v1/verify")
    def verify() -> tuple[Response, int]:
        document = body()
        try:
            implementation = algorithm(str(document.get("algorithm", "")))
            certificate = x509.load_pem_x509_certificate(
                str(document.get("certificate", "")).encode()
            )
            digest_value = base64.b64decode(str(document.get("digest", "")), validate=True)
            value = base64.b64decode(str(document.get("value", "")), validate=True)
        except (UnknownAlgorithm, ValueError, binascii.Error) as problem:
            return error(400, f"malformed request: {type(problem).__name__}")
        status = _status(service, certificate.serial_number)
        try:
            certificate.verify_directly_issued_by(service.ca.certificate)
            chained = True
        except (ValueError, TypeError, InvalidSignature):
            chained = False
        valid = (
            chained
            and status == "good"
            and implementation.fits(certificate.public_key())
            and implementation.verify_digest(certificate.public_key(), digest_value, value)
        )
        reason = (
            "ok"
            if valid
            else "not issued by this CA"
            if not chained
            else f"certificate {status}"
            if status != "good"
            else "signature does not match"
        )
        return jsonify({"valid": valid, "reason": reason, "status": status}), 200

    @app.get("/api/v1/certificates/<serial>/status")
    def certificate_status(serial: str) -> tuple[Response, int]:
        try:
            number = int(serial, 16)
        except ValueError:
            return error(400, "serial: not hex")
        answer: dict[str, Any] = {"serial": serial.upper(), "status": _status(service, number)}
        with service.lock:
            if number in service.revoked:
                when, reason = service.revoked[number]
                answer.update(revoked_at=when.isoformat(timespec="seconds"), reason=reason)
        return jsonify(answer), 200

    @app.post("/api/v1/certificates/<serial>/revoke")
    def revoke(serial: str) -> tuple[Response, int]:
        try:
            number = int(serial, 16)
        except ValueError:
            return error(400, "serial: not hex")
        with service.lock:
            if number not in service.issued:
                return error(404, "no certificate with that serial")
            service.revoked.setdefault(
                number, (dt.datetime.now(dt.UTC), str(body().get("reason", "unspecified"))[:200])
            )
        return jsonify({"serial": serial.upper(), "status": "revoked"}), 200

    @app.get("/api/v1/algorithms")
    def list_algorithms() -> Response:
        return jsonify({"algorithms": algorithms()})

    return app


def _status(service: _Service, serial: int) -> str:
    with service.lock:
        if serial in service.revoked:
            return "revoked"
        return "good" if serial in service.issued else "unknown"


SANDBOX = SandboxInfo(
    name="signature",
    default_port=9951,
    create_app=create_app,
    description="a signing server with its own dev CA (电子签章)",
)
