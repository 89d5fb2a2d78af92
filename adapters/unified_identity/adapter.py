"""The unified identity adapter: logins resolved to verified identities, and look-ups."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, ClassVar

from adapters.sdk import Attempt, Receipt, RejectedError, RetriableError
from adapters.sdk.errors import dig
from adapters.sdk.http import Auth, BearerTokenAuth, RestClient
from adapters.sdk.lookups import Identity, StatedUse
from adapters.sdk.rest import RestAdapter, budget_from
from adapters.sdk.settings import load_schema
from hub.core.envelope import Envelope
from hub.core.identifiers import IdentifierError, check_resident_id, check_uscc, mask

__all__ = ["LoginToken", "UnifiedIdentity"]

log = logging.getLogger("govhub.adapters.unified_identity")

TOKEN_PATH = "/oauth/token"  # noqa: S105 - a URL path, not a secret
_KINDS = {"1": "person", "2": "legal_person"}


@dataclass(frozen=True, slots=True)
class LoginToken:
    """A user access token the service issued for one login.

    Attributes:
        access_token: The bearer token (a secret: never log it).
        expires_in: Its lifetime in seconds.
    """

    access_token: str
    expires_in: int

    def __repr__(self) -> str:
        return f"LoginToken(expires_in={self.expires_in})"


class UnifiedIdentity(RestAdapter):
    """统一身份认证: resolves logins to verified persons and legal persons, looks them up.

    A resident or a company logs in once at the provincial platform; a face or a hall
    exchanges the login's authorization code for a user token (:meth:`exchange`) and
    resolves the token to who it is (:meth:`resolve`): resident ID or USCC, name, level
    of assurance. The hub looks identities up by identifier (:meth:`look_up`) with an
    application token (OAuth 2 client credentials), stating a reason and a service item.
    It delivers nothing.
    """

    name = "unified_identity"
    version = "1.0"
    settings_schema: ClassVar[dict[str, Any]] = load_schema(__file__)

    def __init__(self, destination: str, settings: dict[str, Any]) -> None:
        super().__init__(destination, settings)
        # Token requests and user info go without the application token; a user's
        # refused token is that user's problem (a rejection), not our configuration.
        self._plain_http = RestClient(
            self.settings["url"],
            counterpart=destination,
            timeout_s=self.http.timeout_s,
            connect_timeout_s=float(self.settings.get("connect_timeout_s", 5)),
            budget=self.http.budget,
            secrets=self.secret_values(),
            logger=log,
        )
        self._user_http = RestClient(
            self.settings["url"],
            counterpart=destination,
            timeout_s=self.http.timeout_s,
            connect_timeout_s=float(self.settings.get("connect_timeout_s", 5)),
            budget=budget_from(self.settings),
            auth_is_configuration=False,
            secrets=self.secret_values(),
            logger=log,
        )

    def auth(self) -> Auth:
        """An OAuth 2 client-credentials application token, renewed when refused."""
        self._tokens = BearerTokenAuth(self._fetch_token)
        return self._tokens

    def _grant(self, grant: dict[str, str]) -> dict[str, Any]:
        answer = self._plain_http.json(
            "POST",
            TOKEN_PATH,
            data={
                **grant,
                "client_id": self.settings["client_id"],
                "client_secret": self.settings["client_secret"],
            },
        )
        token = dig(answer, "access_token")
        if not isinstance(token, str) or not token:
            raise RetriableError(f"{self.destination} answered a token request without a token")
        return {"token": token, "expires_in": int(dig(answer, "expires_in") or 600)}

    def _fetch_token(self) -> tuple[str, float]:
        granted = self._grant({"grant_type": "client_credentials"})
        return granted["token"], float(granted["expires_in"])

    def check(self) -> None:
        """Buy a fresh application token and call the service with it."""
        self._tokens.invalidate()
        self.http.json("GET", "/api/v1/ping")

    def deliver(self, message: Envelope, attempt: Attempt) -> Receipt:
        """The identity service takes nothing from the hub.

        Raises:
            RejectedError: Always; no route should send messages here.
        """
        raise RejectedError(f"{self.destination} (unified identity) accepts no messages")

    def exchange(self, code: str, redirect_uri: str | None = None) -> LoginToken:
        """Exchange a login's authorization code for a user access token (OAuth 2).

        Args:
            code: The code the service gave the login (used once).
            redirect_uri: The redirect URI the login went to; the setting by default.

        Raises:
            RejectedError: The code is unknown, used or expired (``invalid_grant``).
            ConfigurationError: The hub's client credentials are wrong.
            RetriableError: The service is down, busy or slow.
        """
        try:
            granted = self._grant(
                {
                    "grant_type": "authorization_code",
                    "code": code,
                    "redirect_uri": redirect_uri or self.settings["redirect_uri"],
                }
            )
        except RejectedError as error:
            raise RejectedError(
                f"{self.destination} refused the authorization code (unknown, used or"
                " expired): log in again",
                status_code=error.status_code,
            ) from None
        return LoginToken(granted["token"], granted["expires_in"])

    def resolve(self, login: LoginToken | str) -> Identity:
        """Who a user access token belongs to: a verified person or legal person.

        Raises:
            RejectedError: The token is not valid or has expired.
            RetriableError: The service is down, busy or slow.
        """
        token = login.access_token if isinstance(login, LoginToken) else login
        try:
            answer = self._user_http.json(
                "GET", "/oauth/userinfo", headers={"Authorization": f"Bearer {token}"}
            )
        except RejectedError as error:
            raise RejectedError(
                f"{self.destination} does not know this login token (expired or not its own)",
                status_code=error.status_code,
            ) from None
        return _identity(answer, self.destination)

    def look_up(self, code: str, code_type: str, use: StatedUse) -> Identity | None:
        """The verified identity under a resident ID (111) or USCC (001), for a stated use.

        Returns:
            The identity, or ``None`` when the service has nobody under ``code``.

        Raises:
            IdentifierError: The code fails its check (nothing is sent).
            AdapterError: The service could not answer.
        """
        if code_type == "111":
            check_resident_id(code)
        elif code_type == "001":
            check_uscc(code)
        else:
            raise IdentifierError("code_type must be 111 (resident ID) or 001 (USCC)")
        log.info(
            "%s: identity %s for item %s: %s",
            self.destination,
            mask(code, 6, 4 if code_type == "111" else 2),
            use.item_code,
            use.reason,
        )
        try:
            answer = self.http.json(
                "POST",
                "/api/v1/identities/query",
                json={
                    "cert_no": code,
                    "cert_type": code_type,
                    "reason": use.reason,
                    "item_code": use.item_code,
                },
            )
        except RejectedError as error:
            if error.status_code == 404:
                return None
            raise
        return _identity(answer, self.destination)

    def close(self) -> None:
        """Close pooled connections."""
        super().close()
        self._plain_http.close()
        self._user_http.close()


def _identity(answer: Any, destination: str) -> Identity:
    if not isinstance(answer, dict) or not answer.get("cert_no"):
        raise RetriableError(f"{destination} answered an identity without cert_no")
    try:
        level = int(answer.get("auth_level", 0))
    except (TypeError, ValueError):
        level = 0
    return Identity(
        code=str(answer["cert_no"]),
        code_type=str(answer.get("cert_type", "")),
        name=str(answer.get("name", "")),
        kind=_KINDS.get(str(answer.get("user_type")), "person"),
        level_of_assurance=level,
        subject=str(answer.get("sub", "")),
        legal_representative=answer.get("legal_rep"),
    )
