"""The SOAP client helper: zeep with timeouts, WS-Security, budgets, masked logs, mapped faults.

A SOAP adapter holds one :class:`SoapClient`. It loads the counterpart's WSDL lazily (a
hub starts even when the counterpart is down), calls operations by name with an operation
timeout, adds a WS-Security UsernameToken to every request, keeps to the counterpart's
call budget, logs every exchange masked, and turns every way the counterpart can say no
into the error taxonomy:

- a SOAP fault: :func:`error_from_fault` (``Client``/``Sender`` → rejected,
  ``Server``/``Receiver`` → retriable, WS-Security failures → configuration);
- an HTTP status without a SOAP body (a gateway's 401, 429 or 503): as for REST;
- an error code inside a normal answer: the adapter's :class:`~adapters.sdk.errors.ResultCodes`.

When a WSDL is too broken for zeep, or a counterpart wants XML no WSDL describes,
:meth:`SoapClient.post_raw` sends a raw envelope through the same transport (same budget,
logging, status and fault mapping) and hands back the parsed answer.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable, Mapping
from typing import Any

import requests
from lxml import etree
from zeep import Client, Settings, Transport
from zeep.exceptions import Error as ZeepError
from zeep.exceptions import Fault, TransportError, ValidationError
from zeep.helpers import serialize_object
from zeep.wsse.username import UsernameToken

from adapters.sdk.budget import CallBudget
from adapters.sdk.errors import (
    AdapterError,
    ConfigurationError,
    RejectedError,
    ResultCodes,
    RetriableError,
)
from adapters.sdk.http import TimeoutSession, error_for_status
from adapters.sdk.traffic import Masker, TrafficLog
from adapters.sdk.xml import XmlError, parse_declared

__all__ = [
    "SOAP11_NS",
    "SOAP12_NS",
    "WSSE_AUTH_FAULTS",
    "SoapClient",
    "SoapFault",
    "as_plain",
    "error_from_fault",
]

SOAP11_NS = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP12_NS = "http://www.w3.org/2003/05/soap-envelope"

#: WS-Security fault codes (OASIS WSS 1.1, section 12) meaning our credentials are wrong.
WSSE_AUTH_FAULTS = frozenset(
    {
        "FailedAuthentication",
        "InvalidSecurity",
        "InvalidSecurityToken",
        "SecurityTokenUnavailable",
        "UnsupportedSecurityToken",
        "FailedCheck",
        "MessageExpired",
    }
)
_CLIENT_CODES = frozenset({"Client", "Sender"})
_SERVER_CODES = frozenset({"Server", "Receiver"})
_PROTOCOL_CODES = frozenset({"VersionMismatch", "MustUnderstand", "DataEncodingUnknown"})
_DETAIL_CODE_NAMES = frozenset({"code", "errorcode", "faultcode", "error_code"})


def as_plain(answer: Any) -> Any:
    """A zeep answer as plain dicts and lists (for mapping and for tests)."""
    return serialize_object(answer, dict)


class SoapFault(Fault):
    """A fault read from a raw answer (:meth:`SoapClient.post_raw`); zeep's own shape."""


def _local(name: Any) -> str:
    text = str(name or "").strip()
    return text.rsplit("}", 1)[-1].rsplit(":", 1)[-1]


def _fault_codes(fault: Fault) -> list[str]:
    codes = [_local(fault.code)]
    codes += [_local(code) for code in (fault.subcodes or ())]
    detail = fault.detail
    if isinstance(detail, etree._Element):
        for element in detail.iter():
            named = isinstance(element.tag, str) and _local(element.tag).lower()
            if named in _DETAIL_CODE_NAMES and element.text and element.text.strip():
                codes.append(element.text.strip())
    return [code for code in codes if code]


