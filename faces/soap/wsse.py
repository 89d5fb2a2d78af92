"""Who is calling a SOAP operation: WS-Security UsernameToken, or an API key header.

The username is the client's name and the password its API key, so SOAP and REST callers
are the same clients with the same allow lists. ``PasswordText`` is checked against the
key's hash like a REST key (a Nonce or Created beside it is not checked: it protects
nothing when the key itself is sent); ``PasswordDigest`` (``Base64(SHA-1(nonce + created +
password))``) is recomputed from the key the store keeps sealed (see :mod:`hub.keyring`).
For a digest, a ``Created`` time outside the tolerance is refused, and each nonce is
accepted once: the store's unique key remembers it until its ``Created`` time is stale.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import hmac
import logging
from collections.abc import Callable, Sequence

from lxml import etree

from faces.soap.envelope import SoapFault
from hub.core.clock import parse_time, utcnow
from hub.keyring import VaultError
from hub.store import Client, Store

__all__ = ["WSSE_NS", "WSU_NS", "Authenticator"]

log = logging.getLogger("govhub.soap")

WSSE_NS = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
WSU_NS = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
_PROFILE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0"
PASSWORD_TEXT = f"{_PROFILE}#PasswordText"
PASSWORD_DIGEST = f"{_PROFILE}#PasswordDigest"
_BASE64 = (
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary"
)
_S = f"{{{WSSE_NS}}}"
_U = f"{{{WSU_NS}}}"
_MAX_NONCE_BYTES = 256
_WRONG = "the username or password is wrong"


class WrongCredentials(SoapFault):
    """Credentials were sent and are wrong: counted against the sender's address."""


def _fault(
    reason: str, subcode: str, path: str = "/Envelope/Header/Security", *, wrong: bool = False
) -> SoapFault:
    from hub.core.errors import FieldError

    code = {
        "FailedAuthentication": "failed-authentication",
        "MessageExpired": "message-expired",
        "InvalidSecurity": "invalid-security",
    }[subcode]
    kind = WrongCredentials if wrong else SoapFault
    return kind(reason, code=code, subcode=(WSSE_NS, subcode), errors=[FieldError(path, reason)])


