"""The SOAP contract is generated from the JSON Schemas, and the two agree."""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from faces.soap.mapping import to_json, to_xml
from faces.soap.model import Array, MessageModel, ModelError, Object, Scalar
from faces.soap.xsdgen import NS, build_contract, main, xsd_pattern
from hub.schemas import DEFAULT_SCHEMA_DIR, SchemaRegistry
from hub.store import MessageFilter

REGISTRY = SchemaRegistry()
CONTRACT = build_contract(REGISTRY)
XSD = etree.XMLSchema(CONTRACT.validation_schema())
MODELS = {m.type: m for m in CONTRACT.models}


def test_committed_contract_files_are_what_the_generator_writes() -> None:
    for name, content in CONTRACT.documents.items():
        path = DEFAULT_SCHEMA_DIR / name
        assert path.exists(), f"{name} is missing: run python -m faces.soap.xsdgen"
        assert path.read_bytes() == content, f"{name} is stale: run python -m faces.soap.xsdgen"
    on_disk = {f"xsd/{p.name}" for p in (DEFAULT_SCHEMA_DIR / "xsd").glob("*.xsd")}
    assert on_disk == {n for n in CONTRACT.documents if n.startswith("xsd/")}
    assert main(["--check"]) == 0


def test_committed_files_compile_as_xml_schema_from_disk() -> None:
    etree.XMLSchema(etree.parse(str(DEFAULT_SCHEMA_DIR / "xsd" / "GovHubService.xsd")))
    wsdl = etree.parse(str(DEFAULT_SCHEMA_DIR / "wsdl" / "GovHubService.wsdl"))
    operations = wsdl.xpath(
        "//wsdl:portType/wsdl:operation/@name",
        namespaces={"wsdl": "http://schemas.xmlsoap.org/wsdl/"},
    )
    assert operations == [
        "SubmitMessage",
        *(MODELS[t].operation for t in sorted(MODELS)),
        "QueryMessage",
        "LookUpLicenses",
        "LookUpIdentity",
    ]


def test_case_types_have_their_named_operations() -> None:
    assert (MODELS["case.submitted"].operation, MODELS["case.submitted"].element) == (
        "SubmitCase",
        "CaseSubmitted",
    )
    assert MODELS["case.status_changed"].operation == "ReportCaseStatus"
    assert MODELS["case.completed"].operation == "CompleteCase"
    assert all(MODELS[t].correlation == "case_no" for t in MODELS if t.startswith("case."))


def xml_of(model: MessageModel, payload: dict[str, Any]) -> etree._Element:
    holder = etree.Element("holder")
    to_xml(holder, model.element, payload, model.shape)
    return holder[0]


def xsd_valid(model: MessageModel, payload: dict[str, Any]) -> bool:
    return bool(XSD.validate(xml_of(model, payload)))


def json_valid(message_type: str, payload: dict[str, Any]) -> bool:
    return REGISTRY.validate(message_type, payload).ok


