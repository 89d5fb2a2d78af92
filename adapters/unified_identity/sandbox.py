"""A simulated unified identity authentication service (统一身份认证平台), as the hub meets it.

Like the provincial platforms:

- OAuth 2: ``POST /oauth/token`` (form) with ``grant_type=client_credentials`` gives the
  hub an application token for ``/api/v1``; with ``grant_type=authorization_code``
  (``code``, ``redirect_uri``, and the client's credentials) it exchanges the code a
  resident's or a company's login produced for a user access token. A code is used once
  and lives 5 minutes (``invalid_grant`` otherwise);
- ``GET /oauth/userinfo`` with a user access token answers who logged in: ``sub``,
  ``user_type`` (``1`` 自然人, ``2`` 法人), ``cert_type`` (111 resident ID, 001 USCC),
  ``cert_no``, ``name``, ``auth_level`` (level of assurance 1–4) and, for a legal person,
  ``legal_rep``; 401 ``TOKEN_INVALID`` for a token it did not issue or that expired;
- ``POST /api/v1/identities/query`` ``{"cert_no", "cert_type", "reason", "item_code"}``
  looks an identity up (identifiers in the body, never in a URL); every look-up states a
  reason and the service item (400 ``AUDIT_REQUIRED`` otherwise) and is audited; 404
  ``NOT_FOUND`` for nobody;
- ``GET /api/v1/ping`` answers a call with a valid application token;
- errors are ``{"code", "message"}`` with a 4xx/5xx status.

Controls: ``POST /_sandbox/login`` ``{"cert_no", "redirect_uri"?}`` plays a login and
answers the authorization ``code``; ``POST /_sandbox/identities`` adds an identity;
``GET /_sandbox/audit`` (identifiers masked).
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, Response, jsonify, request

from adapters.sdk.sandbox import SandboxInfo, install_faults
from hub.core.clock import format_time, utcnow
from hub.core.identifiers import (
    IdentifierError,
    check_resident_id,
    check_uscc,
    mask,
    mask_resident_id,
)

__all__ = [
    "DEFAULT_CLIENT_ID",
    "DEFAULT_CLIENT_SECRET",
    "SANDBOX",
    "SEEDED",
    "IdentityState",
    "create_app",
]

DEFAULT_CLIENT_ID = "govhub-sandbox"
#: The sandbox's secret when none is set; the default configuration uses the same one.
DEFAULT_CLIENT_SECRET = "sandbox-unified-identity-secret-0001"  # noqa: S105 - a public test value
CODE_TTL_S = 300.0
MAX_BODY_BYTES = 64 * 1024

#: (cert_no, cert_type, name, auth_level, legal_rep)
SEEDED: tuple[tuple[str, str, str, int, str | None], ...] = (
    ("11010519491231002X", "111", "王秀英", 3, None),
    ("371002198506123010", "111", "张海涛", 4, None),
    ("371002200103154525", "111", "陈思雨", 2, None),
    ("91371002MA3C00001M", "001", "威海海鲜食品有限公司", 3, "刘建国"),
    ("91110108551385082Q", "001", "北京某科技有限公司", 4, "赵德明"),
)


@dataclass
class Account:
    """One registered identity."""

    sub: str
    cert_no: str
    cert_type: str
    name: str
    auth_level: int
    legal_rep: str | None = None

    def to_json(self) -> dict[str, Any]:
        """As the platform answers it."""
        document: dict[str, Any] = {
            "sub": self.sub,
            "user_type": "1" if self.cert_type == "111" else "2",
            "cert_type": self.cert_type,
            "cert_no": self.cert_no,
            "name": self.name,
            "auth_level": self.auth_level,
        }
        if self.legal_rep:
            document["legal_rep"] = self.legal_rep
        return document


@dataclass
class IdentityState:
    """Everything the sandbox remembers (in memory, behind one lock)."""

    client_id: str
    client_secret: str
    token_ttl_s: float
    lock: threading.Lock = field(default_factory=threading.Lock)
    app_tokens: dict[str, float] = field(default_factory=dict)
    user_tokens: dict[str, tuple[str, float]] = field(default_factory=dict)
    codes: dict[str, tuple[str, str, float]] = field(default_factory=dict)
    accounts: dict[str, Account] = field(default_factory=dict)
    audit: list[dict[str, Any]] = field(default_factory=list)

    def reset(self) -> None:
        """Back to the seeded identities, with no tokens, codes or audit."""
        with self.lock:
            self.app_tokens.clear()
            self.user_tokens.clear()
            self.codes.clear()
            self.accounts.clear()
            self.audit.clear()
        for cert_no, cert_type, name, level, rep in SEEDED:
            self.add(cert_no, cert_type, name, level, rep)

    def add(
        self, cert_no: str, cert_type: str, name: str, level: int, rep: str | None = None
    ) -> Account:
        """Register an identity (or replace the one under ``cert_no``)."""
        with self.lock:
            account = Account(
                f"U{len(self.accounts) + 1:06d}", cert_no, cert_type, name, level, rep
            )
            self.accounts[cert_no] = account
            return account

    def app_token(self) -> tuple[str, int]:
        """A new application token and its lifetime."""
        token = secrets.token_urlsafe(24)
        with self.lock:
            self.app_tokens[token] = time.monotonic() + self.token_ttl_s
        return token, int(self.token_ttl_s)

    def app_token_valid(self, header: str | None) -> bool:
        """Whether ``Authorization`` carries a live application token."""
        token = _bearer(header)
        with self.lock:
            expires = self.app_tokens.get(token or "")
        return expires is not None and time.monotonic() < expires

    def login(self, cert_no: str, redirect_uri: str) -> str | None:
        """An authorization code for a login of ``cert_no``; ``None`` for nobody."""
        code = secrets.token_urlsafe(16)
        with self.lock:
            if cert_no not in self.accounts:
                return None
            self.codes[code] = (cert_no, redirect_uri, time.monotonic() + CODE_TTL_S)
        return code

    def redeem(self, code: str, redirect_uri: str) -> tuple[str, int] | None:
        """A user access token for a code (once), or ``None``."""
        with self.lock:
            found = self.codes.pop(code, None)
            if found is None or found[1] != redirect_uri or time.monotonic() > found[2]:
                return None
            token = secrets.token_urlsafe(24)
            self.user_tokens[token] = (found[0], time.monotonic() + self.token_ttl_s)
        return token, int(self.token_ttl_s)

    def user_of(self, header: str | None) -> Account | None:
        """The account a user access token was issued for, while it lives."""
        with self.lock:
            found = self.user_tokens.get(_bearer(header) or "")
            if found is None or time.monotonic() > found[1]:
                return None
            return self.accounts.get(found[0])

    def note_use(self, cert_no: str, cert_type: str, reason: str, item_code: str) -> None:
        """An audit entry: whose identity was looked at, why, for which service item."""
        shown = mask_resident_id(cert_no) if cert_type == "111" else mask(cert_no, 6, 2)
        with self.lock:
            self.audit.append(
                {
                    "at": format_time(utcnow()),
                    "subject": shown,
                    "reason": reason,
                    "item_code": item_code,
                }
            )


def _bearer(header: str | None) -> str | None:
    if not header or not header.startswith("Bearer "):
        return None
    return header[len("Bearer ") :].strip()


def problem(code: str, message: str, status: int) -> tuple[Response, int]:
    """The platform's error document."""
    return jsonify({"code": code, "message": message}), status


