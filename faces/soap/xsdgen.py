"""Generate the SOAP contract (XSDs and the WSDL) from the canonical JSON Schemas.

``python -m faces.soap.xsdgen`` writes ``schemas/xsd/*.xsd`` and
``schemas/wsdl/GovHubService.wsdl``; ``--check`` only says whether they are up to date.
The hub builds the same contract in memory at start-up, so a new message type gets its
typed operation as soon as its schema is in ``schemas/messages/``; the files are the
contract for people and for toolkits that read from disk.
"""

from __future__ import annotations

import argparse
import copy
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lxml import etree

from faces.soap.lookup_schema import LOOKUP_OPERATIONS, add_lookup_elements
from faces.soap.model import (
    AnyJson,
    Array,
    MessageModel,
    ModelError,
    Object,
    Scalar,
    Shape,
    Union,
    build_models,
)
from hub.schemas import DEFAULT_SCHEMA_DIR, SchemaRegistry

__all__ = [
    "NS",
    "SERVICE_NAME",
    "Contract",
    "build_contract",
    "main",
    "xsd_pattern",
]

#: The one namespace of every GovHub element, canonical messages and service alike.
NS = "http://schemas.govhub.dev/v1"
SERVICE_NAME = "GovHubService"
DEFAULT_ADDRESS = "http://127.0.0.1:8700/soap/GovHubService"

XS = "http://www.w3.org/2001/XMLSchema"
WSDL = "http://schemas.xmlsoap.org/wsdl/"
WSDL_SOAP11 = "http://schemas.xmlsoap.org/wsdl/soap/"
WSDL_SOAP12 = "http://schemas.xmlsoap.org/wsdl/soap12/"
HTTP_TRANSPORT = "http://schemas.xmlsoap.org/soap/http"

_XS = f"{{{XS}}}"
_W = f"{{{WSDL}}}"

_BASE_TYPES = {"string": "xs:string", "integer": "xs:long", "number": "xs:decimal"}
_FORMAT_TYPES = {"date-time": "xs:dateTime", "date": "xs:date"}
# JSON Schema's date-time is RFC 3339 with an offset; xs:dateTime alone allows none.
_DATE_TIME_PATTERN = r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+\-]\d{2}:\d{2})"
_DATE_PATTERN = r"\d{4}-\d{2}-\d{2}"
_CLIENT_REF = {"minLength": "1", "maxLength": "200"}


@dataclass
class Contract:
    """The SOAP contract of a set of canonical types.

    Attributes:
        models: Every canonical type as SOAP sees it.
        documents: File name under ``schemas/`` → content, e.g. ``xsd/common.xsd``.
    """

    models: list[MessageModel]
    documents: dict[str, bytes] = field(default_factory=dict)

    @property
    def xsd_names(self) -> list[str]:
        """The XSD file names (``common.xsd``, ``case.submitted.xsd``...)."""
        return [name.removeprefix("xsd/") for name in self.documents if name.startswith("xsd/")]

    def validation_schema(self) -> etree._Element:
        """Every XSD folded into one ``xs:schema`` (no includes to resolve), for validation."""
        bundle = etree.Element(
            _XS + "schema",
            nsmap={"xs": XS, "gh": NS},
            targetNamespace=NS,
            elementFormDefault="qualified",
        )
        for name in self.xsd_names:
            document = etree.fromstring(self.documents[f"xsd/{name}"])
            for child in document:
                if child.tag != _XS + "include":
                    bundle.append(copy.deepcopy(child))
        return bundle


