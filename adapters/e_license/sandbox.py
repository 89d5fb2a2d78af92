"""A simulated e-license library (电子证照库), as the hub meets it.

Like the real one:

- OAuth 2 client credentials: ``POST /oauth/token`` (form: ``grant_type``,
  ``client_id``, ``client_secret``) gives a bearer token; ``/api/v1`` refuses a call
  without a valid one (401 ``TOKEN_INVALID``);
- ``POST /api/v1/licenses`` ``{"metadata": {...}}`` archives an issued licence: its
  metadata (``adapters.e_license.metadata``) and the signed file's SHA-256. The
  identifier is checked (GB/T 36904 check character) and must agree with the type code
  and the issuer's code. Archiving is idempotent: the same identifier with the same
  metadata again is one record (200, ``duplicate``); with other metadata it is 409;
- every *use* of a licence states why: ``POST /api/v1/licenses/search`` (holder code and
  type, in the body) and ``GET /api/v1/licenses/<id>`` need a ``reason`` and the service
  ``item_code``; the library writes an audit entry for each and refuses (400
  ``AUDIT_REQUIRED``) without them;
- ``POST /api/v1/licenses/<id>/revocation`` ``{"revoked_at", "reason"}`` revokes
  (idempotent; 404 for a licence it does not hold);
- ``GET /api/v1/ping`` answers a call with a valid token;
- errors are ``{"code", "message"}`` with a 4xx/5xx status.

Controls: ``GET /_sandbox/audit`` (holder codes masked), ``GET /_sandbox/licenses``,
``GET /_sandbox/effects``, and ``POST /_sandbox/licenses`` ``{"metadata": {...}}`` to put a
licence in the library without a token.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, Response, jsonify, request

from adapters.sdk.sandbox import SandboxInfo, install_faults
from hub.core.clock import format_time, utcnow
from hub.core.identifiers import (
    IdentifierError,
    check_e_license_id,
    check_resident_id,
    check_uscc,
    mask,
    mask_resident_id,
)

__all__ = [
    "DEFAULT_CLIENT_ID",
    "DEFAULT_CLIENT_SECRET",
    "SANDBOX",
    "ELicenseState",
    "create_app",
]

DEFAULT_CLIENT_ID = "govhub-sandbox"
#: The sandbox's secret when none is set; the default configuration uses the same one.
DEFAULT_CLIENT_SECRET = "sandbox-e-license-secret-0001"  # noqa: S105 - a public test value
MAX_BODY_BYTES = 1024 * 1024

_REQUIRED = (
    "ZZBS",
    "ZZMC",
    "ZZLXDM",
    "ZZBH",
    "FZJG",
    "FZJGDM",
    "FZRQ",
    "CZZT",
    "CZZTDM",
    "CZZTDMLX",
    "YXQQSRQ",
    "YXQJZRQ",
    "XZQHDM",
)
_OPTIONAL = ("BJBH", "ZMXX", "WJ")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


@dataclass
class Archived:
    """One licence in the library."""

    metadata: dict[str, Any]
    archived_at: str
    signature: dict[str, Any] | None = None
    status: str = "valid"
    revoked_at: str | None = None
    revocation_reason: str | None = None

    def to_json(self) -> dict[str, Any]:
        """As the library answers it."""
        return {
            "metadata": self.metadata,
            "signature": self.signature,
            "status": self.status,
            "archived_at": self.archived_at,
            "revoked_at": self.revoked_at,
            "revocation_reason": self.revocation_reason,
        }


@dataclass
class ELicenseState:
    """Everything the sandbox remembers (in memory, behind one lock)."""

    client_id: str
    client_secret: str
    token_ttl_s: float
    lock: threading.Lock = field(default_factory=threading.Lock)
    tokens: dict[str, float] = field(default_factory=dict)
    licenses: dict[str, Archived] = field(default_factory=dict)
    audit: list[dict[str, Any]] = field(default_factory=list)
    effects: list[dict[str, Any]] = field(default_factory=list)

    def reset(self) -> None:
        """An empty library."""
        with self.lock:
            self.tokens.clear()
            self.licenses.clear()
            self.audit.clear()
            self.effects.clear()

    def issue_token(self) -> tuple[str, int]:
        """A new access token and its lifetime."""
        token = secrets.token_urlsafe(24)
        with self.lock:
            self.tokens[token] = time.monotonic() + self.token_ttl_s
        return token, int(self.token_ttl_s)

    def token_valid(self, header: str | None) -> bool:
        """Whether ``Authorization`` carries a live token."""
        if not header or not header.startswith("Bearer "):
            return False
        with self.lock:
            expires = self.tokens.get(header[len("Bearer ") :].strip())
        return expires is not None and time.monotonic() < expires

    def archive(
        self, metadata: dict[str, Any], signature: dict[str, Any] | None = None
    ) -> tuple[str, Archived]:
        """Archive; ``"created"``, ``"duplicate"`` or ``"conflict"`` and the record."""
        license_id = metadata["ZZBS"]
        with self.lock:
            existing = self.licenses.get(license_id)
            if existing is not None:
                same = existing.metadata == metadata
                return ("duplicate" if same else "conflict"), existing
            record = Archived(
                metadata=dict(metadata),
                archived_at=format_time(utcnow()) or "",
                signature=signature,
            )
            self.licenses[license_id] = record
            self.effects.append({"kind": "archive", "key": license_id})
            return "created", record

    def revoke(self, license_id: str, revoked_at: str, reason: str) -> tuple[str, Archived | None]:
        """Revoke; ``"revoked"``, ``"duplicate"`` or ``"unknown"``."""
        with self.lock:
            record = self.licenses.get(license_id)
            if record is None:
                return "unknown", None
            if record.status == "revoked":
                return "duplicate", record
            record.status = "revoked"
            record.revoked_at = revoked_at
            record.revocation_reason = reason
            self.effects.append({"kind": "revoke", "key": license_id})
            return "revoked", record

    def note_use(self, action: str, subject: str, reason: str, item_code: str) -> None:
        """An audit entry: who asked what, why, for which service item."""
        with self.lock:
            self.audit.append(
                {
                    "at": format_time(utcnow()),
                    "action": action,
                    "subject": subject,
                    "reason": reason,
                    "item_code": item_code,
                }
            )


def metadata_problem(metadata: Any) -> tuple[str, str] | None:
    """The library's ``(code, message)`` for metadata it refuses, or ``None``."""
    if not isinstance(metadata, Mapping):
        return "INVALID_REQUEST", "metadata must be an object"
    for item in metadata:
        if item not in _REQUIRED and item not in _OPTIONAL:
            return "INVALID_REQUEST", f"unknown metadata item {item}"
    for item in _REQUIRED:
        if not isinstance(metadata.get(item), str) or not metadata[item].strip():
            return "INVALID_REQUEST", f"{item} is required"
    license_id = metadata["ZZBS"]
    try:
        check_e_license_id(license_id)
    except IdentifierError as error:
        return "INVALID_LICENSE_ID", f"ZZBS {error}"
    parts = license_id.split(".")
    if metadata["ZZLXDM"] != parts[5]:
        return "TYPE_MISMATCH", "ZZLXDM differs from the type code inside ZZBS"
    if metadata["FZJGDM"] != parts[6]:
        return "ISSUER_MISMATCH", "FZJGDM differs from the issuer code inside ZZBS"
    try:
        check_uscc(metadata["FZJGDM"])
        if metadata["CZZTDMLX"] == "111":
            check_resident_id(metadata["CZZTDM"])
        elif metadata["CZZTDMLX"] == "001":
            check_uscc(metadata["CZZTDM"])
        else:
            return "INVALID_REQUEST", "CZZTDMLX must be 111 or 001"
    except IdentifierError as error:
        return "INVALID_HOLDER", f"a code fails its check: {error}"
    for item in ("FZRQ", "YXQQSRQ"):
        if not _DATE.match(metadata[item]):
            return "INVALID_REQUEST", f"{item} must be yyyy-MM-dd"
    if metadata["YXQJZRQ"] != "长期" and not _DATE.match(metadata["YXQJZRQ"]):
        return "INVALID_REQUEST", "YXQJZRQ must be yyyy-MM-dd or 长期"
    file = metadata.get("WJ")
    if not isinstance(file, Mapping) or not _SHA256.match(str(file.get("SHA256", ""))):
        return "FILE_HASH_REQUIRED", "WJ.SHA256 (the signed file's SHA-256, hex) is required"
    return None