def mutations(model: MessageModel, example: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """Invalid variants of a valid example that XML can carry: each must fail both ways."""
    found = [("unknown field", {**example, "zz_not_a_field": "x"})]
    for field in model.shape.fields:
        carried = not isinstance(field.shape, Array) or field.shape.min_items > 0
        if field.required and carried and field.name in example:
            found.append(
                (f"without {field.name}", {k: v for k, v in example.items() if k != field.name})
            )
        if isinstance(field.shape, Scalar) and field.shape.enum:
            found.append(
                (f"{field.name} outside its code list", {**example, field.name: "no-such-code"})
            )
        if isinstance(field.shape, Scalar) and field.shape.max_length is not None:
            too_long = "x" * (field.shape.max_length + 1)
            found.append((f"{field.name} too long", {**example, field.name: too_long}))
        if (
            isinstance(field.shape, Object)
            and field.shape.entries is None
            and isinstance(example.get(field.name), dict)
        ):
            nested = {**example[field.name], "zz_nested_unknown": "x"}
            found.append((f"unknown field in {field.name}", {**example, field.name: nested}))
    return found


@pytest.mark.parametrize("message_type", REGISTRY.types)
def test_xsd_and_json_schema_agree_on_every_canonical_type(message_type: str) -> None:
    model = MODELS[message_type]
    example = REGISTRY.example(message_type)
    assert json_valid(message_type, example)
    assert xsd_valid(model, example), XSD.error_log
    # the example survives the trip through XML unchanged
    assert to_json(xml_of(model, example), model.shape, "/") == example
    for label, invalid in mutations(model, example):
        assert not json_valid(message_type, invalid), f"{label}: the JSON Schema accepts it"
        assert not xsd_valid(model, invalid), f"{label}: the XSD accepts it"


def extended_schemas(tmp_path: Path, extra: dict[str, Any]) -> SchemaRegistry:
    root = tmp_path / "schemas"
    shutil.copytree(DEFAULT_SCHEMA_DIR, root, ignore=shutil.ignore_patterns("xsd", "wsdl"))
    for message_type, schema in extra.items():
        (root / "messages" / f"{message_type}.json").write_text(
            json.dumps(schema), encoding="utf-8"
        )
    return SchemaRegistry(root)


THING: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "https://schemas.govhub.dev/messages/demo.thing_happened.json",
    "title": "demo.thing_happened",
    "type": "object",
    "additionalProperties": False,
    "required": ["order_no", "amount_fen", "paid", "tags", "valid_until"],
    "allOf": [{"properties": {"note": {"type": "string"}}}],
    "properties": {
        "order_no": {"type": "string", "pattern": "^PO[0-9]+$"},
        "amount_fen": {"type": "integer", "minimum": 1},
        "rate": {"type": "number"},
        "paid": {"type": "boolean"},
        "tags": {"type": "array", "items": {"type": "string"}, "minItems": 1},
        "valid_until": {"anyOf": [{"type": "string", "format": "date"}, {"const": "长期"}]},
        "surface": {"type": "object", "additionalProperties": {"type": "string"}},
        "extra": {},
        "holder": {"$ref": "../common.json#/$defs/department"},
    },
}


def test_a_new_type_without_annotation_gets_a_derived_operation(tmp_path: Path) -> None:
    schemas = extended_schemas(tmp_path, {"demo.thing_happened": THING})
    contract = build_contract(schemas)
    assert schemas.schema("demo.thing_happened") == THING  # the validators' copy is untouched
    model = next(m for m in contract.models if m.type == "demo.thing_happened")
    assert (model.element, model.operation, model.correlation) == (
        "DemoThingHappened",
        "SubmitDemoThingHappened",
        None,
    )
    service_xsd = contract.documents["xsd/GovHubService.xsd"].decode()
    assert 'name="SubmitDemoThingHappened"' in service_xsd
    wsdl = contract.documents["wsdl/GovHubService.wsdl"].decode()
    assert 'soapAction="http://schemas.govhub.dev/v1/SubmitDemoThingHappened"' in wsdl
    schema = etree.XMLSchema(contract.validation_schema())
    payload = {
        "order_no": "PO123",
        "amount_fen": 1250,
        "rate": 1e-05,
        "paid": False,
        "tags": ["a", "b"],
        "valid_until": "长期",
        "surface": {"颜色": "红"},
        "extra": {"anything": [1, None, True]},
        "holder": {"code": "11100000000013338W", "name": "威海市民政局"},
    }
    holder = etree.Element("holder")
    to_xml(holder, model.element, payload, model.shape)
    assert schema.validate(holder[0]), schema.error_log
    # integers, numbers and booleans come back typed, not as text
    assert to_json(holder[0], model.shape, "/") == payload
    dated = {**payload, "valid_until": "2030-01-01"}
    holder = etree.Element("holder")
    to_xml(holder, model.element, dated, model.shape)
    assert schema.validate(holder[0])
    for bad in (
        {**payload, "amount_fen": "12.5"},
        {**payload, "valid_until": "someday"},
        {**payload, "order_no": "X1"},
    ):
        holder = etree.Element("holder")
        to_xml(holder, model.element, bad, model.shape)
        assert not schema.validate(holder[0])