def build_contract(
    schemas: SchemaRegistry, *, on_error: Callable[[str, ModelError], None] | None = None
) -> Contract:
    """Generate the XSDs and the WSDL for the canonical types of ``schemas``.

    Args:
        schemas: The canonical types.
        on_error: Skip a type that cannot be mapped (reporting it here) instead of raising.

    Raises:
        faces.soap.model.ModelError: A schema cannot be mapped to XML.
    """
    models = build_models(schemas, on_error=on_error)
    writer = _TypeWriter()
    type_files: dict[str, etree._Element] = {}
    for model in models:
        root = _schema_root()
        writer.current = model.type
        type_name = f"{model.element}Type"
        element = etree.SubElement(
            root, _XS + "element", name=model.element, type=f"gh:{type_name}"
        )
        _document(element, model.description)
        complex_type = etree.SubElement(root, _XS + "complexType", name=type_name)
        writer.object_content(complex_type, model.shape)
        type_files[model.type] = root
    contract = Contract(models=models)
    common = _schema_root()
    for definition in writer.definitions.get("common", []):
        common.append(definition)
    contract.documents["xsd/common.xsd"] = _serialise(common)
    for model in models:
        root = type_files[model.type]
        homes = ["common", *sorted(writer.uses.get(model.type, set()) - {"common", model.type})]
        for position, home in enumerate(homes):
            root.insert(position, etree.Element(_XS + "include", schemaLocation=f"{home}.xsd"))
        for definition in writer.definitions.get(model.type, []):
            root.append(definition)
        contract.documents[f"xsd/{model.type}.xsd"] = _serialise(root)
    taken = {name for names in writer.definitions.values() for name in _names(names)}
    for model in models:
        if f"{model.element}Type" in taken:
            raise ModelError(
                f"{model.type}: its type {model.element}Type has the name of a shared definition"
            )
    service = _service_schema(models, schemas.types)
    contract.documents[f"xsd/{SERVICE_NAME}.xsd"] = _serialise(service)
    contract.documents[f"wsdl/{SERVICE_NAME}.wsdl"] = _serialise(_wsdl(models))
    return contract


# --------------------------------------------------------------------------- types


class _TypeWriter:
    """Writes shapes as XSD, collecting named types by the file they belong in."""

    def __init__(self) -> None:
        self.definitions: dict[str, list[etree._Element]] = {}
        self.defined: set[str] = set()
        self.uses: dict[str, set[str]] = {}
        self.current = ""

    def element(
        self, parent: etree._Element, name: str, shape: Shape, *, required: bool
    ) -> etree._Element:
        """An ``xs:element`` for a property (repeated for a list)."""
        attributes = {"name": name}
        if isinstance(shape, Array):
            attributes["minOccurs"] = str(shape.min_items if required else 0)
            attributes["maxOccurs"] = (
                "unbounded" if shape.max_items is None else str(shape.max_items)
            )
            description = shape.description
            shape = shape.item
        else:
            if not required:
                attributes["minOccurs"] = "0"
            description = shape.description if shape.type_name is None else None
        element = etree.SubElement(parent, _XS + "element", attributes)
        _document(element, description)
        self.type_of(element, shape)
        return element

    def type_of(self, element: etree._Element, shape: Shape) -> None:
        """Give ``element`` the type of ``shape``: a reference, a built-in, or inline."""
        if isinstance(shape, Array):  # pragma: no cover - the model has no lists of lists
            raise ValueError("lists of lists cannot be mapped")
        if shape.type_name is not None:
            self._define(shape)
            element.set("type", f"gh:{shape.type_name}")
            return
        if isinstance(shape, AnyJson):
            element.set("type", "xs:string")
        elif isinstance(shape, Scalar) and _is_plain(shape):
            element.set("type", _base_type(shape))
        elif isinstance(shape, Scalar | Union):
            element.append(self.simple_type(shape))
        else:
            complex_type = etree.SubElement(element, _XS + "complexType")
            self.object_content(complex_type, shape)

    def simple_type(self, shape: Scalar | Union, name: str | None = None) -> etree._Element:
        """An ``xs:simpleType`` restricting the base type by the shape's facets."""
        simple = etree.Element(_XS + "simpleType", {"name": name} if name else {})
        if isinstance(shape, Union):
            union = etree.SubElement(simple, _XS + "union")
            for member in shape.members:
                if _is_plain(member):
                    restriction = etree.SubElement(
                        etree.SubElement(union, _XS + "simpleType"),
                        _XS + "restriction",
                        base=_base_type(member),
                    )
                else:
                    union.append(self.simple_type(member))
            return simple
        base = _base_type(shape)
        restriction = etree.SubElement(simple, _XS + "restriction", base=base)
        for facet, value in _facets(shape, base):
            etree.SubElement(restriction, _XS + facet, value=value)
        return simple

    def object_content(self, complex_type: etree._Element, shape: Object) -> None:
        """The ``xs:sequence`` of an object's properties (or of a map's entries)."""
        sequence = etree.SubElement(complex_type, _XS + "sequence")
        if shape.entries is not None:
            entry = etree.SubElement(
                sequence, _XS + "element", name="entry", minOccurs="0", maxOccurs="unbounded"
            )
            _document(entry, "One key and its value.")
            inner = etree.SubElement(etree.SubElement(entry, _XS + "complexType"), _XS + "sequence")
            etree.SubElement(inner, _XS + "element", name="key", type="xs:string")
            self.element(inner, "value", shape.entries, required=True)
            return
        for item in shape.fields:
            self.element(sequence, item.name, item.shape, required=item.required)

    def _define(self, shape: Shape) -> None:
        assert shape.type_name is not None
        assert shape.home is not None
        self.uses.setdefault(self.current, set()).add(shape.home)
        if shape.type_name in self.defined:
            return
        self.defined.add(shape.type_name)
        outer, self.current = self.current, shape.home
        if isinstance(shape, Scalar | Union):
            definition = self.simple_type(shape, shape.type_name)
        else:
            assert isinstance(shape, Object)
            definition = etree.Element(_XS + "complexType", name=shape.type_name)
            self.object_content(definition, shape)
        self.current = outer
        _document(definition, shape.description)
        self.definitions.setdefault(shape.home, []).append(definition)
        self.definitions[shape.home].sort(key=lambda e: e.get("name", ""))