def error_from_fault(
    fault: Fault,
    counterpart: str,
    *,
    fault_codes: Mapping[str, type[AdapterError]] | None = None,
    masker: Masker | None = None,
    status_code: int | None = 500,
) -> AdapterError:
    """The error a SOAP fault stands for.

    The adapter's ``fault_codes`` come first; they are matched against the fault code's
    local name (``Client.InvalidCase`` and ``Client`` alike), SOAP 1.2 subcodes, and a
    ``code``/``errorCode`` element in the fault's detail. Then WS-Security failures are
    configuration (our credentials), ``Client``/``Sender`` (``Client.*`` too) rejects the
    message, protocol faults (``VersionMismatch``, ``MustUnderstand``) are configuration,
    and ``Server``/``Receiver`` or anything unknown is retriable.

    Args:
        fault: zeep's fault (or a :class:`SoapFault`).
        counterpart: Who answered, for the message.
        fault_codes: Counterpart-specific codes → error class.
        masker: Hides secrets and identifiers in the fault string.
        status_code: The HTTP status the fault came with.
    """
    codes = _fault_codes(fault)
    shown = str(fault.code or "?").rsplit("}", 1)[-1]
    text = (masker or Masker()).text(" ".join(str(fault.message or "").split()), 300)
    reason = f"{counterpart} answered SOAP fault {shown}: {text}".rstrip(": ")
    for code in codes:
        cls = (fault_codes or {}).get(code)
        if cls is not None:
            return cls(reason, status_code=status_code)
    heads = {code.split(".", 1)[0] for code in codes}
    if any(code in WSSE_AUTH_FAULTS for code in codes):
        return ConfigurationError(
            f"{reason} (check the destination's username and password)", status_code=status_code
        )
    if heads & _SERVER_CODES:
        return RetriableError(reason, status_code=status_code)
    if heads & _CLIENT_CODES:
        return RejectedError(reason, status_code=status_code)
    if heads & _PROTOCOL_CODES:
        return ConfigurationError(reason, status_code=status_code)
    return RetriableError(reason, status_code=status_code)


class _Transport(Transport):
    """zeep's transport with our session, budget, logging and HTTP status mapping.

    Overriding ``post`` (rather than wrapping it) also keeps zeep's own DEBUG logging of
    whole envelopes, passwords included, from ever running.
    """

    def __init__(
        self,
        session: TimeoutSession,
        *,
        load_timeout_s: float,
        budget: CallBudget,
        traffic: TrafficLog,
        counterpart: str,
    ) -> None:
        super().__init__(
            timeout=load_timeout_s, operation_timeout=session.timeout[1], session=session
        )
        self.connect_timeout_s = float(session.timeout[0])
        self.budget = budget
        self.traffic = traffic
        self.counterpart = counterpart

    def post(self, address: str, message: bytes | str, headers: dict[str, str]) -> Any:
        self.budget.acquire()
        self.traffic.request("POST", address, headers, message)
        started = time.perf_counter()
        response = self._http("POST", address, started, data=message, headers=headers)
        self.traffic.response(
            response.status_code, (time.perf_counter() - started) * 1000, response.content
        )
        status = response.status_code
        if status == 500 and _looks_like_xml(response):
            return response  # a SOAP fault: zeep reads it, :func:`error_from_fault` maps it
        error = error_for_status(response, self.counterpart)
        if error is not None:
            raise error
        return response

    def load(self, url: str) -> bytes:
        if not url.startswith(("http://", "https://")):
            content: bytes = super().load(url)
            return content
        started = time.perf_counter()
        response = self._http("GET", url, started, timeout_s=self.load_timeout)
        error = error_for_status(response, self.counterpart)
        if error is not None:
            raise error
        return bytes(response.content)

    def _http(
        self, method: str, url: str, started: float, timeout_s: float | None = None, **kwargs: Any
    ) -> requests.Response:
        timeout = (self.connect_timeout_s, timeout_s or self.operation_timeout)
        try:
            return self.session.request(method, url, timeout=timeout, **kwargs)
        except requests.Timeout as error:
            self.traffic.failure(method, url, error, (time.perf_counter() - started) * 1000)
            raise RetriableError(
                f"{self.counterpart} gave no answer within {timeout[1]:g} s"
            ) from None
        except requests.RequestException as error:
            self.traffic.failure(method, url, error, (time.perf_counter() - started) * 1000)
            raise RetriableError(
                f"cannot reach {self.counterpart}: {type(error).__name__}"
            ) from None


def _looks_like_xml(response: requests.Response) -> bool:
    media = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
    return media.endswith("xml") or response.content.lstrip()[:1] == b"<"


