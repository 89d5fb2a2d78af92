"""What a WSDL offers an adapter: its port's operations, their input and output as JSON Schema.

:func:`describe_wsdl` reads a WSDL (file or URL, loaded safely: :mod:`faces.devkit.wsdl_load`)
and answers a :class:`WsdlModel`: the first SOAP 1.1 port and its operations, each with
the JSON Schema 2020-12 of its request and response (:mod:`faces.devkit.xsd_json`). Only
document/literal operations are read (what zeep and the sandboxes speak); a WSDL with
others says so.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from zeep.wsdl.bindings.soap import Soap11Binding
from zeep.xsd import ComplexType

from adapters.sdk.xml import parse_declared
from faces.devkit.wsdl_codegen import snake
from faces.devkit.wsdl_load import LoadedWsdl, WsdlError, load_wsdl
from faces.devkit.xsd_json import DIALECT, WSDL_NS, SchemaIndex, XsdMapper

__all__ = ["OperationModel", "WsdlError", "WsdlModel", "describe_wsdl"]


@dataclass(frozen=True)
class OperationModel:
    """One operation of the WSDL's port.

    Attributes:
        name: As the WSDL names it (``FullCountryInfo``).
        documentation: The portType's ``wsdl:documentation`` of it, or ``""``.
        soap_action: Its ``soapAction``, if any.
        input_element: The request body element (Clark notation), if any.
        output_element: The response body element, if any.
        input_schema: JSON Schema of the request element's content (the method's argument).
        output_schema: JSON Schema of the response element's content (what it returns).
        result_path: The children zeep unwraps from the response (see
            :func:`adapters.sdk.soap_json.answer_of`); ``None`` for an empty response.
    """

    name: str
    documentation: str
    soap_action: str | None
    input_element: str | None
    output_element: str | None
    input_schema: dict[str, Any]
    output_schema: dict[str, Any]
    result_path: tuple[str, ...] | None

    @property
    def method(self) -> str:
        """The adapter's method for it (``full_country_info``)."""
        return snake(self.name)

    def to_json(self) -> dict[str, Any]:
        """As ``operations/<name>.json`` holds it."""
        return {
            "operation": self.name,
            "documentation": self.documentation,
            "soap_action": self.soap_action,
            "input_element": self.input_element,
            "output_element": self.output_element,
            "input": self.input_schema,
            "output": self.output_schema,
        }


@dataclass(frozen=True)
class WsdlModel:
    """What a WSDL offers, as the generator reads it.

    Attributes:
        source: Where it was read from.
        service: The service whose port is used.
        port: That port (the first SOAP 1.1 one).
        address: The port's ``soap:address``.
        target_namespace: The WSDL's ``targetNamespace``.
        documentation: The service's ``wsdl:documentation``, or ``""``.
        operations: In the binding's order.
        defs: The named XSD types as JSON Schema (shared ``$defs`` of every operation).
        loaded: The documents it was read from.
    """

    source: str
    service: str
    port: str
    address: str
    target_namespace: str
    documentation: str
    operations: tuple[OperationModel, ...]
    defs: dict[str, Any] = field(repr=False)
    loaded: LoadedWsdl = field(repr=False, compare=False)

    def operation(self, name: str) -> OperationModel:
        """The operation called ``name``.

        Raises:
            KeyError: No such operation.
        """
        for found in self.operations:
            if found.name == name:
                return found
        raise KeyError(name)

    def to_json(self) -> dict[str, Any]:
        """A summary for people and ``--json`` output: the port and every operation."""
        return {
            "source": self.source,
            "service": self.service,
            "port": self.port,
            "address": self.address,
            "target_namespace": self.target_namespace,
            "documentation": self.documentation,
            "operations": [op.to_json() for op in self.operations],
        }


def _text(node: Any) -> str:
    return " ".join("".join(node.itertext()).split()) if node is not None else ""