def _names(definitions: list[etree._Element]) -> list[str]:
    return [d.get("name", "") for d in definitions]


def _is_plain(shape: Scalar) -> bool:
    return not (
        shape.enum
        or shape.pattern
        or shape.min_length is not None
        or shape.max_length is not None
        or shape.minimum is not None
        or shape.maximum is not None
        or shape.exclusive_minimum is not None
        or shape.exclusive_maximum is not None
        or shape.format in _FORMAT_TYPES
    )


def _base_type(shape: Scalar) -> str:
    if shape.kind == "boolean":
        return "xs:boolean"
    if shape.kind == "string" and shape.format in _FORMAT_TYPES:
        return _FORMAT_TYPES[shape.format]
    return _BASE_TYPES.get(shape.kind, "xs:string")


def _facets(shape: Scalar, base: str) -> list[tuple[str, str]]:
    facets: list[tuple[str, str]] = []
    if base == "xs:dateTime":
        return [("pattern", _DATE_TIME_PATTERN)]
    if base == "xs:date":
        return [("pattern", _DATE_PATTERN)]
    facets.extend(("enumeration", _lexical(value)) for value in shape.enum)
    if shape.pattern is not None:
        pattern = xsd_pattern(shape.pattern)
        if pattern is not None:
            facets.append(("pattern", pattern))
    if shape.kind == "string":
        if shape.min_length is not None:
            facets.append(("minLength", str(shape.min_length)))
        if shape.max_length is not None:
            facets.append(("maxLength", str(shape.max_length)))
    else:
        for facet, value in (
            ("minInclusive", shape.minimum),
            ("maxInclusive", shape.maximum),
            ("minExclusive", shape.exclusive_minimum),
            ("maxExclusive", shape.exclusive_maximum),
        ):
            if value is not None:
                facets.append((facet, _lexical(value)))
    return facets


