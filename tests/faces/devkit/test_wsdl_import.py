"""Adapters generated from public WSDLs nobody here wrote load, and their sandboxes answer.

The fixtures (tests/fixtures/wsdl/README.md): the Country Info Service (21 operations,
complex types, arrays of nillable items) and the DNE Online Calculator (four operations on
``xs:int``).
"""

from __future__ import annotations

import importlib
import json
import os
import re
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from flask import Flask, Response
from jsonschema import Draft202012Validator

from adapters.sdk import RejectedError
from adapters.sdk.sandbox_soap import SoapRequestError, parse_envelope
from adapters.sdk.sandbox_wsdl import WsdlService
from faces.devkit import wsdl_load
from faces.devkit.wsdl_codegen import sample
from faces.devkit.wsdl_import import WsdlError, WsdlModel, describe_wsdl, generate_from_wsdl
from faces.serving import RunningServer, serve_in_thread
from hub.registry import with_defaults

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "wsdl"
COUNTRY_INFO = FIXTURES / "CountryInfoService.wsdl"
CALCULATOR = FIXTURES / "calculator.wsdl"
COUNTRY_NS = "http://www.oorsprong.org/websamples.countryinfo"


@dataclass
class Generated:
    """A generated package, imported by path, with its sandbox running."""

    dest: Path
    model: WsdlModel
    adapter: ModuleType
    sandbox: ModuleType
    server: RunningServer

    def make(self, **credentials: Any) -> Any:
        cls = next(v for v in vars(self.adapter).values() if getattr(v, "name", None) == self.name)
        settings = {"url": f"{self.server.url}{self.sandbox.ENDPOINT}", **credentials}
        return cls("test", with_defaults(settings, cls.settings_schema))

    @property
    def name(self) -> str:
        return str(self.adapter.__name__.split(".")[0])


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Generated]]:
    """Both fixtures generated (Country Info with WS-Security, the Calculator with HTTP
    Basic), imported from their folders, their sandboxes on 127.0.0.1."""
    made: dict[str, Generated] = {}
    with pytest.MonkeyPatch.context() as patch:
        for name, source, auth in (
            ("country_info_generated", COUNTRY_INFO, "wsse"),
            ("calculator_generated", CALCULATOR, "basic"),
        ):
            dest = tmp_path_factory.mktemp(name)
            generate_from_wsdl(str(source), name=name, auth=auth, dest=dest)
            patch.syspath_prepend(str(dest))
            importlib.invalidate_caches()
            sandbox = importlib.import_module(f"{name}.sandbox")
            server = serve_in_thread(sandbox.create_app(), "127.0.0.1", 0, threads=4)
            made[name] = Generated(
                dest=dest,
                model=describe_wsdl(str(source)),
                adapter=importlib.import_module(f"{name}.adapter"),
                sandbox=sandbox,
                server=server,
            )
        yield made
        for package in made.values():
            package.server.stop()
        for module in [m for m in sys.modules if m.split(".")[0] in made]:
            del sys.modules[module]


def credentials(package: Generated) -> dict[str, str]:
    return {
        "username": package.sandbox.DEFAULT_USERNAME,
        "password": package.sandbox.DEFAULT_PASSWORD,
    }


def test_every_operation_has_valid_json_schemas_for_its_input_and_output(
    generated: dict[str, Generated],
) -> None:
    counts = {}
    for package in generated.values():
        documents = sorted((package.dest / package.name / "operations").glob("*.json"))
        counts[package.name] = len(documents)
        for path in documents:
            document = json.loads(path.read_text(encoding="utf-8"))
            Draft202012Validator.check_schema(document["input"])
            Draft202012Validator.check_schema(document["output"])
    assert counts == {"country_info_generated": 21, "calculator_generated": 4}


