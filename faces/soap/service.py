"""The operations of ``GovHubService``: submit messages into the ingest pipeline, query them.

Every submit operation ends in :meth:`hub.pipeline.ingest.Ingest.submit`, exactly as REST does:
the same ACL, JSON Schema and identifier checks, idempotency by ``client_ref`` per
client, routing and storage. The SOAP side adds only what XML needs: dispatch on the
operation element, XSD validation, and the XML ⇄ JSON mapping.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable
from typing import Any

from lxml import etree

from faces.soap.envelope import SoapFault
from faces.soap.lookups import LookupOperations
from faces.soap.mapping import (
    MappingError,
    in_schema_order,
    json_path_to_xml,
    to_json,
    to_xml,
)
from faces.soap.model import MessageModel
from faces.soap.xsdgen import NS, Contract, operations
from hub.core.clock import format_time
from hub.core.errors import FieldError
from hub.pipeline.ingest import IngestError, Submission
from hub.runtime import Hub
from hub.store import Acceptance, Client, MessageView
from hub.store.protection import mask_personal

__all__ = ["SoapService"]

_Q = f"{{{NS}}}"
_MAX_ERRORS = 20
_FACET_VALUE = re.compile(r"The value '.*?' (is|has)")
_ATOMIC_VALUE = re.compile(r"^'.*?' is not a valid value")
_ELEMENT_PREFIX = re.compile(r"^Element '[^']*': ")
_QUALIFIED = re.compile(r"\{(?:https?|urn):[^}]*\}")
_STEP = re.compile(r"^(?P<name>[^\[]+)(\[(?P<index>\d+)\])?$")
#: The order of an operation's own elements in the XSD; the payload element comes last.
_OPERATION_ORDER = {
    "type": 0,
    "client_ref": 1,
    "correlation_id": 2,
    "schema_version": 3,
    "payload": 4,
}


def _operation_rank(child: etree._Element) -> int:
    if not isinstance(child.tag, str):
        return len(_OPERATION_ORDER) + 1
    return _OPERATION_ORDER.get(etree.QName(child).localname, len(_OPERATION_ORDER))


class SoapService:
    """Handles operation elements for one hub.

    Args:
        hub: The hub whose ingest and store the operations use.
        contract: The generated contract (models and XSDs).
    """

    def __init__(self, hub: Hub, contract: Contract) -> None:
        self.hub = hub
        self.contract = contract
        self.by_operation = {m.operation: m for m in contract.models}
        self.by_element = {m.element: m for m in contract.models}
        self.by_type = {m.type: m for m in contract.models}
        self.operations = operations(contract.models)
        self._schema_document = contract.validation_schema()
        self._local = threading.local()
        self._handlers: dict[str, Callable[[Client, etree._Element], etree._Element]] = {
            "SubmitMessage": self._submit_message,
            "QueryMessage": self._query_message,
            **LookupOperations(hub.lookups, NS).handlers(),
        }

    # ------------------------------------------------------------------ dispatch

    def handle(self, client: Client, operation: etree._Element) -> etree._Element:
        """Run the operation ``operation`` names, for ``client``; its response element.

        Raises:
            SoapFault: Unknown operation, invalid XML, refused by the pipeline.
        """
        qname = etree.QName(operation)
        name = qname.localname
        if qname.namespace != NS or name not in self.operations:
            raise SoapFault(
                f"unknown operation {name}; known: {', '.join(self.operations)}",
                code="unknown-operation",
                errors=[FieldError(f"/{name}", f"is not an operation of namespace {NS}")],
            )
        self._in_schema_order(name, operation)
        self._validate(operation)
        handler = self._handlers.get(name)
        if handler is not None:
            return handler(client, operation)
        return self._submit_typed(client, operation, self.by_operation[name])

    def _in_schema_order(self, name: str, operation: etree._Element) -> None:
        """Elements in the XSD's order, whatever order the client wrote them in (see
        :func:`faces.soap.mapping.in_schema_order`)."""
        children = list(operation)
        ordered = sorted(children, key=lambda child: _operation_rank(child))
        if ordered != children:
            operation[:] = ordered
        if name == "SubmitMessage":
            holder = operation.find(_Q + "payload")
            content = [c for c in holder if isinstance(c.tag, str)] if holder is not None else []
            if len(content) == 1 and etree.QName(content[0]).localname in self.by_element:
                model = self.by_element[etree.QName(content[0]).localname]
                in_schema_order(content[0], model.shape)
        elif name in self.by_operation:
            model = self.by_operation[name]
            content_element = operation.find(_Q + model.element)
            if content_element is not None:
                in_schema_order(content_element, model.shape)

    def _validate(self, operation: etree._Element) -> None:
        schema = self._schema()
        if schema.validate(operation):
            return
        errors = []
        for entry in schema.error_log:
            errors.append(
                FieldError(_readable_path(operation, entry.path), _readable(entry.message))
            )
            if len(errors) >= _MAX_ERRORS:
                break
        raise SoapFault(
            "the request does not match the service's XML Schema",
            code="schema-violation",
            errors=errors,
        )

    def _schema(self) -> etree.XMLSchema:
        # A validator keeps its error log: one per thread.
        schema: etree.XMLSchema | None = getattr(self._local, "schema", None)
        if schema is None:
            schema = etree.XMLSchema(self._schema_document)
            self._local.schema = schema
        return schema

    # ------------------------------------------------------------------ submitting

    def _submit_message(self, client: Client, operation: etree._Element) -> etree._Element:
        message_type = (operation.findtext(_Q + "type") or "").strip()
        payload_holder = operation.find(_Q + "payload")
        assert payload_holder is not None  # the XSD requires it
        [content] = [child for child in payload_holder if isinstance(child.tag, str)]
        local = etree.QName(content).localname
        prefix = f"/SubmitMessage/payload/{local}"
        version_text = _optional_text(operation, "schema_version")
        version = int(version_text) if version_text is not None else None  # the XSD checked it
        if local == "json":
            try:
                payload = json.loads(content.text or "")
            except ValueError:
                raise SoapFault(
                    "the payload is not valid JSON",
                    code="malformed",
                    errors=[FieldError(prefix, "must be a JSON object")],
                ) from None
            if not isinstance(payload, dict):
                raise SoapFault(
                    "the payload must be a JSON object",
                    code="malformed",
                    errors=[FieldError(prefix, "must be a JSON object")],
                )
        else:
            model = self.by_element[local]
            if version not in (None, 1):
                raise SoapFault(
                    "a later version of a type's schema is sent as JSON",
                    code="schema-violation",
                    errors=[
                        FieldError(
                            "/SubmitMessage/schema_version",
                            f"the {local} element is version 1 of {model.type}; send version"
                            f" {version} as JSON in payload/json",
                        )
                    ],
                )
            if model.type != message_type:
                raise SoapFault(
                    "the payload element does not match the type",
                    code="type-mismatch",
                    errors=[FieldError(prefix, f"is a {model.type}, not a {message_type}")],
                )
            payload = self._payload(content, model, prefix)
        submission = Submission(
            type=message_type,
            payload=payload,
            client_ref=_optional_text(operation, "client_ref"),
            correlation_id=_optional_text(operation, "correlation_id"),
            schema_version=version,
        )
        acceptance = self._ingest(client, submission, prefix, type_path="/SubmitMessage/type")
        return _acceptance_element("SubmitMessageResponse", acceptance)

    def _submit_typed(
        self, client: Client, operation: etree._Element, model: MessageModel
    ) -> etree._Element:
        content = operation.find(_Q + model.element)
        assert content is not None  # the XSD requires it
        prefix = f"/{model.operation}/{model.element}"
        payload = self._payload(content, model, prefix)
        correlation_id = _optional_text(operation, "correlation_id")
        if model.correlation is not None and isinstance(payload.get(model.correlation), str):
            correlation_id = payload[model.correlation]
        submission = Submission(
            type=model.type,
            payload=payload,
            client_ref=_optional_text(operation, "client_ref"),
            correlation_id=correlation_id,
        )
        acceptance = self._ingest(client, submission, prefix)
        return _acceptance_element(f"{model.operation}Response", acceptance)

    def _payload(self, content: etree._Element, model: MessageModel, prefix: str) -> dict[str, Any]:
        try:
            payload: dict[str, Any] = to_json(content, model.shape, prefix)
        except MappingError as error:
            raise SoapFault(
                "the payload does not fit its type",
                code="schema-violation",
                errors=[FieldError(error.path, error.message)],
            ) from None
        return payload

    def _ingest(
        self, client: Client, submission: Submission, prefix: str, *, type_path: str = ""
    ) -> Acceptance:
        try:
            return self.hub.ingest.submit(client, submission, channel="soap")
        except IngestError as error:
            code = {403: "forbidden", 409: "id-reused", 422: "schema-violation"}.get(
                error.status, "bad-request"
            )
            operation = "/" + prefix.split("/")[1]
            errors = [
                FieldError(
                    type_path
                    if e.path == "type" and type_path
                    else f"{operation}/{e.path}"
                    if e.path in ("client_ref", "schema_version")
                    else json_path_to_xml(prefix, e.path),
                    e.message,
                )
                for e in error.errors
            ]
            raise SoapFault(error.detail, code=code, errors=errors) from None

    # ------------------------------------------------------------------ querying

    def _query_message(self, client: Client, operation: etree._Element) -> etree._Element:
        message_id = _optional_text(operation, "message_id")
        client_ref = _optional_text(operation, "client_ref")
        store = self.hub.store
        path = "/QueryMessage/message_id"
        if client_ref is not None:
            path = "/QueryMessage/client_ref"
            found = store.messages.find_acceptance(client.name, client_ref)
            message_id = found.message_id if found is not None else None
        view = store.messages.get(message_id) if message_id else None
        if view is None or not (client.is_operator or view.envelope.source == client.name):
            raise SoapFault(
                "no such message",
                code="not-found",
                errors=[FieldError(path, "names no message of yours")],
            )
        # another department's personal data is masked (REST's ?reveal=true shows it, audited)
        return self._message_element(view, masked=view.envelope.source != client.name)

    def _message_element(self, view: MessageView, *, masked: bool = False) -> etree._Element:
        envelope = view.envelope
        shown = mask_personal(envelope.payload) if masked else envelope.payload
        root = etree.Element(_Q + "QueryMessageResponse", nsmap={"gh": NS})

        def add(parent: etree._Element, name: str, value: Any) -> None:
            if value is not None:
                etree.SubElement(parent, _Q + name).text = str(value)

        add(root, "message_id", envelope.id)
        add(root, "type", envelope.type)
        add(root, "source", envelope.source)
        add(root, "client_ref", envelope.client_ref)
        add(root, "correlation_id", envelope.correlation_id)
        add(root, "channel", view.channel)
        add(root, "status", view.status)
        add(root, "created_at", format_time(envelope.created_at))
        add(root, "updated_at", format_time(view.updated_at))
        for delivery in view.deliveries:
            item = etree.SubElement(root, _Q + "delivery")
            add(item, "id", delivery.id)
            add(item, "destination", delivery.destination)
            add(item, "status", delivery.status)
            add(item, "attempts", delivery.attempts)
            add(item, "last_error", delivery.last_error)
            add(item, "delivered_at", format_time(delivery.delivered_at))
            for attempt in delivery.history:
                attempt_element = etree.SubElement(item, _Q + "attempt")
                add(attempt_element, "number", attempt.number)
                add(attempt_element, "started_at", format_time(attempt.started_at))
                add(attempt_element, "outcome", attempt.outcome)
                add(attempt_element, "status_code", attempt.status_code)
                add(attempt_element, "error", attempt.error)
        payload = etree.SubElement(root, _Q + "payload")
        model = self.by_type.get(envelope.type)
        if model is None:
            etree.SubElement(payload, _Q + "json").text = json.dumps(shown, ensure_ascii=False)
        else:
            to_xml(payload, model.element, shown, model.shape)
        return root


def _optional_text(operation: etree._Element, name: str) -> str | None:
    element = operation.find(_Q + name)
    if element is None or element.text is None:
        return None
    text: str = element.text
    return text


def _acceptance_element(name: str, acceptance: Acceptance) -> etree._Element:
    root = etree.Element(_Q + name, nsmap={"gh": NS})
    etree.SubElement(root, _Q + "message_id").text = acceptance.message_id
    etree.SubElement(root, _Q + "status").text = "accepted"
    etree.SubElement(root, _Q + "duplicate").text = "false" if acceptance.created else "true"
    if acceptance.correlation_id is not None:
        etree.SubElement(root, _Q + "correlation_id").text = acceptance.correlation_id
    for delivery_id, destination in acceptance.deliveries:
        delivery = etree.SubElement(root, _Q + "delivery")
        etree.SubElement(delivery, _Q + "id").text = delivery_id
        etree.SubElement(delivery, _Q + "destination").text = destination
    for warning in acceptance.warnings:
        item = etree.SubElement(root, _Q + "warning")
        etree.SubElement(item, _Q + "path").text = str(warning.get("path", ""))
        etree.SubElement(item, _Q + "message").text = str(warning.get("message", ""))
    return root


def _readable(message: str) -> str:
    """libxml2's message without the element's name (the path has it) or the value."""
    text = _ELEMENT_PREFIX.sub("", message.strip())
    text = _FACET_VALUE.sub(lambda m: f"The value {m[1]}", text)
    text = _ATOMIC_VALUE.sub("The value is not a valid value", text)
    text = _QUALIFIED.sub("", text)
    return text.rstrip(".")


def _readable_path(operation: etree._Element, libxml_path: str | None) -> str:
    """libxml2's ``/*/*[2]/*[1]`` as ``/SubmitCase/CaseSubmitted/case_no``."""
    name = etree.QName(operation).localname
    if not libxml_path:
        return f"/{name}"
    steps = [s for s in libxml_path.split("/") if s][1:]
    element = operation
    path = f"/{name}"
    for step in steps:
        match = _STEP.match(step)
        if match is None:
            break
        wanted = match["name"].split(":")[-1]
        index = int(match["index"] or 1)
        children = [c for c in element if isinstance(c.tag, str)]
        candidates = children
        if wanted != "*":
            candidates = [c for c in children if etree.QName(c).localname == wanted]
        if not 1 <= index <= len(candidates):
            break
        element = candidates[index - 1]
        local = etree.QName(element).localname
        same = [c for c in children if c.tag == element.tag]
        path += f"/{local}" + (f"[{same.index(element) + 1}]" if len(same) > 1 else "")
    return path