def _lexical(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def xsd_pattern(pattern: str) -> str | None:
    """An ECMA-262 pattern as an XSD pattern, or ``None`` when XSD cannot say it.

    XSD patterns match the whole value, so ``^``/``$`` anchors are dropped (and an
    unanchored side is opened with ``.*``); XSD has no lookaround, backreferences or
    non-capturing groups, so such patterns are left to the JSON Schema.
    """
    if any(token in pattern for token in ("(?=", "(?!", "(?<", "\\b", "\\B", "\\1")):
        return None
    text = pattern.replace("(?:", "(").replace("\\/", "/")
    text = text[1:] if text.startswith("^") else ".*" + text
    return text[:-1] if text.endswith("$") and not text.endswith("\\$") else text + ".*"


def _document(element: etree._Element, text: str | None) -> None:
    """Put ``text`` in an ``xs:annotation``, which XSD wants as the first child."""
    if not text:
        return
    annotation = etree.Element(_XS + "annotation")
    etree.SubElement(annotation, _XS + "documentation").text = text
    element.insert(0, annotation)


def _schema_root() -> etree._Element:
    return etree.Element(
        _XS + "schema",
        nsmap={"xs": XS, "gh": NS},
        targetNamespace=NS,
        elementFormDefault="qualified",
    )


# --------------------------------------------------------------------------- service


def _service_schema(models: Sequence[MessageModel], message_types: Sequence[str]) -> etree._Element:
    root = _schema_root()
    for model in models:
        etree.SubElement(root, _XS + "include", schemaLocation=f"{model.type}.xsd")
    etree.SubElement(root, _XS + "include", schemaLocation="common.xsd")

    def sub(parent: etree._Element, name: str, type_: str | None = None, **occurs: str) -> Any:
        attributes = {"name": name, **({"type": type_} if type_ else {})}
        attributes.update(dict(occurs.items()))
        return etree.SubElement(parent, _XS + "element", attributes)

    def named_complex(name: str, doc: str) -> etree._Element:
        complex_type = etree.SubElement(root, _XS + "complexType", name=name)
        _document(complex_type, doc)
        return etree.SubElement(complex_type, _XS + "sequence")

    def sequence_of(element: etree._Element) -> etree._Element:
        return etree.SubElement(etree.SubElement(element, _XS + "complexType"), _XS + "sequence")

    client_ref = etree.SubElement(root, _XS + "simpleType", name="ClientRefType")
    _document(client_ref, "Your own id for the message: sending it again returns the first answer.")
    restriction = etree.SubElement(client_ref, _XS + "restriction", base="xs:string")
    for facet, value in _CLIENT_REF.items():
        etree.SubElement(restriction, _XS + facet, value=value)
    types = etree.SubElement(root, _XS + "simpleType", name="MessageTypeType")
    restriction = etree.SubElement(types, _XS + "restriction", base="xs:string")
    for message_type in message_types:
        etree.SubElement(restriction, _XS + "enumeration", value=message_type)

    field_error = named_complex("FieldErrorType", "A field and what is wrong with it.")
    sub(field_error, "path", "xs:string")
    sub(field_error, "message", "xs:string")
    delivery_ref = named_complex("DeliveryRefType", "A delivery the message was routed to.")
    sub(delivery_ref, "id", "xs:string")
    sub(delivery_ref, "destination", "xs:string")
    acceptance = named_complex(
        "AcceptanceType",
        "The message is stored with its deliveries. duplicate is true when the same"
        " client_ref was accepted before: this is the first answer again.",
    )
    sub(acceptance, "message_id", "xs:string")
    sub(acceptance, "status", "xs:string")
    sub(acceptance, "duplicate", "xs:boolean")
    sub(acceptance, "correlation_id", "xs:string", minOccurs="0")
    sub(acceptance, "delivery", "gh:DeliveryRefType", minOccurs="0", maxOccurs="unbounded")
    sub(acceptance, "warning", "gh:FieldErrorType", minOccurs="0", maxOccurs="unbounded")

    payload = etree.SubElement(root, _XS + "complexType", name="PayloadType")
    _document(payload, "One canonical message, as XML, or as JSON text in json.")
    choice = etree.SubElement(payload, _XS + "choice")
    for model in models:
        etree.SubElement(choice, _XS + "element", ref=f"gh:{model.element}")
    sub(choice, "json", "xs:string")

    attempt = named_complex("AttemptType", "One try at delivering.")
    sub(attempt, "number", "xs:int")
    sub(attempt, "started_at", "xs:dateTime")
    sub(attempt, "outcome", "xs:string")
    sub(attempt, "status_code", "xs:int", minOccurs="0")
    sub(attempt, "error", "xs:string", minOccurs="0")
    delivery = named_complex("DeliveryStatusType", "A delivery and how it went.")
    sub(delivery, "id", "xs:string")
    sub(delivery, "destination", "xs:string")
    sub(delivery, "status", "xs:string")
    sub(delivery, "attempts", "xs:int")
    sub(delivery, "last_error", "xs:string", minOccurs="0")
    sub(delivery, "delivered_at", "xs:dateTime", minOccurs="0")
    sub(delivery, "attempt", "gh:AttemptType", minOccurs="0", maxOccurs="unbounded")

    fault = sub(root, "FaultDetail")
    _document(fault, "Why a request was refused: a code and, per field, its path and the reason.")
    fault_sequence = sequence_of(fault)
    sub(fault_sequence, "code", "xs:string")
    sub(fault_sequence, "error", "gh:FieldErrorType", minOccurs="0", maxOccurs="unbounded")

    submit = sub(root, "SubmitMessage")
    _document(submit, "Submit a message of any type; schema_version: its version (1 if absent).")
    submit_sequence = sequence_of(submit)
    sub(submit_sequence, "type", "gh:MessageTypeType")
    sub(submit_sequence, "client_ref", "gh:ClientRefType", minOccurs="0")
    sub(submit_sequence, "correlation_id", "gh:ClientRefType", minOccurs="0")
    sub(submit_sequence, "schema_version", "xs:positiveInteger", minOccurs="0")
    sub(submit_sequence, "payload", "gh:PayloadType")
    sub(root, "SubmitMessageResponse", "gh:AcceptanceType")

    for model in models:
        operation = sub(root, model.operation)
        _document(operation, f"Submit {model.type}. {model.description}")
        sequence = sequence_of(operation)
        sub(sequence, "client_ref", "gh:ClientRefType", minOccurs="0")
        if model.correlation is None:
            sub(sequence, "correlation_id", "gh:ClientRefType", minOccurs="0")
        etree.SubElement(sequence, _XS + "element", ref=f"gh:{model.element}")
        sub(root, f"{model.operation}Response", "gh:AcceptanceType")

    query = sub(root, "QueryMessage")
    _document(query, "A message you sent, by the hub's id or by your client_ref.")
    query_choice = etree.SubElement(etree.SubElement(query, _XS + "complexType"), _XS + "choice")
    sub(query_choice, "message_id", "xs:string")
    sub(query_choice, "client_ref", "gh:ClientRefType")
    answer = sequence_of(sub(root, "QueryMessageResponse"))
    sub(answer, "message_id", "xs:string")
    sub(answer, "type", "xs:string")
    sub(answer, "source", "xs:string")
    sub(answer, "client_ref", "xs:string", minOccurs="0")
    sub(answer, "correlation_id", "xs:string", minOccurs="0")
    sub(answer, "channel", "xs:string")
    sub(answer, "status", "xs:string")
    sub(answer, "created_at", "xs:dateTime")
    sub(answer, "updated_at", "xs:dateTime")
    sub(answer, "delivery", "gh:DeliveryStatusType", minOccurs="0", maxOccurs="unbounded")
    sub(answer, "payload", "gh:PayloadType")
    add_lookup_elements(root, _document)
    return root


def operations(models: Sequence[MessageModel]) -> list[str]:
    """Every operation of the service, in WSDL order."""
    return ["SubmitMessage", *(m.operation for m in models), "QueryMessage", *LOOKUP_OPERATIONS]


def _wsdl(models: Sequence[MessageModel]) -> etree._Element:
    definitions = etree.Element(
        _W + "definitions",
        nsmap={
            "wsdl": WSDL,
            "soap": WSDL_SOAP11,
            "soap12": WSDL_SOAP12,
            "xs": XS,
            "gh": NS,
        },
        name=SERVICE_NAME,
        targetNamespace=NS,
    )
    _wsdl_doc(
        definitions,
        "GovHub: submit canonical messages (case.*, ...) and query them. Authenticate with"
        " WS-Security UsernameToken (username = client name, password = API key; PasswordText"
        " or PasswordDigest) or an HTTP Authorization: Bearer API key.",
    )
    types = etree.SubElement(definitions, _W + "types")
    holder = etree.SubElement(types, _XS + "schema", nsmap={"xs": XS})
    etree.SubElement(
        holder, _XS + "import", namespace=NS, schemaLocation=f"../xsd/{SERVICE_NAME}.xsd"
    )
    names = operations(models)
    for name in names:
        for suffix, element in (("Request", name), ("Response", f"{name}Response")):
            message = etree.SubElement(definitions, _W + "message", name=f"{name}{suffix}")
            etree.SubElement(message, _W + "part", name="parameters", element=f"gh:{element}")
    fault_message = etree.SubElement(definitions, _W + "message", name="Fault")
    etree.SubElement(fault_message, _W + "part", name="detail", element="gh:FaultDetail")

    port_type = etree.SubElement(definitions, _W + "portType", name=f"{SERVICE_NAME}PortType")
    for name in names:
        operation = etree.SubElement(port_type, _W + "operation", name=name)
        etree.SubElement(operation, _W + "input", message=f"gh:{name}Request")
        etree.SubElement(operation, _W + "output", message=f"gh:{name}Response")
        etree.SubElement(operation, _W + "fault", name="Fault", message="gh:Fault")

    for suffix, soap_ns in (("Soap", WSDL_SOAP11), ("Soap12", WSDL_SOAP12)):
        binding = etree.SubElement(
            definitions,
            _W + "binding",
            name=f"{SERVICE_NAME}{suffix}",
            type=f"gh:{SERVICE_NAME}PortType",
        )
        etree.SubElement(
            binding, f"{{{soap_ns}}}binding", style="document", transport=HTTP_TRANSPORT
        )
        for name in names:
            operation = etree.SubElement(binding, _W + "operation", name=name)
            etree.SubElement(
                operation, f"{{{soap_ns}}}operation", soapAction=f"{NS}/{name}", style="document"
            )
            for direction in ("input", "output"):
                body_holder = etree.SubElement(operation, _W + direction)
                etree.SubElement(body_holder, f"{{{soap_ns}}}body", use="literal")
            fault = etree.SubElement(operation, _W + "fault", name="Fault")
            etree.SubElement(fault, f"{{{soap_ns}}}fault", name="Fault", use="literal")

    service = etree.SubElement(definitions, _W + "service", name=SERVICE_NAME)
    for suffix, soap_ns in (("Soap", WSDL_SOAP11), ("Soap12", WSDL_SOAP12)):
        port = etree.SubElement(
            service,
            _W + "port",
            name=f"{SERVICE_NAME}{suffix}",
            binding=f"gh:{SERVICE_NAME}{suffix}",
        )
        etree.SubElement(port, f"{{{soap_ns}}}address", location=DEFAULT_ADDRESS)
    return definitions


def _wsdl_doc(element: etree._Element, text: str) -> None:
    etree.SubElement(element, _W + "documentation").text = text


def _serialise(root: etree._Element) -> bytes:
    etree.indent(root, space="  ")
    text: bytes = etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
    return text


def main(argv: Sequence[str] | None = None) -> int:
    """Write (or with ``--check``, compare) the generated contract files."""
    parser = argparse.ArgumentParser(
        prog="python -m faces.soap.xsdgen", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--schemas", type=Path, default=DEFAULT_SCHEMA_DIR, help="schemas/")
    parser.add_argument("--check", action="store_true", help="exit 1 if a file is stale")
    args = parser.parse_args(argv)
    contract = build_contract(SchemaRegistry(args.schemas))
    stale = []
    for name, content in contract.documents.items():
        path = args.schemas / name
        current = path.read_bytes() if path.exists() else None
        if current == content:
            continue
        stale.append(name)
        if not args.check:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content)
    expected = set(contract.documents)
    orphans = sorted(
        f"xsd/{p.name}"
        for p in (args.schemas / "xsd").glob("*.xsd")
        if f"xsd/{p.name}" not in expected
    )
    for name in orphans:
        stale.append(name)
        if not args.check:
            (args.schemas / name).unlink()
    if args.check:
        if stale:
            print(
                f"out of date: {', '.join(stale)}; run python -m faces.soap.xsdgen", file=sys.stderr
            )
            return 1
        print("the SOAP contract is up to date")
        return 0
    print(f"wrote {len(stale)} file(s)" + (f": {', '.join(stale)}" if stale else ""))
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