def test_xsd_types_map_onto_json_types_with_their_occurs(generated: dict[str, Generated]) -> None:
    add = generated["calculator_generated"].model.operation("Add")
    assert add.input_schema["properties"]["intA"] == {
        "type": "integer",
        "minimum": -(2**31),
        "maximum": 2**31 - 1,
    }
    assert add.input_schema["required"] == ["intA", "intB"]
    assert add.input_schema["additionalProperties"] is False
    assert add.result_path == ("AddResult",)

    full = generated["country_info_generated"].model.operation("FullCountryInfo")
    assert full.input_element == f"{{{COUNTRY_NS}}}FullCountryInfo"
    defs = full.output_schema["$defs"]
    assert full.output_schema["properties"]["FullCountryInfoResult"] == {
        "$ref": "#/$defs/tCountryInfo"
    }
    required = defs["tCountryInfo"]["required"]
    assert len(required) == 7, "every element of the sequence with content of its own"
    # <Languages/> (no language) reads as absent: its type requires nothing
    assert "Languages" in defs["tCountryInfo"]["properties"]
    assert "Languages" not in required
    languages = defs["ArrayOftLanguage"]["properties"]["tLanguage"]
    assert languages["type"] == "array", "maxOccurs=unbounded is an array"
    assert "minItems" not in languages, "minOccurs=0: it may be empty"
    assert languages["items"] == {"anyOf": [{"$ref": "#/$defs/tLanguage"}, {"type": "null"}]}
    assert sorted(defs) == ["ArrayOftLanguage", "tCountryInfo", "tLanguage"], "only what it reaches"


RESTRICTED = """<?xml version="1.0" encoding="utf-8"?>
<wsdl:definitions xmlns:wsdl="http://schemas.xmlsoap.org/wsdl/"
    xmlns:soap="http://schemas.xmlsoap.org/wsdl/soap/" xmlns:xs="http://www.w3.org/2001/XMLSchema"
    xmlns:t="urn:test" targetNamespace="urn:test">
  <wsdl:types>
    <xs:schema targetNamespace="urn:test" elementFormDefault="qualified">
      <xs:simpleType name="Colour">
        <xs:restriction base="xs:string"><xs:enumeration value="red"/><xs:enumeration value="blue"/>
        </xs:restriction>
      </xs:simpleType>
      <xs:element name="Order">
        <xs:complexType>
          <xs:sequence>
            <xs:element name="code"><xs:simpleType><xs:restriction base="xs:string">
              <xs:maxLength value="8"/><xs:pattern value="[A-Z]{2}[0-9]+"/></xs:restriction>
            </xs:simpleType></xs:element>
            <xs:element name="colour" type="t:Colour" minOccurs="0"/>
            <xs:element name="amount" type="xs:decimal"/>
            <xs:element name="due" type="xs:date"/>
            <xs:element name="urgent" type="xs:boolean"/>
            <xs:choice><xs:element name="phone" type="xs:string"/>
              <xs:element name="email" type="xs:string"/></xs:choice>
          </xs:sequence>
          <xs:attribute name="version" type="xs:int" use="required"/>
        </xs:complexType>
      </xs:element>
      <xs:element name="OrderResponse"><xs:complexType><xs:sequence/></xs:complexType></xs:element>
    </xs:schema>
  </wsdl:types>
  <wsdl:message name="In"><wsdl:part name="p" element="t:Order"/></wsdl:message>
  <wsdl:message name="Out"><wsdl:part name="p" element="t:OrderResponse"/></wsdl:message>
  <wsdl:portType name="P"><wsdl:operation name="Order">
    <wsdl:input message="t:In"/><wsdl:output message="t:Out"/></wsdl:operation></wsdl:portType>
  <wsdl:binding name="B" type="t:P"><soap:binding transport="http://schemas.xmlsoap.org/soap/http"/>
    <wsdl:operation name="Order"><soap:operation soapAction="urn:order" style="document"/>
      <wsdl:input><soap:body use="literal"/></wsdl:input>
      <wsdl:output><soap:body use="literal"/></wsdl:output></wsdl:operation></wsdl:binding>
  <wsdl:service name="S"><wsdl:port name="SP" binding="t:B">
    <soap:address location="http://example.invalid/s"/></wsdl:port></wsdl:service>
</wsdl:definitions>
"""


def test_restrictions_enumerations_choices_and_attributes_are_mapped(tmp_path: Path) -> None:
    path = tmp_path / "restricted.wsdl"
    path.write_text(RESTRICTED, encoding="utf-8")
    order = describe_wsdl(str(path)).operation("Order")
    schema = order.input_schema
    properties = schema["properties"]
    assert properties["code"] == {
        "type": "string",
        "maxLength": 8,
        "pattern": "^(?:(?:[A-Z]{2}[0-9]+))$",
    }
    assert schema["$defs"]["Colour"] == {"type": "string", "enum": ["red", "blue"]}
    assert properties["amount"] == {"type": "number"}
    assert properties["due"] == {"type": "string", "format": "date"}
    assert properties["urgent"] == {"type": "boolean"}
    assert properties["version"]["type"] == "integer"
    assert schema["required"] == ["code", "amount", "due", "urgent", "version"]
    assert schema["oneOf"] == [{"required": ["phone"]}, {"required": ["email"]}]
    assert order.soap_action == "urn:order"
    assert order.result_path is None, "an empty response"
    Draft202012Validator(schema).validate(sample(schema, schema.get("$defs", {})))