def _documentation(roots: list[Any]) -> tuple[dict[str, str], dict[str, str]]:
    """Operation name → its portType documentation, and service name → its documentation."""
    operations: dict[str, str] = {}
    services: dict[str, str] = {}
    for root in roots:
        for operation in root.iterfind(f"{{{WSDL_NS}}}portType/{{{WSDL_NS}}}operation"):
            text = _text(operation.find(f"{{{WSDL_NS}}}documentation"))
            operations.setdefault(operation.get("name", ""), text)
        for service in root.iterfind(f"{{{WSDL_NS}}}service"):
            services[service.get("name", "")] = _text(service.find(f"{{{WSDL_NS}}}documentation"))
    return operations, services


def _result_path(element: Any) -> tuple[str, ...] | None:
    """What zeep returns of a response element (``SoapMessage.deserialize``'s unwrapping).

    zeep returns the element's content when it has several children; its only child's
    value when it has one; and that child's only child when the child is a single
    complex value with one element and no attributes.
    """
    if element is None:
        return None
    xsd_type = element.type
    elements = list(getattr(xsd_type, "elements", ()))
    attributes = list(getattr(xsd_type, "attributes", ()))
    if not elements and not attributes:
        return None
    if len(elements) + len(attributes) > 1 or not elements:
        return () if len(elements) + len(attributes) > 1 else (attributes[0][0],)
    name, child = elements[0]
    child_type = getattr(child, "type", None)
    if getattr(child, "accepts_multiple", False) or not isinstance(child_type, ComplexType):
        return (name,)
    inner = list(child_type.elements)
    if len(inner) == 1 and not list(child_type.attributes):
        return (name, inner[0][0])
    return (name,)


_EMPTY = {"type": "object", "properties": {}, "additionalProperties": False}


def describe_wsdl(source: str) -> WsdlModel:
    """The operations of a WSDL's first SOAP 1.1 port, with their schemas.

    Args:
        source: A file path or an ``http(s)`` URL.

    Raises:
        WsdlError: The WSDL cannot be loaded, has no SOAP 1.1 port, or has an operation
            that is not document/literal or whose types are not all defined.
    """
    loaded = load_wsdl(source)
    roots = [parse_declared(content) for content in loaded.documents.values()]
    mapper = XsdMapper(SchemaIndex.of(roots))
    operation_docs, service_docs = _documentation(roots)
    ports = [
        (service_name, port_name, port)
        for service_name, service in loaded.client.wsdl.services.items()
        for port_name, port in service.ports.items()
        if isinstance(port.binding, Soap11Binding)
    ]
    if not ports:
        raise WsdlError(f"{source} has no SOAP 1.1 port: only SOAP 1.1 is generated")
    service_name, port_name, port = ports[0]
    operations = []
    for name, operation in port.binding._operations.items():
        if operation.style != "document" or getattr(operation.input, "use", "literal") != "literal":
            raise WsdlError(
                f"operation {name} is {operation.style}/{getattr(operation.input, 'use', '?')}:"
                " only document/literal operations are generated"
            )
        elements = [
            getattr(message, "body", None) for message in (operation.input, operation.output)
        ]
        qnames = [e.qname.text if e is not None and e.qname is not None else None for e in elements]
        try:
            schemas = [
                mapper.document(qname, title=f"{name} {side}")
                if qname
                else {"$schema": DIALECT, "title": f"{name} {side}", **_EMPTY}
                for qname, side in zip(qnames, ("input", "output"), strict=True)
            ]
        except KeyError as error:
            raise WsdlError(f"operation {name}: {error.args[0]}") from None
        operations.append(
            OperationModel(
                name=name,
                documentation=operation_docs.get(name, ""),
                soap_action=operation.soapaction or None,
                input_element=qnames[0],
                output_element=qnames[1],
                input_schema=schemas[0],
                output_schema=schemas[1],
                result_path=_result_path(elements[1]),
            )
        )
    if not operations:
        raise WsdlError(f"port {port_name} of {source} has no operations")
    return WsdlModel(
        source=source,
        service=service_name,
        port=port_name,
        address=str(port.binding_options.get("address", "")),
        target_namespace=roots[0].get("targetNamespace", ""),
        documentation=service_docs.get(service_name, ""),
        operations=tuple(operations),
        defs=dict(mapper.defs),
        loaded=loaded,
    )