class Authenticator:
    """Checks the credentials of SOAP requests against the store's clients.

    Args:
        store: Where clients, their keys and seen nonces are.
        tolerance_s: How far ``Created`` may be from the hub's clock, either way.
        clock: The current time (tests move it).
    """

    def __init__(
        self, store: Store, *, tolerance_s: float = 300.0, clock: Callable[[], dt.datetime] = utcnow
    ) -> None:
        self.store = store
        self.tolerance = dt.timedelta(seconds=tolerance_s)
        self.clock = clock

    def authenticate(self, headers: Sequence[etree._Element], bearer: str | None) -> Client:
        """The client making this request.

        Args:
            headers: The SOAP header blocks.
            bearer: The API key of an ``Authorization: Bearer`` header, if any.

        Raises:
            SoapFault: No credentials, wrong ones, a stale time or a replayed nonce.
        """
        security = next((block for block in headers if block.tag == _S + "Security"), None)
        token = security.find(_S + "UsernameToken") if security is not None else None
        if security is not None:
            self._check_timestamp(security)
        if token is not None:
            return self._username_token(token)
        if bearer is not None:
            client = self.store.clients.authenticate(bearer)
            if client is None:
                raise _fault(
                    "the API key is not valid or has been revoked",
                    "FailedAuthentication",
                    "Authorization",
                    wrong=True,
                )
            return client
        raise _fault(
            "authentication required: send a WS-Security UsernameToken (username = client"
            " name, password = API key) or an Authorization: Bearer API key",
            "FailedAuthentication",
        )

    def _username_token(self, token: etree._Element) -> Client:
        path = "/Envelope/Header/Security/UsernameToken"
        username = (token.findtext(_S + "Username") or "").strip()
        password_element = token.find(_S + "Password")
        if not username or len(username) > 100 or password_element is None:
            raise _fault("a UsernameToken needs a Username and a Password", "InvalidSecurity", path)
        password = password_element.text or ""
        kind = password_element.get("Type", PASSWORD_TEXT)
        if kind == PASSWORD_TEXT:
            # The key itself travels (over TLS): whoever could replay this request holds
            # the key and could write a fresh one, so a Nonce or Created protects nothing
            # here and is not checked (suds sends one nonce for every call). Repeated
            # effects are what client_ref is for.
            found = self.store.clients.authenticate(password)
            if found is None or found.name != username:
                raise _fault(_WRONG, "FailedAuthentication", path, wrong=True)
            return found
        if kind != PASSWORD_DIGEST:
            raise _fault(
                "the Password Type must be PasswordText or PasswordDigest",
                "InvalidSecurity",
                f"{path}/Password",
            )
        created_text = token.findtext(_U + "Created")
        nonce = self._nonce(token.find(_S + "Nonce"), path)
        if nonce is None or created_text is None:
            raise _fault(
                "a PasswordDigest needs a Nonce and a Created time", "InvalidSecurity", path
            )
        created = self._created(created_text, f"{path}/Created")
        client = self._check_digest(username, password, nonce, created_text.strip())
        # A digest proves the key without showing it; what keeps a captured digest from
        # being sent again is that its nonce is accepted once, within the Created window.
        # Remembered only once the password is right, so strangers cannot fill the table.
        digest = hashlib.sha256(username.encode() + b"\x00" + nonce).hexdigest()
        if not self.store.nonces.remember(digest, username, created + self.tolerance):
            raise _fault(
                "the nonce was used before: a replayed request is refused",
                "FailedAuthentication",
                f"{path}/Nonce",
            )
        return client

    def _check_digest(self, username: str, digest: str, nonce: bytes, created: str) -> Client:
        try:
            found = self.store.clients.key(username)
        except VaultError as error:
            log.error("cannot check the PasswordDigest of %s: %s", username, error)
            raise SoapFault(
                "the hub cannot check password digests now; the error is logged",
                code="server-key",
                sender=False,
            ) from None
        if found is None:
            log.info(
                "PasswordDigest refused for %r: unknown, revoked, or its key is not sealed",
                username,
            )
            raise _fault(_WRONG, "FailedAuthentication", wrong=True)
        client, api_key = found
        # SHA-1 is what the UsernameToken Profile 1.0 defines for PasswordDigest.
        hashed = hashlib.sha1(nonce + created.encode() + api_key.encode())  # noqa: S324
        expected = base64.b64encode(hashed.digest()).decode("ascii")
        if not hmac.compare_digest(expected, digest.strip()):
            raise _fault(_WRONG, "FailedAuthentication", wrong=True)
        return client

    def _nonce(self, element: etree._Element | None, path: str) -> bytes | None:
        if element is None:
            return None
        encoding = element.get("EncodingType", _BASE64)
        text = (element.text or "").strip()
        if encoding != _BASE64:
            raise _fault("the Nonce must be Base64Binary", "InvalidSecurity", f"{path}/Nonce")
        try:
            nonce = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            raise _fault(
                "the Nonce is not valid base64", "InvalidSecurity", f"{path}/Nonce"
            ) from None
        if not 1 <= len(nonce) <= _MAX_NONCE_BYTES:
            raise _fault(
                f"the Nonce must be 1 to {_MAX_NONCE_BYTES} bytes",
                "InvalidSecurity",
                f"{path}/Nonce",
            )
        return nonce

    def _created(self, text: str, path: str) -> dt.datetime:
        moment = _utc_time(text)
        if moment is None:
            raise _fault(
                "Created must be a UTC time such as 2026-11-27T01:30:00Z", "InvalidSecurity", path
            )
        if abs(self.clock() - moment) > self.tolerance:
            raise _fault(
                f"Created is more than {int(self.tolerance.total_seconds())} s from the hub's"
                " clock: a stale (or replayed) request is refused",
                "MessageExpired",
                path,
            )
        return moment

    def _check_timestamp(self, security: etree._Element) -> None:
        stamp = security.find(_U + "Timestamp")
        if stamp is None:
            return
        expires = stamp.findtext(_U + "Expires")
        if expires is None:
            return
        path = "/Envelope/Header/Security/Timestamp/Expires"
        moment = _utc_time(expires)
        if moment is None:
            raise _fault("Expires must be a UTC time", "InvalidSecurity", path)
        if moment + self.tolerance < self.clock():
            raise _fault("the message has expired", "MessageExpired", path)


def _utc_time(text: str) -> dt.datetime | None:
    """A WS-Security time: xs:dateTime in UTC (``Z``); one without an offset is UTC too."""
    try:
        return parse_time(text.strip())
    except ValueError:
        pass
    try:
        return dt.datetime.fromisoformat(text.strip()).replace(tzinfo=dt.UTC)
    except ValueError:
        return None