def test_the_generated_adapter_answers_every_operation_through_its_sandbox(
    generated: dict[str, Generated],
) -> None:
    package = generated["country_info_generated"]
    adapter = package.make(**credentials(package))
    try:
        adapter.check()
        for operation in package.model.operations:
            method = getattr(adapter, operation.method)
            if operation.input_schema.get("properties"):
                answer = method(sample(operation.input_schema, package.model.defs))
            else:
                answer = method()
            errors = list(Draft202012Validator(operation.output_schema).iter_errors(answer))
            assert errors == [], f"{operation.name}: {errors[0].message}"
            assert answer, f"{operation.name} answered nothing"
        info = adapter.full_country_info({"sCountryISOCode": "CN"})["FullCountryInfoResult"]
        assert isinstance(info["Languages"]["tLanguage"], list)
    finally:
        adapter.close()


def test_a_request_the_schema_refuses_gets_a_client_fault_naming_the_field(
    generated: dict[str, Generated],
) -> None:
    calculator = generated["calculator_generated"]
    served = f"{calculator.server.url}{calculator.sandbox.ENDPOINT}?wsdl"
    adapter = calculator.make(wsdl=served, **credentials(calculator))
    try:
        assert adapter.add({"intA": 2, "intB": 3}) == {"AddResult": 1}, "the sandbox's sample"
        assert adapter.soap.wsdl == served, "the WSDL the sandbox serves works as well"
        with pytest.raises(RejectedError, match=r"soap:Client: intA: .*'abc' is not a valid value"):
            adapter.add({"intA": "abc", "intB": 3})
    finally:
        adapter.close()
    country = generated["country_info_generated"]
    adapter = country.make(**credentials(country))
    envelope = (
        '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>'
        f'<c:CapitalCity xmlns:c="{COUNTRY_NS}"/></soap:Body></soap:Envelope>'
    )
    try:
        with pytest.raises(RejectedError, match=r"soap:Client: sCountryISOCode: .*Missing child"):
            adapter.soap.post_raw(envelope, sign=True)
    finally:
        adapter.close()


def _wsdl_server(content: bytes) -> RunningServer:
    app = Flask("test.wsdl_server")

    @app.get("/CountryInfoService.wso")
    def wsdl() -> Response:
        return Response(content, mimetype="text/xml")

    return serve_in_thread(app, "127.0.0.1", 0, threads=2)


def test_generating_from_a_url_carries_the_wsdl_it_fetched(tmp_path: Path) -> None:
    server = _wsdl_server(COUNTRY_INFO.read_bytes())
    try:
        url = f"{server.url}/CountryInfoService.wso?WSDL"
        model = describe_wsdl(url)
        written = generate_from_wsdl(url, name="country_from_url", auth="none", dest=tmp_path / "p")
    finally:
        server.stop()
    assert [op.name for op in model.operations][:3] == [
        "ListOfContinentsByName",
        "ListOfContinentsByCode",
        "ListOfCurrenciesByName",
    ]
    assert (model.service, model.port) == ("CountryInfoService", "CountryInfoServiceSoap")
    carried = tmp_path / "p" / "country_from_url" / "CountryInfoService.wsdl"
    assert carried in written
    assert carried.read_bytes() == COUNTRY_INFO.read_bytes()
    pyproject = tomllib.loads((tmp_path / "p" / "pyproject.toml").read_text(encoding="utf-8"))
    entry_points = pyproject["project"]["entry-points"]
    assert entry_points["govhub.adapters"] == {
        "country_from_url": "country_from_url.adapter:CountryFromUrl"
    }
    assert entry_points["govhub.sandboxes"] == {
        "country_from_url": "country_from_url.sandbox:SANDBOX"
    }


def test_a_wsdl_over_the_size_cap_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(wsdl_load, "MAX_DOCUMENT_BYTES", 4096)
    server = _wsdl_server(COUNTRY_INFO.read_bytes())
    try:
        with pytest.raises(WsdlError, match="larger than 4096 bytes"):
            describe_wsdl(f"{server.url}/CountryInfoService.wso?WSDL")
    finally:
        server.stop()


