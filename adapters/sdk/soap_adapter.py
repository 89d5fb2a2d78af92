"""``SoapAdapter``: an adapter over one SOAP service, with its client built from the settings."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, ClassVar

from adapters.sdk.base import Adapter
from adapters.sdk.errors import AdapterError, ResultCodes
from adapters.sdk.http import Auth
from adapters.sdk.rest import budget_from
from adapters.sdk.soap import SoapClient

__all__ = ["SOAP_PROPERTIES", "SoapAdapter"]

#: The settings a :class:`SoapAdapter` reads, besides the connection ones.
SOAP_PROPERTIES: dict[str, dict[str, Any]] = {
    "wsdl": {
        "type": "string",
        "minLength": 1,
        "description": "URL or file of the WSDL; default: the endpoint URL + ?wsdl.",
    },
    "username": {"type": "string", "minLength": 1, "description": "WS-Security user."},
    "password": {
        "type": "string",
        "minLength": 1,
        "writeOnly": True,
        "description": "WS-Security password; use ${VAR}.",
    },
    "password_digest": {
        "type": "boolean",
        "default": True,
        "description": "Send a PasswordDigest (the password never travels) rather than text.",
    },
}


class SoapAdapter(Adapter):
    """Base of SOAP adapters: ``self.soap`` is a :class:`SoapClient` for the settings.

    Reads ``url`` (the endpoint), ``wsdl`` (default ``url?wsdl``), ``username``,
    ``password``, ``password_digest``, ``timeout_s``, ``connect_timeout_s``,
    ``max_calls_per_s`` and ``burst``.

    Attributes:
        result_codes: Error codes inside normal answers.
        fault_codes: Counterpart-specific fault codes → error class.
        service_name: The WSDL service to use (default: the first).
        port_name: The port of that service (default: the first).
        ws_security: ``username`` and ``password`` make a WS-Security UsernameToken;
            false for a service that authenticates over HTTP instead (see :meth:`auth`).
    """

    result_codes: ClassVar[ResultCodes | None] = None
    fault_codes: ClassVar[Mapping[str, type[AdapterError]]] = {}
    service_name: ClassVar[str | None] = None
    port_name: ClassVar[str | None] = None
    ws_security: ClassVar[bool] = True

    def __init__(self, destination: str, settings: Mapping[str, Any]) -> None:
        super().__init__(destination, settings)
        url: str = self.settings["url"]
        self.soap = SoapClient(
            self.settings.get("wsdl") or f"{url}?wsdl",
            counterpart=destination,
            address=url,
            timeout_s=float(self.settings.get("timeout_s", 10)),
            connect_timeout_s=float(self.settings.get("connect_timeout_s", 5)),
            username=self.settings.get("username") if self.ws_security else None,
            password=self.settings.get("password") if self.ws_security else None,
            password_digest=bool(self.settings.get("password_digest", True)),
            budget=budget_from(self.settings),
            result_codes=self.result_codes,
            fault_codes=self.fault_codes,
            secrets=self.secret_values(),
            logger=logging.getLogger(f"govhub.adapters.{self.name}"),
            service=self.service_name,
            port=self.port_name,
        )
        http_auth = self.auth()
        if http_auth is not None:
            self.soap.session.auth = http_auth

    def auth(self) -> Auth | None:
        """HTTP-level auth run on every request (Basic, a bearer header, a signature).

        None by default: most SOAP services authenticate by WS-Security instead.
        """
        return None

    def check(self) -> None:
        """Load the WSDL (subclasses also call an operation that authenticates)."""
        self.soap.load()

    def close(self) -> None:
        """Close pooled connections."""
        self.soap.close()
