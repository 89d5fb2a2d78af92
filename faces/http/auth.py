"""Who is calling: API keys in ``Authorization: Bearer``, or signed requests (``signing``)."""

from __future__ import annotations

import logging

from flask import current_app, g, request
from werkzeug.wrappers import Request

from faces.http import signing
from faces.http.limits import LIMITS_EXTENSION, Limits, retry_after_header
from faces.http.problems import Problem
from faces.http.tls import TLS_CLIENT
from hub.keyring import VaultError
from hub.store import Client, Store

__all__ = [
    "bearer_token",
    "current_client",
    "parse_bearer",
    "require_client",
    "require_operator",
    "too_many_failures",
    "too_many_requests",
]

_CHALLENGE = {
    "WWW-Authenticate": 'Bearer realm="govhub", HMAC-SM3 realm="govhub", HMAC-SHA256 realm="govhub"'
}
log = logging.getLogger("govhub.web")


def parse_bearer(header: str) -> str | None:
    """The token of an ``Authorization`` header value of the ``Bearer`` scheme, if it is one."""
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def bearer_token(incoming: Request | None = None) -> str | None:
    """The token of an ``Authorization: Bearer`` header, if there is one.

    Args:
        incoming: The request; by default Flask's current one.
    """
    return parse_bearer((incoming or request).headers.get("Authorization", ""))


def too_many_failures(seconds: float) -> Problem:
    """The 429 of an address that failed to authenticate too often."""
    return Problem(
        429,
        "too-many-failures",
        "Too many failed authentications",
        "this address sent too many wrong credentials lately; try again after"
        f" {retry_after_header(seconds)['Retry-After']} s",
        headers=retry_after_header(seconds),
    )


def too_many_requests(seconds: float) -> Problem:
    """The 429 of a client over its rate."""
    return Problem(
        429,
        "rate-limited",
        "Too many requests",
        "this client is over its rate ([limits]); try again after"
        f" {retry_after_header(seconds)['Retry-After']} s",
        headers=retry_after_header(seconds),
    )


def _limits() -> Limits | None:
    limits: Limits | None = current_app.extensions.get(LIMITS_EXTENSION)
    return limits


def require_client(store: Store) -> Client:
    """The authenticated client of this request, within its rate.

    Raises:
        Problem: 401 when the key is missing, unknown or revoked; 429 when this address
            failed to authenticate too often lately, or the client is over its rate.
    """
    limits = _limits()
    if limits is not None and (wait := limits.throttled(request.remote_addr)) is not None:
        raise too_many_failures(wait)
    header = request.headers.get("Authorization", "")
    certified = request.environ.get(TLS_CLIENT)
    if signing.is_signed(header):
        signer = _same_as_certificate(_signed_client(store, limits), certified)
        if limits is not None and (wait := limits.admit(signer.name)) is not None:
            raise too_many_requests(wait)
        g.client = signer
        return signer
    if certified and not header:
        found = store.clients.get(certified)
        if found is None or found.revoked_at is not None:
            if limits is not None:
                limits.failed(request.remote_addr)
            raise Problem(
                401,
                "unauthenticated",
                "Authentication required",
                "the client certificate names no active client (govhub clients add)",
                headers=_CHALLENGE,
            )
        if limits is not None and (wait := limits.admit(found.name)) is not None:
            raise too_many_requests(wait)
        g.client = found
        return found
    token = bearer_token()
    if token is None:
        raise Problem(
            401,
            "unauthenticated",
            "Authentication required",
            "send an API key as `Authorization: Bearer <key>`, or sign the request"
            " (`Authorization: HMAC-SM3 client=…,ts=…,nonce=…,sig=…`)",
            headers=_CHALLENGE,
        )
    client = store.clients.authenticate(token)
    if client is None:
        if limits is not None:
            limits.failed(request.remote_addr)
        raise Problem(
            401,
            "unauthenticated",
            "Authentication required",
            "the API key is not valid or has been revoked",
            headers=_CHALLENGE,
        )
    client = _same_as_certificate(client, certified)
    if limits is not None and (wait := limits.admit(client.name)) is not None:
        raise too_many_requests(wait)
    g.client = client
    return client


def _same_as_certificate(client: Client, certified: str | None) -> Client:
    if certified and client.name != certified:
        raise Problem(
            401,
            "unauthenticated",
            "Authentication required",
            "the credentials belong to another client than the client certificate",
            headers=_CHALLENGE,
        )
    return client


def _signed_client(store: Store, limits: Limits | None) -> Client:
    hub = current_app.extensions["govhub"]
    cap = hub.config.server.max_body_bytes
    if request.content_length is not None and request.content_length > cap:
        raise Problem(413, "too-large", "Request body too large", f"the limit is {cap} bytes")
    try:
        return signing.verify(store, request, body=request.get_data(cache=True))
    except signing.SignatureRefused as refused:
        if limits is not None:
            limits.failed(request.remote_addr)
        raise Problem(
            401, "bad-signature", "Signature refused", str(refused), headers=_CHALLENGE
        ) from None
    except VaultError as error:
        log.error("cannot check a signed request: %s", error)
        raise Problem(
            503,
            "server-key",
            "Cannot check signatures now",
            "the hub cannot open its sealed keys; the error is logged",
        ) from None


def require_operator(store: Store) -> Client:
    """The authenticated client, which must have the ``operator`` role.

    Raises:
        Problem: 401 without a valid key, 403 without the role.
    """
    client = require_client(store)
    if not client.is_operator:
        raise Problem(403, "forbidden", "Forbidden", "this needs a client with the operator role")
    return client


def current_client() -> Client | None:
    """The client authenticated earlier in this request, if any."""
    client: Client | None = g.get("client")
    return client
