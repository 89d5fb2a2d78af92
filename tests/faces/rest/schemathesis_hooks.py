"""What schemathesis needs to know about GovHub beyond the OpenAPI document.

Loaded by ``st run`` through ``SCHEMATHESIS_HOOKS`` (see ``test_schemathesis.py``):

- the identifier formats of the canonical messages (``cn-resident-id``, ``cn-uscc``,
  ``cn-e-license-id``: check digits no regular expression can say), so that schema-valid
  payloads are valid identifiers too, as a real sender's are;
- a filter: schemathesis's coverage phase builds ``if``/``then``/``else`` branches on its own
  (``id_no`` is a resident ID or a credit code depending on ``id_type``) and may put the
  identifier of one branch beside the ``id_type`` of the other. Such a payload breaks its
  declared format, so it is not schema-valid: it is dropped from the positive cases (a
  negative case keeps it, and the hub must refuse it);
- a replay's period: ``until`` must be after ``since``, which OpenAPI cannot say either, so
  a positive replay request keeps only a period that has time in it;
- one check for ``POST /soap/GovHubService``: SOAP answers every fault with HTTP 500 (WS-I
  Basic Profile R1126), so the configuration turns the generic "no 5xx" check off for that
  operation and this check holds it instead: a fault for a bad request must blame the
  sender (``Client``/``Sender``); a ``Server``/``Receiver`` fault, or a 500 that is no
  fault at all, is the hub failing.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import schemathesis
from hypothesis import strategies as st
from jsonschema import Draft202012Validator, FormatChecker
from lxml import etree
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012
from stdnum.cn import ric
from stdnum.iso7064 import mod_37_36

from hub.core import identifiers
from hub.pipeline.replay import period_bound

_DRAFT = DRAFT202012
_USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_SOAP_PATH = "/soap/GovHubService"


def _uscc(body: str) -> str:
    total = sum(_USCC_ALPHABET.index(ch) * w for ch, w in zip(body, _USCC_WEIGHTS, strict=True))
    return body + _USCC_ALPHABET[(31 - total % 31) % 31]


def _resident_id(region: str, birth: dt.date, sequence: str) -> str:
    body = f"{region}{birth:%Y%m%d}{sequence}"
    return body + ric.calc_check_digit(body + "?")  # it reads the first 17 characters


def _e_license_id(type_code: str, issuer: str, serial: str, version: str) -> str:
    check = mod_37_36.calc_check_digit(type_code + issuer + serial + version)
    return f"1.2.156.3005.2.{type_code}.{issuer}.{serial}.{version}.{check}"


_DIGITS = "0123456789"
uscc = st.text(_USCC_ALPHABET, min_size=17, max_size=17).map(_uscc)
resident_id = st.builds(
    _resident_id,
    st.text(_DIGITS, min_size=6, max_size=6),
    st.dates(dt.date(1900, 1, 1), dt.date(2020, 12, 31)),
    st.text(_DIGITS, min_size=3, max_size=3),
)
e_license_id = st.builds(
    _e_license_id,
    st.builds(str.__add__, uscc, st.text(_DIGITS, min_size=3, max_size=3)),
    uscc,
    st.text(_DIGITS + "ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=1, max_size=12),
    st.text(_DIGITS, min_size=3, max_size=3),
)

schemathesis.openapi.format("cn-uscc", uscc)
schemathesis.openapi.format("cn-resident-id", resident_id)
schemathesis.openapi.format("cn-e-license-id", e_license_id)


@schemathesis.check
def soap_faults_blame_the_sender(ctx: Any, response: Any, case: Any) -> bool | None:
    """A 500 from the SOAP endpoint is a fault that blames the request, never the hub."""
    if case.path != _SOAP_PATH or case.method.upper() != "POST" or response.status_code != 500:
        return None
    try:
        root = etree.fromstring(response.content)
    except etree.XMLSyntaxError:
        raise AssertionError("HTTP 500 without a SOAP fault") from None
    codes = [
        (element.text or "").strip()
        for element in root.iter()
        if isinstance(element.tag, str) and etree.QName(element).localname in ("faultcode", "Value")
    ]
    if not codes:
        raise AssertionError("HTTP 500 without a SOAP fault")
    if codes[0].rsplit(":", 1)[-1] not in ("Client", "Sender", "VersionMismatch", "MustUnderstand"):
        raise AssertionError(f"the hub failed on this request: SOAP fault {codes[0]}")
    return None


_MESSAGES_PATH = "/api/v1/messages"
_IDENTIFIER_FORMATS = FormatChecker(formats=())
_IDENTIFIER_FORMATS.checks("cn-resident-id", raises=identifiers.IdentifierError)(
    lambda value: not isinstance(value, str) or identifiers.check_resident_id(value) is None
)
_IDENTIFIER_FORMATS.checks("cn-uscc", raises=identifiers.IdentifierError)(
    lambda value: not isinstance(value, str) or identifiers.check_uscc(value) is None
)
_IDENTIFIER_FORMATS.checks("cn-e-license-id", raises=identifiers.IdentifierError)(
    lambda value: not isinstance(value, str) or identifiers.check_e_license_id(value) is None
)
_validators: dict[tuple[int, str], Draft202012Validator] = {}


def _variant_validator(
    spec: dict[str, Any], message_type: str, version: object
) -> Draft202012Validator | None:
    """A validator of the request variant of ``message_type`` in the schema version the body
    names (``None``: no such type). A type with several versions has a variant per version
    (``MessageRequest.case.submitted.v2``): validating against that one, not the ``oneOf`` of
    them all, finds a format error where it is instead of a bare ``oneOf`` failure."""
    components = spec.get("components", {}).get("schemas", {})
    name = f"MessageRequest.{message_type}"
    versioned = f"{name}.v{version if isinstance(version, int) else 1}"
    if versioned in components:
        name = versioned
    if name not in components:
        return None
    key = (id(spec), name)
    if key not in _validators:
        registry: Registry[Any] = Registry().with_resource(
            "urn:govhub:openapi", Resource.from_contents(spec, default_specification=_DRAFT)
        )
        _validators[key] = Draft202012Validator(
            {"$ref": f"urn:govhub:openapi#/components/schemas/{name}"},
            registry=registry,
            format_checker=_IDENTIFIER_FORMATS,
        )
    return _validators[key]


def _report_period_ok(query: dict[str, Any]) -> bool:
    """``from`` and ``to`` go together, to not before from (the document says so in words)."""
    first, last = query.get("from"), query.get("to")
    if first is None and last is None:
        return True
    try:
        return dt.date.fromisoformat(str(first)) <= dt.date.fromisoformat(str(last))
    except ValueError:
        return False


def _replay_period_ok(body: Any) -> bool:
    """``until`` after ``since`` when both are given (the document says so in words)."""
    if not isinstance(body, dict) or "since" not in body or "until" not in body:
        return True
    try:
        since = period_bound(str(body["since"]))
        until = period_bound(str(body["until"]), end=True)
    except ValueError:
        return False
    return since < until


@schemathesis.hook
def filter_case(context: Any, case: Any) -> bool:
    """Keep a positive message only if its identifiers are valid in their declared formats.

    A positive report query is kept only with a period the report can have: ``from`` and
    ``to`` depend on each other, which OpenAPI cannot say (a negative case keeps it, and the
    hub must refuse it with 400). Likewise a positive replay's ``until`` must be after its
    ``since`` (the hub refuses it with 422).
    """
    if case.path == "/api/v1/supervision/report" and case.meta is not None:
        if case.meta.generation.mode.is_positive:
            return _report_period_ok(dict(case.query or {}))
        return True
    if case.path == "/api/v1/replays" and case.meta is not None:
        if case.meta.generation.mode.is_positive:
            return _replay_period_ok(case.body)
        return True
    if case.path != _MESSAGES_PATH or case.method.upper() != "POST" or case.meta is None:
        return True
    if not case.meta.generation.mode.is_positive or not isinstance(case.body, dict):
        return True
    message_type = case.body.get("type")
    if not isinstance(message_type, str):
        return True
    validator = _variant_validator(
        case.operation.schema.raw_schema, message_type, case.body.get("schema_version")
    )
    if validator is None:
        return True
    return not any(error.validator == "format" for error in validator.iter_errors(case.body))