def test_a_wsdl_declaring_a_doctype_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "entity.wsdl"
    text = CALCULATOR.read_text(encoding="utf-8")
    doctype = '<!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>\n'
    path.write_text(text.replace("?>\n", "?>\n" + doctype, 1), encoding="utf-8")
    with pytest.raises(WsdlError, match="DOCTYPE"):
        describe_wsdl(str(path))


def test_a_bad_name_auth_or_folder_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    with pytest.raises(WsdlError, match="lower case letters"):
        generate_from_wsdl(str(CALCULATOR), name="Calculator", dest=tmp_path / "a")
    with pytest.raises(WsdlError, match="--auth is one of none, basic, bearer, wsse"):
        generate_from_wsdl(str(CALCULATOR), name="calc", auth="hmac", dest=tmp_path / "b")
    used = tmp_path / "used"
    used.mkdir()
    (used / "keep.txt").write_text("mine", encoding="utf-8")
    with pytest.raises(WsdlError, match="not an empty folder"):
        generate_from_wsdl(str(CALCULATOR), name="calc", dest=used)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["used"]
    assert [p.name for p in used.iterdir()] == ["keep.txt"]


def test_the_generated_package_passes_its_own_tests(generated: dict[str, Generated]) -> None:
    """Its contract suite and one test per operation, as ``pytest`` in the package runs
    them. The suite looks the adapter up by entry point, so the package is made
    findable as ``pip install`` would: a dist-info with its entry points on the path."""
    package = generated["country_info_generated"]
    pyproject = tomllib.loads((package.dest / "pyproject.toml").read_text(encoding="utf-8"))
    site = package.dest.parent / f"{package.dest.name}-site"
    info = site / f"govhub_{package.name}-0.1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: govhub-{package.name}\nVersion: 0.1.0\n", encoding="utf-8"
    )
    entry_points = "".join(
        f"[{group}]\n" + "".join(f"{key} = {value}\n" for key, value in items.items()) + "\n"
        for group, items in pyproject["project"]["entry-points"].items()
    )
    (info / "entry_points.txt").write_text(entry_points, encoding="utf-8")
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(package.dest)])}
    finished = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=package.dest,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert finished.returncode == 0, finished.stdout[-3000:] + finished.stderr[-2000:]
    passed = re.search(r"^(\d+) passed in", finished.stdout, re.MULTILINE)
    assert passed is not None, finished.stdout[-500:]
    # the contract suite, and 21 operations, deliver and a refused request of its own
    assert int(passed.group(1)) >= 21 + 2 + 5, finished.stdout[-500:]


def test_describe_wsdl_says_what_the_cli_shows(generated: dict[str, Generated]) -> None:
    summary = generated["calculator_generated"].model.to_json()
    assert summary["service"] == "Calculator"
    assert summary["port"] == "CalculatorSoap"
    assert summary["address"] == "http://www.dneonline.com/calculator.asmx"
    assert [op["operation"] for op in summary["operations"]] == [
        "Add",
        "Subtract",
        "Multiply",
        "Divide",
    ]
    assert summary["operations"][0]["documentation"].startswith("Adds two integers.")
    assert summary["operations"][0]["soap_action"] == "http://tempuri.org/Add"