class SoapClient:
    """One counterpart's SOAP service.

    Args:
        wsdl: URL or file path of the WSDL (loaded on first use).
        counterpart: The destination's name, for messages and logs.
        address: The endpoint, when it differs from the WSDL's ``soap:address``.
        timeout_s: Operation timeout.
        connect_timeout_s: Connect timeout.
        wsdl_timeout_s: Timeout for loading the WSDL and its imports.
        username: WS-Security UsernameToken user (no token without it).
        password: Its password.
        password_digest: Send ``PasswordDigest`` (nonce + created, the password never
            travels) rather than ``PasswordText``.
        budget: The counterpart's call budget.
        result_codes: Error codes inside normal answers, checked after every call.
        fault_codes: Counterpart-specific fault codes → error class.
        secrets: Values never to log.
        logger: Where exchanges are logged at DEBUG.
        service: The WSDL service to use (default: the first).
        port: The port of that service (default: the first).
    """

    def __init__(
        self,
        wsdl: str,
        *,
        counterpart: str,
        address: str | None = None,
        timeout_s: float = 10.0,
        connect_timeout_s: float = 5.0,
        wsdl_timeout_s: float = 30.0,
        username: str | None = None,
        password: str | None = None,
        password_digest: bool = True,
        budget: CallBudget | None = None,
        result_codes: ResultCodes | None = None,
        fault_codes: Mapping[str, type[AdapterError]] | None = None,
        secrets: Iterable[str] = (),
        logger: logging.Logger | None = None,
        service: str | None = None,
        port: str | None = None,
    ) -> None:
        self.wsdl = wsdl
        self.counterpart = counterpart
        self.address = address
        self.result_codes = result_codes
        self.fault_codes = dict(fault_codes or {})
        self.masker = Masker([*secrets, *([password] if password else [])])
        self.traffic = TrafficLog(
            logger or logging.getLogger("govhub.adapters.soap"), counterpart, self.masker
        )
        self.session = TimeoutSession(timeout_s, connect_timeout_s)
        self.transport = _Transport(
            self.session,
            load_timeout_s=wsdl_timeout_s,
            budget=budget or CallBudget(None),
            traffic=self.traffic,
            counterpart=counterpart,
        )
        self.wsse = (
            UsernameToken(username, password, use_digest=password_digest)
            if username is not None
            else None
        )
        self._names = (service, port)
        self._lock = threading.Lock()
        self._client: Client | None = None
        self._service: Any = None

    @property
    def timeout_s(self) -> float:
        """The operation timeout."""
        return float(self.session.timeout[1])

    def load(self) -> Client:
        """The zeep client, loading the WSDL now if not yet done.

        Raises:
            RetriableError: The WSDL cannot be fetched now.
            ConfigurationError: The WSDL is broken, or has no such service or port.
        """
        with self._lock:
            if self._client is not None:
                return self._client
            settings = Settings(
                strict=True,
                xml_huge_tree=False,
                forbid_dtd=True,
                forbid_entities=True,
                forbid_external=True,
            )
            try:
                client = Client(
                    self.wsdl,
                    transport=self.transport,
                    wsse=self.wsse,
                    settings=settings,
                    service_name=self._names[0],
                    port_name=self._names[1],
                )
                service = client.service
                if self.address:
                    service = client.create_service(service._binding.name, self.address)
            except AdapterError:
                raise
            except (ZeepError, etree.XMLSyntaxError, ValueError, KeyError) as error:
                raise ConfigurationError(
                    f"the WSDL of {self.counterpart} cannot be used: {type(error).__name__}:"
                    f" {self.masker.text(str(error), 200)}"
                ) from None
            self._client, self._service = client, service
            return client

    def call(self, operation: str, **arguments: Any) -> Any:
        """Call an operation of the WSDL with keyword arguments; its answer.

        Raises:
            RetriableError: No answer, a retriable status, a ``Server`` fault, or a
                retriable result code.
            RejectedError: A ``Client`` fault, a refusing result code, or arguments the
                WSDL's types refuse.
            ConfigurationError: Bad credentials, a broken WSDL, no such operation.
        """
        self.load()
        try:
            method = self._service[operation]
        except AttributeError:
            raise ConfigurationError(
                f"the WSDL of {self.counterpart} has no operation {operation!r}"
            ) from None
        try:
            result = method(**arguments)
        except AdapterError:
            raise
        except Fault as fault:
            raise error_from_fault(
                fault, self.counterpart, fault_codes=self.fault_codes, masker=self.masker
            ) from None
        except TransportError as error:
            raise RetriableError(
                f"{self.counterpart} answered HTTP {error.status_code} with something that is"
                " not SOAP",
                status_code=error.status_code or None,
            ) from None
        except ValidationError as error:
            raise RejectedError(
                f"the message does not fit {self.counterpart}'s WSDL:"
                f" {self.masker.text(str(error.message), 300)}"
            ) from None
        except ZeepError as error:
            raise RetriableError(
                f"{self.counterpart} answered something unreadable: {type(error).__name__}"
            ) from None
        if self.result_codes is not None:
            self.result_codes.check(result, self.counterpart, status_code=200)
        return result

    def envelope(self, operation: str, **arguments: Any) -> Any:
        """The envelope zeep would send for ``operation`` (WS-Security applied), unsent.

        For inspecting, or editing before :meth:`post_raw`.
        """
        client = self.load()
        return client.create_message(self._service, operation, **arguments)

    def soap_action(self, operation: str) -> str | None:
        """The ``soapAction`` the WSDL declares for ``operation``."""
        self.load()
        found = self._service._binding._operations.get(operation)
        return getattr(found, "soapaction", None) if found is not None else None

    def post_raw(
        self,
        envelope: bytes | str | Any,
        *,
        soap_action: str | None = None,
        sign: bool = False,
        address: str | None = None,
    ) -> Any:
        """Send a raw SOAP envelope; the first element of the answer's ``Body``.

        The escape hatch for WSDLs zeep cannot read and XML no WSDL describes: the
        envelope goes through the same transport (budget, timeout, masked logging, HTTP
        status mapping) and a fault in the answer maps as for :meth:`call`.

        Args:
            envelope: The whole ``Envelope`` as bytes, text or an lxml element.
            soap_action: The ``SOAPAction`` (SOAP 1.1) or ``action`` (SOAP 1.2).
            sign: Add the WS-Security UsernameToken to the envelope's header.
            address: Where to post (default: the configured or WSDL address).

        Raises:
            AdapterError: As for :meth:`call`.
        """
        root = envelope if isinstance(envelope, etree._Element) else None
        if root is None:
            try:
                root = parse_declared(envelope if isinstance(envelope, bytes | str) else b"")
            except XmlError as error:
                raise RejectedError(f"the raw envelope is not XML: {error}") from None
        namespace = etree.QName(root).namespace
        if sign and self.wsse is not None:
            root, _headers = self.wsse.apply(root, {})
        body = etree.tostring(root, xml_declaration=True, encoding="utf-8")
        if namespace == SOAP12_NS:
            action = f'; action="{soap_action}"' if soap_action else ""
            headers = {"Content-Type": f"application/soap+xml; charset=utf-8{action}"}
        else:
            headers = {
                "Content-Type": "text/xml; charset=utf-8",
                "SOAPAction": f'"{soap_action or ""}"',
            }
        target = address or self.address or self._wsdl_address()
        response = self.transport.post(target, body, headers)
        try:
            answer = parse_declared(response.content)
        except XmlError as error:
            raise RetriableError(
                f"{self.counterpart} answered XML we cannot read: {error}"
            ) from None
        answer_ns = etree.QName(answer).namespace or SOAP11_NS
        answer_body = answer.find(f"{{{answer_ns}}}Body")
        if answer_body is None or len(answer_body) == 0:
            raise RetriableError(f"{self.counterpart} answered an envelope without a Body")
        first = answer_body[0]
        if etree.QName(first).localname == "Fault":
            raise error_from_fault(
                _read_fault(first, answer_ns),
                self.counterpart,
                fault_codes=self.fault_codes,
                masker=self.masker,
                status_code=response.status_code,
            )
        return first

    def close(self) -> None:
        """Close pooled connections."""
        self.session.close()

    def _wsdl_address(self) -> str:
        self.load()
        address: str = self._service._binding_options["address"]
        return address


def _read_fault(element: Any, namespace: str) -> SoapFault:
    if namespace == SOAP12_NS:
        ns = {"s": SOAP12_NS}
        code = element.findtext("s:Code/s:Value", namespaces=ns)
        subcodes = [e.text for e in element.iterfind(".//s:Subcode/s:Value", namespaces=ns)]
        message = element.findtext("s:Reason/s:Text", namespaces=ns)
        detail = element.find("s:Detail", namespaces=ns)
    else:
        code = element.findtext("faultcode")
        subcodes = []
        message = element.findtext("faultstring")
        detail = element.find("detail")
    return SoapFault(message=message or "", code=code, detail=detail, subcodes=subcodes)