def masked_holder(code: str, code_type: str) -> str:
    """A holder code as the audit log keeps it."""
    return mask_resident_id(code) if code_type == "111" else mask(code, 6, 2)


def problem(code: str, message: str, status: int) -> tuple[Response, int]:
    """The library's error document."""
    return jsonify({"code": code, "message": message}), status


def create_app(
    client_id: str = DEFAULT_CLIENT_ID,
    client_secret: str = DEFAULT_CLIENT_SECRET,
    *,
    token_ttl_s: float = 3600.0,
) -> Flask:
    """The e-license library sandbox app.

    Args:
        client_id: The hub's OAuth client id.
        client_secret: Its secret.
        token_ttl_s: How long an access token lives.
    """
    state = ELicenseState(client_id=client_id, client_secret=client_secret, token_ttl_s=token_ttl_s)
    app = Flask("govhub.sandbox.e_license")
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES
    app.extensions["e_license"] = state

    def render_fault(kind: str) -> Response | None:
        documents = {
            "server": ("INTERNAL_ERROR", "证照库内部错误", 500),
            "client": ("INVALID_REQUEST", "请求不符合接口规范", 400),
        }
        if kind not in documents:
            return None
        response, status = problem(*documents[kind])
        response.status_code = status
        return response

    def effects() -> list[dict[str, Any]]:
        with state.lock:
            return list(state.effects)

    install_faults(app, state.reset, render_fault=render_fault, effects=effects)

    @app.before_request
    def _authenticate() -> tuple[Response, int] | None:
        if request.path.startswith("/api/") and not state.token_valid(
            request.headers.get("Authorization")
        ):
            return problem("TOKEN_INVALID", "a valid bearer token is required", 401)
        return None

    @app.post("/oauth/token")
    def token() -> tuple[Response, int]:
        form = request.form
        if form.get("grant_type") != "client_credentials":
            return jsonify({"error": "unsupported_grant_type"}), 400
        if not (
            secrets.compare_digest(form.get("client_id", ""), state.client_id)
            and secrets.compare_digest(form.get("client_secret", ""), state.client_secret)
        ):
            return jsonify({"error": "invalid_client"}), 401
        access_token, lifetime = state.issue_token()
        return jsonify(
            {"access_token": access_token, "token_type": "Bearer", "expires_in": lifetime}
        ), 200

    @app.get("/api/v1/ping")
    def ping() -> tuple[Response, int]:
        return jsonify({"status": "ok"}), 200

    @app.post("/api/v1/licenses")
    def archive() -> tuple[Response, int]:
        body = request.get_json(silent=True)
        metadata = body.get("metadata") if isinstance(body, dict) else None
        refused = metadata_problem(metadata)
        if refused is not None:
            return problem(*refused, 400)
        assert isinstance(metadata, dict)
        signature = body.get("signature") if isinstance(body, dict) else None
        if signature is not None and not isinstance(signature, dict):
            return problem("INVALID_REQUEST", "signature must be an object", 400)
        outcome, record = state.archive(metadata, signature)
        if outcome == "conflict":
            return problem(
                "LICENSE_EXISTS",
                "another licence with different metadata is archived under this identifier",
                409,
            )
        return jsonify(
            {
                "license_id": metadata["ZZBS"],
                "archived_at": record.archived_at,
                "duplicate": outcome == "duplicate",
            }
        ), (201 if outcome == "created" else 200)

    def _stated_use(source: Mapping[str, Any]) -> tuple[str, str] | None:
        reason, item_code = source.get("reason"), source.get("item_code")
        if not isinstance(reason, str) or not isinstance(item_code, str):
            return None
        if not reason.strip() or not item_code.strip():
            return None
        return reason.strip(), item_code.strip()

    @app.post("/api/v1/licenses/search")
    def search() -> tuple[Response, int]:
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            return problem("INVALID_REQUEST", "send a JSON object", 400)
        use = _stated_use(body)
        if use is None:
            return problem("AUDIT_REQUIRED", "state the reason and the service item_code", 400)
        code, code_type = body.get("CZZTDM"), body.get("CZZTDMLX")
        if not isinstance(code, str) or code_type not in ("111", "001"):
            return problem("INVALID_REQUEST", "CZZTDM and CZZTDMLX (111 or 001) are required", 400)
        type_code = body.get("ZZLXDM")
        state.note_use("search", masked_holder(code, code_type), *use)
        with state.lock:
            found = [
                record.to_json()
                for record in state.licenses.values()
                if record.metadata["CZZTDM"] == code
                and record.metadata["CZZTDMLX"] == code_type
                and (not type_code or record.metadata["ZZLXDM"] == type_code)
            ]
        return jsonify({"items": found, "total": len(found)}), 200

    @app.get("/api/v1/licenses/<license_id>")
    def fetch(license_id: str) -> tuple[Response, int]:
        use = _stated_use(request.args)
        if use is None:
            return problem("AUDIT_REQUIRED", "state the reason and the service item_code", 400)
        state.note_use("fetch", license_id, *use)
        with state.lock:
            record = state.licenses.get(license_id)
            found = record.to_json() if record else None
        if found is None:
            return problem("NOT_FOUND", "no licence with this identifier", 404)
        return jsonify(found), 200

    @app.post("/api/v1/licenses/<license_id>/revocation")
    def revoke(license_id: str) -> tuple[Response, int]:
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            return problem("INVALID_REQUEST", "send a JSON object", 400)
        reason, revoked_at = body.get("reason"), body.get("revoked_at")
        if not isinstance(reason, str) or not reason.strip() or not isinstance(revoked_at, str):
            return problem("INVALID_REQUEST", "reason and revoked_at are required", 400)
        try:
            dt.datetime.fromisoformat(revoked_at)
        except ValueError:
            return problem("INVALID_REQUEST", "revoked_at must be an RFC 3339 time", 400)
        outcome, record = state.revoke(license_id, revoked_at, reason)
        if record is None:
            return problem("NOT_FOUND", "no licence with this identifier", 404)
        return jsonify(
            {"license_id": license_id, "status": record.status, "duplicate": outcome == "duplicate"}
        ), 200

    @app.get("/_sandbox/audit")
    def audit() -> Response:
        with state.lock:
            return jsonify({"entries": list(state.audit)})

    @app.get("/_sandbox/licenses")
    def licenses() -> Response:
        with state.lock:
            return jsonify({"items": [r.to_json() for r in state.licenses.values()]})

    @app.post("/_sandbox/licenses")
    def put_license() -> tuple[Response, int]:
        body = request.get_json(force=True, silent=True) or {}
        metadata = body.get("metadata")
        refused = metadata_problem(metadata)
        if refused is not None:
            return jsonify({"error": refused[1]}), 400
        assert isinstance(metadata, dict)
        with state.lock:
            state.licenses[metadata["ZZBS"]] = Archived(
                metadata=dict(metadata), archived_at=format_time(utcnow()) or ""
            )
        return jsonify({"license_id": metadata["ZZBS"]}), 201

    return app


SANDBOX = SandboxInfo(
    name="e_license",
    default_port=9941,
    create_app=create_app,
    description="the e-license library (电子证照库): archive, look up, fetch, revoke",
)