def create_app(
    client_id: str = DEFAULT_CLIENT_ID,
    client_secret: str = DEFAULT_CLIENT_SECRET,
    *,
    token_ttl_s: float = 3600.0,
) -> Flask:
    """The unified identity sandbox app.

    Args:
        client_id: The hub's OAuth client id.
        client_secret: Its secret.
        token_ttl_s: How long an access token lives.
    """
    state = IdentityState(client_id=client_id, client_secret=client_secret, token_ttl_s=token_ttl_s)
    state.reset()
    app = Flask("govhub.sandbox.unified_identity")
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES
    app.extensions["unified_identity"] = state

    def render_fault(kind: str) -> Response | None:
        documents = {
            "server": ("INTERNAL_ERROR", "认证平台内部错误", 500),
            "client": ("INVALID_REQUEST", "请求不符合接口规范", 400),
        }
        if kind not in documents:
            return None
        response, status = problem(*documents[kind])
        response.status_code = status
        return response

    install_faults(app, state.reset, render_fault=render_fault, effects=lambda: [])

    @app.before_request
    def _authenticate() -> tuple[Response, int] | None:
        if request.path.startswith("/api/") and not state.app_token_valid(
            request.headers.get("Authorization")
        ):
            return problem("TOKEN_INVALID", "a valid application token is required", 401)
        return None

    def _client_ok() -> bool:
        form = request.form
        return secrets.compare_digest(
            form.get("client_id", ""), state.client_id
        ) and secrets.compare_digest(form.get("client_secret", ""), state.client_secret)

    @app.post("/oauth/token")
    def token() -> tuple[Response, int]:
        grant = request.form.get("grant_type")
        if grant not in ("client_credentials", "authorization_code"):
            return jsonify({"error": "unsupported_grant_type"}), 400
        if not _client_ok():
            return jsonify({"error": "invalid_client"}), 401
        if grant == "client_credentials":
            access_token, lifetime = state.app_token()
        else:
            redeemed = state.redeem(
                request.form.get("code", ""), request.form.get("redirect_uri", "")
            )
            if redeemed is None:
                return jsonify({"error": "invalid_grant"}), 400
            access_token, lifetime = redeemed
        return jsonify(
            {"access_token": access_token, "token_type": "Bearer", "expires_in": lifetime}
        ), 200

    @app.get("/oauth/userinfo")
    def userinfo() -> tuple[Response, int]:
        account = state.user_of(request.headers.get("Authorization"))
        if account is None:
            return problem("TOKEN_INVALID", "the access token is not valid or has expired", 401)
        return jsonify(account.to_json()), 200

    @app.get("/api/v1/ping")
    def ping() -> tuple[Response, int]:
        return jsonify({"status": "ok"}), 200

    @app.post("/api/v1/identities/query")
    def query() -> tuple[Response, int]:
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            return problem("INVALID_REQUEST", "send a JSON object", 400)
        reason, item_code = body.get("reason"), body.get("item_code")
        if not (isinstance(reason, str) and reason.strip()) or not (
            isinstance(item_code, str) and item_code.strip()
        ):
            return problem("AUDIT_REQUIRED", "state the reason and the service item_code", 400)
        cert_no, cert_type = body.get("cert_no"), body.get("cert_type")
        if not isinstance(cert_no, str) or cert_type not in ("111", "001"):
            return problem(
                "INVALID_REQUEST", "cert_no and cert_type (111 or 001) are required", 400
            )
        try:
            (check_resident_id if cert_type == "111" else check_uscc)(cert_no)
        except IdentifierError as error:
            return problem("INVALID_CERT", f"cert_no fails its check: {error}", 400)
        state.note_use(cert_no, cert_type, reason.strip(), item_code.strip())
        with state.lock:
            account = state.accounts.get(cert_no)
            found = account.to_json() if account and account.cert_type == cert_type else None
        if found is None:
            return problem("NOT_FOUND", "no identity under this certificate", 404)
        return jsonify(found), 200

    @app.post("/_sandbox/login")
    def login() -> tuple[Response, int]:
        body = request.get_json(force=True, silent=True) or {}
        code = state.login(str(body.get("cert_no", "")), str(body.get("redirect_uri", "")))
        if code is None:
            return jsonify({"error": "no such identity"}), 404
        return jsonify({"code": code}), 201

    @app.post("/_sandbox/identities")
    def add_identity() -> tuple[Response, int]:
        body = request.get_json(force=True, silent=True) or {}
        try:
            account = state.add(
                str(body["cert_no"]),
                str(body.get("cert_type", "111")),
                str(body["name"]),
                int(body.get("auth_level", 3)),
                body.get("legal_rep"),
            )
        except (KeyError, ValueError):
            return jsonify({"error": "cert_no and name are required"}), 400
        return jsonify({"sub": account.sub}), 201

    @app.get("/_sandbox/audit")
    def audit() -> Response:
        with state.lock:
            return jsonify({"entries": list(state.audit)})

    return app


SANDBOX = SandboxInfo(
    name="unified_identity",
    default_port=9981,
    create_app=create_app,
    description="the unified identity service (统一身份认证): logins, token exchange, look-ups",
)