def test_annotation_renames_and_bad_annotation_is_refused(tmp_path: Path) -> None:
    named = copy.deepcopy(THING)
    named["x-soap"] = {"operation": "ReportThing", "element": "Thing", "correlation": "order_no"}
    contract = build_contract(extended_schemas(tmp_path / "a", {"demo.thing_happened": named}))
    model = next(m for m in contract.models if m.type == "demo.thing_happened")
    assert (model.element, model.operation, model.correlation) == (
        "Thing",
        "ReportThing",
        "order_no",
    )
    clash = copy.deepcopy(THING)
    clash["x-soap"] = {"operation": "SubmitCase"}
    with pytest.raises(ModelError, match="SubmitCase"):
        build_contract(extended_schemas(tmp_path / "b", {"demo.thing_happened": clash}))
    broken = copy.deepcopy(THING)
    broken["x-soap"] = {"operation": "Not A Name"}
    with pytest.raises(ModelError, match="XML name"):
        build_contract(extended_schemas(tmp_path / "c", {"demo.thing_happened": broken}))


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("^[0-9]+$", "[0-9]+"),
        ("^PO", "PO.*"),
        ("x$", ".*x"),
        ("^(?:a|b)\\/c$", "(a|b)/c"),
        ("^(?=a)", None),
    ],
)
def test_json_patterns_become_xsd_patterns(pattern: str, expected: str | None) -> None:
    assert xsd_pattern(pattern) == expected


def test_payload_elements_are_in_the_one_namespace() -> None:
    model = MODELS["case.submitted"]
    element = xml_of(model, REGISTRY.example("case.submitted"))
    assert {etree.QName(e).namespace for e in element.iter()} == {NS}


ODD: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "https://schemas.govhub.dev/messages/demo.odd.json",
    "type": "object",
    "required": ["case_no", "not an xml name"],
    "properties": {
        "case_no": {"type": "string"},
        "not an xml name": {"type": "string"},
        "grid": {"type": "array", "items": {"type": "array", "items": {"type": "integer"}}},
    },
}


def test_a_type_xml_cannot_carry_is_left_to_submit_message_as_json(tmp_path: Path) -> None:
    from faces.app import create_app
    from faces.soap.envelope import SOAP11_NS
    from hub.runtime import Hub
    from tests.support import hub_config

    schemas = extended_schemas(tmp_path, {"demo.odd": ODD})
    with pytest.raises(ModelError, match="XML name"):
        build_contract(schemas)
    skipped: list[str] = []
    contract = build_contract(schemas, on_error=lambda t, _e: skipped.append(t))
    assert skipped == ["demo.odd"]
    assert (
        '<xs:enumeration value="demo.odd"/>' in contract.documents["xsd/GovHubService.xsd"].decode()
    )

    hub = Hub(hub_config(tmp_path), schema_dir=schemas.directory)
    try:
        app = create_app(hub)
        _client, key = hub.store.clients.add("dept", allow=["demo.*"])
        payload = json.dumps({"case_no": "C-1", "not an xml name": "x", "grid": [[1, 2], [3]]})
        body = (
            f'<s:Envelope xmlns:s="{SOAP11_NS}"><s:Body><SubmitMessage xmlns="{NS}">'
            f"<type>demo.odd</type><payload><json>{payload}</json></payload>"
            "</SubmitMessage></s:Body></s:Envelope>"
        )
        response = app.test_client().post(
            "/soap/GovHubService",
            data=body.encode(),
            headers={"Content-Type": "text/xml", "Authorization": f"Bearer {key}"},
        )
        assert response.status_code == 200, response.text
        [stored] = hub.store.messages.search(MessageFilter(source="dept")).items
        assert stored.envelope.payload["grid"] == [[1, 2], [3]]
        assert stored.envelope.correlation_id == "C-1"
    finally:
        hub.close()


def test_lists_of_lists_travel_as_json_text(tmp_path: Path) -> None:
    grid = copy.deepcopy(ODD)
    grid["$id"] = "https://schemas.govhub.dev/messages/demo.grid.json"
    grid["required"] = ["case_no"]
    del grid["properties"]["not an xml name"]
    contract = build_contract(extended_schemas(tmp_path, {"demo.grid": grid}))
    model = next(m for m in contract.models if m.type == "demo.grid")
    holder = etree.Element("holder")
    to_xml(holder, model.element, {"case_no": "C", "grid": [[1, 2], [3]]}, model.shape)
    assert etree.XMLSchema(contract.validation_schema()).validate(holder[0])
    assert to_json(holder[0], model.shape, "/") == {"case_no": "C", "grid": [[1, 2], [3]]}