IMPORTING = """<?xml version="1.0" encoding="utf-8"?>
<wsdl:definitions xmlns:wsdl="http://schemas.xmlsoap.org/wsdl/"
    xmlns:soap="http://schemas.xmlsoap.org/wsdl/soap/" xmlns:xs="http://www.w3.org/2001/XMLSchema"
    xmlns:t="urn:licence" xmlns:c="urn:common" targetNamespace="urn:licence">
  <wsdl:types>
    <xs:schema targetNamespace="urn:common" elementFormDefault="qualified">
      <xs:simpleType name="Code"><xs:restriction base="xs:string"><xs:maxLength value="6"/>
      </xs:restriction></xs:simpleType>
    </xs:schema>
    <xs:schema targetNamespace="urn:licence" elementFormDefault="qualified">
      <xs:import namespace="urn:common"/>
      <xs:import namespace="urn:person" schemaLocation="xsd/person.xsd"/>
      <xs:element name="Lookup"><xs:complexType><xs:sequence>
        <xs:element name="area" type="c:Code"/>
        <xs:element name="holder" type="p:Person" xmlns:p="urn:person"/>
      </xs:sequence></xs:complexType></xs:element>
      <xs:element name="LookupResponse"><xs:complexType><xs:sequence>
        <xs:element name="found" type="xs:boolean"/>
      </xs:sequence></xs:complexType></xs:element>
    </xs:schema>
  </wsdl:types>
  <wsdl:message name="In"><wsdl:part name="p" element="t:Lookup"/></wsdl:message>
  <wsdl:message name="Out"><wsdl:part name="p" element="t:LookupResponse"/></wsdl:message>
  <wsdl:portType name="P"><wsdl:operation name="Lookup">
    <wsdl:input message="t:In"/><wsdl:output message="t:Out"/></wsdl:operation></wsdl:portType>
  <wsdl:binding name="B" type="t:P"><soap:binding transport="http://schemas.xmlsoap.org/soap/http"/>
    <wsdl:operation name="Lookup"><soap:operation soapAction="" style="document"/>
      <wsdl:input><soap:body use="literal"/></wsdl:input>
      <wsdl:output><soap:body use="literal"/></wsdl:output></wsdl:operation></wsdl:binding>
  <wsdl:service name="Licences"><wsdl:port name="LicencesSoap" binding="t:B">
    <soap:address location="http://example.invalid/licences"/></wsdl:port></wsdl:service>
</wsdl:definitions>
"""
PERSON = """<?xml version="1.0" encoding="utf-8"?>
<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" targetNamespace="urn:person"
    elementFormDefault="qualified">
  <xs:complexType name="Person"><xs:sequence>
    <xs:element name="name" type="xs:string"/>
    <xs:element name="born" type="xs:date" minOccurs="0"/>
  </xs:sequence></xs:complexType>
</xs:schema>
"""


def test_imported_xsds_and_several_inline_schemas_are_fetched_carried_and_checked(
    tmp_path: Path,
) -> None:
    app = Flask("test.wsdl_with_imports")

    @app.get("/ws/licences.wsdl")
    def wsdl() -> Response:
        return Response(IMPORTING, mimetype="text/xml")

    @app.get("/ws/xsd/person.xsd")
    def person() -> Response:
        return Response(PERSON, mimetype="text/xml")

    server = serve_in_thread(app, "127.0.0.1", 0, threads=2)
    try:
        dest = tmp_path / "licences"
        generate_from_wsdl(f"{server.url}/ws/licences.wsdl", name="licences", dest=dest)
    finally:
        server.stop()
    carried = dest / "licences" / "xsd" / "person.xsd"
    assert carried.read_text(encoding="utf-8") == PERSON, "the import travels beside the WSDL"
    lookup = json.loads((dest / "licences" / "operations" / "Lookup.json").read_text("utf-8"))
    schema = lookup["input"]
    assert schema["$defs"]["Code"] == {"type": "string", "maxLength": 6}
    assert schema["$defs"]["Person"]["required"] == ["name"]
    assert schema["$defs"]["Person"]["properties"]["born"] == {"type": "string", "format": "date"}

    service = WsdlService(dest / "licences" / "Licences.wsdl")
    envelope = (
        '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>'
        '<l:Lookup xmlns:l="urn:licence"><l:area>{area}</l:area>'
        '<l:holder><p:name xmlns:p="urn:person">{name}</p:name></l:holder></l:Lookup>'
        "</soap:Body></soap:Envelope>"
    )
    _header, body = parse_envelope(
        envelope.format(area="371000", name="王秀英").encode(), "text/xml"
    )
    service.validate(body)
    assert service.arguments("Lookup", body) == {"area": "371000", "holder": {"name": "王秀英"}}
    _header, body = parse_envelope(
        envelope.format(area="3710001", name="王秀英").encode(), "text/xml"
    )
    with pytest.raises(SoapRequestError, match=r"^area: ") as refused:
        service.validate(body)
    assert refused.value.code == "soap:Client"


def test_an_import_from_outside_the_wsdls_folder_is_refused_with_what_to_do(
    tmp_path: Path,
) -> None:
    app = Flask("test.wsdl_importing_upwards")

    @app.get("/ws/licences.wsdl")
    def wsdl() -> Response:
        return Response(IMPORTING.replace("xsd/person.xsd", "../person.xsd"), mimetype="text/xml")

    @app.get("/person.xsd")
    def person() -> Response:
        return Response(PERSON, mimetype="text/xml")

    server = serve_in_thread(app, "127.0.0.1", 0, threads=2)
    try:
        with pytest.raises(WsdlError, match=r"outside the WSDL's folder.*download it next to"):
            generate_from_wsdl(f"{server.url}/ws/licences.wsdl", name="up", dest=tmp_path / "up")
    finally:
        server.stop()
    assert not (tmp_path / "up").exists(), "nothing half-written"
