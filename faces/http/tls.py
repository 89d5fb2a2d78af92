"""Mutual TLS: ``govhub serve --tls`` requires a client certificate from the hub's client CA.

gunicorn does the handshake (``cert_reqs = CERT_REQUIRED``, ``ca_certs`` = the client CA,
see :func:`gunicorn_options`), so a caller without a certificate of that CA never gets a
request through. :class:`ClientCertificates` then reads the peer certificate of each
request, refuses one on the CRL (``govhub certs revoke``; the file is read again when it
changes, so a revocation takes effect without a restart) and puts its subject's CN in the
environment as ``govhub.tls_client``: ``faces.http.auth`` maps it to the client of that
name. A request that also sends an API key or a signature must name the same client.
"""

from __future__ import annotations

import json
import ssl
import threading
from collections.abc import Callable, Iterable
from typing import Any

from cryptography import x509

from certs.tls import TlsFiles, client_name_of, revoked_serials

__all__ = ["TLS_CLIENT", "ClientCertificates", "gunicorn_options"]

#: The environment key holding the CN of the request's client certificate.
TLS_CLIENT = "govhub.tls_client"

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def gunicorn_options(files: TlsFiles) -> dict[str, Any]:
    """gunicorn settings that serve HTTPS and require a client certificate of the CA.

    Raises:
        FileNotFoundError: A file is missing (run ``govhub certs init``).
    """
    for path in (files.server, files.server_key, files.ca):
        if not path.exists():
            raise FileNotFoundError(f"{path} is missing: run `govhub certs init` first")
    return {
        "certfile": str(files.server),
        "keyfile": str(files.server_key),
        "ca_certs": str(files.ca),
        "cert_reqs": ssl.CERT_REQUIRED,
    }


class ClientCertificates:
    """WSGI middleware: the client certificate's subject, unless it is revoked.

    Args:
        app: The app behind it.
        files: The TLS directory (its CA and CRL).
    """

    def __init__(self, app: WSGIApp, files: TlsFiles) -> None:
        self.app = app
        self.files = files
        self._lock = threading.Lock()
        self._crl_mtime: float | None = None
        self._revoked: set[int] = set()

    def _revoked_now(self) -> set[int]:
        path = self.files.crl
        mtime = path.stat().st_mtime if path.exists() else None
        with self._lock:
            if mtime != self._crl_mtime:
                self._revoked = revoked_serials(path, self.files.ca)
                self._crl_mtime = mtime
            return self._revoked

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        environ.pop(TLS_CLIENT, None)
        sock = environ.get("gunicorn.socket")
        der = sock.getpeercert(binary_form=True) if isinstance(sock, ssl.SSLSocket) else None
        if not der:
            return _refuse(start_response, "a client certificate of the hub's CA is required")
        certificate = x509.load_der_x509_certificate(der)
        if certificate.serial_number in self._revoked_now():
            return _refuse(
                start_response,
                "the client certificate has been revoked (govhub certs revoke)",
            )
        name = client_name_of(certificate)
        if not name:
            return _refuse(start_response, "the client certificate's subject has no CN")
        environ[TLS_CLIENT] = name
        return self.app(environ, start_response)


def _refuse(start_response: Callable[..., Any], detail: str) -> Iterable[bytes]:
    body = json.dumps(
        {
            "type": "https://govhub.dev/problems/bad-certificate",
            "title": "Client certificate refused",
            "status": 401,
            "detail": detail,
        }
    ).encode()
    start_response(
        "401 Unauthorized",
        [("Content-Type", "application/problem+json"), ("Content-Length", str(len(body)))],
    )
    return [body]
