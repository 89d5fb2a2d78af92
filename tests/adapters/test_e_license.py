"""The e-license library adapter against its sandbox: contract, archive, look-ups, audit."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from adapters.e_license.adapter import ELicenseLibrary, StatedUse
from adapters.e_license.metadata import from_metadata, to_metadata
from adapters.e_license.sandbox import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, create_app
from adapters.sdk import Attempt, RejectedError
from adapters.sdk.testing import AdapterContract, SandboxClient
from faces.serving import RunningServer, serve_in_thread
from hub.core.clock import new_id, utcnow
from hub.core.envelope import Envelope
from hub.core.identifiers import IdentifierError
from tests.support import example

LICENSE_ID = example("license.issued")["license_id"]
COMPANY = "91371002MA3C00001M"
TYPE_CODE = "11100000000013338W032"
USE = StatedUse(
    reason="核验食品经营许可，办理食品经营许可变更", item_code="11371000004336447W4370220001000"
)


def put_license(sandbox: SandboxClient, payload: dict[str, Any]) -> None:
    response = sandbox.session.post(
        f"{sandbox.url}/_sandbox/licenses", json={"metadata": to_metadata(payload)}, timeout=5
    )
    response.raise_for_status()


class TestELicenseContract(AdapterContract):
    adapter = ELicenseLibrary
    sandbox = create_app
    examples = ("license.issued", "license.revoked")

    def settings(self, url: str) -> dict[str, Any]:
        return {"url": url, "client_id": DEFAULT_CLIENT_ID, "client_secret": DEFAULT_CLIENT_SECRET}

    def arrange(self, sandbox: SandboxClient, message: Envelope) -> None:
        if message.type == "license.revoked":  # a revocation needs its licence archived
            put_license(sandbox, example("license.issued"))


@pytest.fixture(scope="module")
def library() -> Iterator[RunningServer]:
    server = serve_in_thread(create_app(), "127.0.0.1", 0, threads=8)
    yield server
    server.stop()


@pytest.fixture
def controls(library: RunningServer) -> Iterator[SandboxClient]:
    client = SandboxClient(library.url)
    client.reset()
    yield client
    client.reset()
    client.close()


@pytest.fixture
def adapter(library: RunningServer, controls: SandboxClient) -> Iterator[ELicenseLibrary]:
    made = ELicenseLibrary(
        "e_license",
        {
            "url": library.url,
            "client_id": DEFAULT_CLIENT_ID,
            "client_secret": DEFAULT_CLIENT_SECRET,
        },
    )
    yield made
    made.close()


def message(message_type: str, payload: dict[str, Any] | None = None) -> Envelope:
    return Envelope(
        id=new_id(),
        type=message_type,
        source="test",
        payload=payload if payload is not None else example(message_type),
        created_at=utcnow(),
    )


def deliver(adapter: ELicenseLibrary, envelope: Envelope) -> Any:
    return adapter.deliver(envelope, Attempt(new_id(), "e_license", 1))


def audit(controls: SandboxClient) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = controls.session.get(
        f"{controls.url}/_sandbox/audit", timeout=5
    ).json()["entries"]
    return entries


# --------------------------------------------------------------------------- archive


def test_metadata_round_trips_to_the_canonical_payload() -> None:
    payload = example("license.issued")
    metadata = to_metadata(payload)
    assert metadata["ZZBS"] == LICENSE_ID
    assert metadata["CZZTDM"] == COMPANY
    assert metadata["WJ"]["SHA256"] == payload["file"]["sha256"]
    assert from_metadata(metadata) == payload


def test_archived_licence_is_fetched_back_with_its_file_hash(
    adapter: ELicenseLibrary, controls: SandboxClient
) -> None:
    receipt = deliver(adapter, message("license.issued"))
    assert receipt.status_code == 201
    assert receipt.data["license_id"] == LICENSE_ID
    assert receipt.data["duplicate"] is False
    found = adapter.fetch(LICENSE_ID, USE)
    assert found is not None
    assert found.status == "valid"
    assert found.payload == example("license.issued")


def test_archiving_the_same_licence_twice_keeps_one_record(
    adapter: ELicenseLibrary, controls: SandboxClient
) -> None:
    deliver(adapter, message("license.issued"))
    again = deliver(adapter, message("license.issued"))  # another message, same licence
    assert again.status_code == 200
    assert again.data["duplicate"] is True
    assert controls.effects() == [{"kind": "archive", "key": LICENSE_ID}]


def test_another_licence_under_an_archived_identifier_is_refused(
    adapter: ELicenseLibrary,
) -> None:
    deliver(adapter, message("license.issued"))
    changed = example("license.issued", number="JY99999999999999")
    with pytest.raises(RejectedError, match="LICENSE_EXISTS"):
        deliver(adapter, message("license.issued", changed))


def test_an_identifier_whose_check_character_is_wrong_is_never_sent(
    adapter: ELicenseLibrary, controls: SandboxClient
) -> None:
    controls.faults(down=True)
    payload = example("license.issued", license_id=LICENSE_ID[:-1] + "A")
    with pytest.raises(RejectedError, match="check character"):
        deliver(adapter, message("license.issued", payload))


@pytest.mark.parametrize(
    ("field", "value", "complaint"),
    [
        ("type_code", "11100000000013338W015", "type_code differs"),
        ("issuer", {"name": "威海市民政局", "code": "11100000000013338W"}, "issuer.code differs"),
    ],
)
def test_an_identifier_disagreeing_with_the_payload_is_refused(
    adapter: ELicenseLibrary, field: str, value: Any, complaint: str
) -> None:
    payload = example("license.issued", **{field: value})
    with pytest.raises(RejectedError, match=complaint):
        deliver(adapter, message("license.issued", payload))


def test_a_licence_without_a_file_hash_is_refused(adapter: ELicenseLibrary) -> None:
    payload = example("license.issued")
    del payload["file"]
    with pytest.raises(RejectedError, match=r"file\.sha256"):
        deliver(adapter, message("license.issued", payload))


def test_library_itself_refuses_a_mismatched_type_code(
    adapter: ELicenseLibrary, library: RunningServer
) -> None:
    adapter.check()
    metadata = to_metadata(example("license.issued"))
    metadata["ZZLXDM"] = "11100000000013338W015"
    response = requests.post(
        f"{library.url}/api/v1/licenses",
        json={"metadata": metadata},
        headers={"Authorization": f"Bearer {adapter._tokens.token()}"},
        timeout=5,
    )
    assert (response.status_code, response.json()["code"]) == (400, "TYPE_MISMATCH")


# --------------------------------------------------------------------------- revoke


def test_revocation_marks_the_archived_licence_revoked_once(
    adapter: ELicenseLibrary, controls: SandboxClient
) -> None:
    deliver(adapter, message("license.issued"))
    first = deliver(adapter, message("license.revoked"))
    again = deliver(adapter, message("license.revoked"))
    assert (first.data["duplicate"], again.data["duplicate"]) == (False, True)
    found = adapter.fetch(LICENSE_ID, USE)
    assert found is not None
    assert found.status == "revoked"
    assert found.revocation_reason == example("license.revoked")["reason"]
    assert [e["kind"] for e in controls.effects()] == ["archive", "revoke"]


def test_revoking_a_licence_the_library_does_not_hold_is_a_dead_letter(
    adapter: ELicenseLibrary,
) -> None:
    with pytest.raises(RejectedError, match="404") as raised:
        deliver(adapter, message("license.revoked"))
    assert raised.value.status_code == 404


# --------------------------------------------------------------------------- look-ups


def test_licences_are_found_by_holder_and_type_and_the_use_is_audited(
    adapter: ELicenseLibrary, controls: SandboxClient
) -> None:
    deliver(adapter, message("license.issued"))
    other_type = copy.deepcopy(example("license.issued"))
    other_type.update(
        license_id="1.2.156.3005.2.11100000000013338W015.11371000004336447W.3710022026000456.001.V",
        type_code="11100000000013338W015",
        name="小餐饮经营许可证",
    )
    deliver(adapter, message("license.issued", other_type))

    both = adapter.find(COMPANY, "001", USE)
    assert sorted(found.license_id for found in both) == sorted(
        [LICENSE_ID, other_type["license_id"]]
    )
    [one] = adapter.find(COMPANY, "001", USE, type_code=TYPE_CODE)
    assert one.license_id == LICENSE_ID
    assert adapter.find("91110108551385082Q", "001", USE) == []

    entries = audit(controls)
    assert [e["action"] for e in entries] == ["search", "search", "search"]
    assert entries[0]["reason"] == USE.reason
    assert entries[0]["item_code"] == USE.item_code
    assert COMPANY not in entries[0]["subject"]  # the library masks whom it looked up


def test_a_persons_licences_are_looked_up_by_resident_id(
    adapter: ELicenseLibrary, controls: SandboxClient
) -> None:
    person = example(
        "license.issued",
        holder={"name": "王秀英", "code": "371002199001012029", "code_type": "111"},
    )
    deliver(adapter, message("license.issued", person))
    [found] = adapter.find("371002199001012029", "111", USE)
    assert found.payload["holder"]["name"] == "王秀英"
    assert audit(controls)[0]["subject"] == "371002********2029"


def test_fetch_of_an_unknown_licence_is_none_and_still_audited(
    adapter: ELicenseLibrary, controls: SandboxClient
) -> None:
    assert adapter.fetch(LICENSE_ID, USE) is None
    assert [e["action"] for e in audit(controls)] == ["fetch"]


def test_a_use_without_reason_or_item_cannot_be_stated() -> None:
    with pytest.raises(ValueError, match="reason"):
        StatedUse(reason=" ", item_code="11371000004336447W4370220001000")
    with pytest.raises(ValueError, match="item_code"):
        StatedUse(reason="核验", item_code="")


def test_library_refuses_a_look_up_without_a_stated_use(
    adapter: ELicenseLibrary, library: RunningServer, controls: SandboxClient
) -> None:
    adapter.check()
    headers = {"Authorization": f"Bearer {adapter._tokens.token()}"}
    search = requests.post(
        f"{library.url}/api/v1/licenses/search",
        json={"CZZTDM": COMPANY, "CZZTDMLX": "001"},
        headers=headers,
        timeout=5,
    )
    fetch = requests.get(
        f"{library.url}/api/v1/licenses/{LICENSE_ID}",
        params={"reason": "核验"},
        headers=headers,
        timeout=5,
    )
    assert (search.status_code, search.json()["code"]) == (400, "AUDIT_REQUIRED")
    assert (fetch.status_code, fetch.json()["code"]) == (400, "AUDIT_REQUIRED")
    assert audit(controls) == []


def test_look_ups_with_malformed_codes_are_refused_without_asking(
    adapter: ELicenseLibrary, controls: SandboxClient
) -> None:
    controls.faults(down=True)
    with pytest.raises(IdentifierError):
        adapter.find("91371002MA3C00001A", "001", USE)
    with pytest.raises(IdentifierError):
        adapter.find(COMPANY, "111", USE)  # a credit code given as a resident ID
    with pytest.raises(IdentifierError):
        adapter.fetch(LICENSE_ID[:-1] + "A", USE)


def test_a_licence_held_for_a_flow_is_the_valid_one_of_its_type_and_audited(
    adapter: ELicenseLibrary, controls: SandboxClient
) -> None:
    holder = {"name": "威海海之味食品有限公司", "code": COMPANY, "code_type": "001"}
    use = {"reason": "工程建设项目模块化审批：材料共享", "item_code": "371000-GCJS-MKHSP"}
    assert adapter.licence_held(holder, TYPE_CODE, **use) is None
    deliver(adapter, message("license.issued"))
    assert adapter.licence_held(holder, TYPE_CODE, **use) == {
        "license_id": LICENSE_ID,
        "name": example("license.issued")["name"],
    }
    deliver(adapter, message("license.revoked"))
    assert adapter.licence_held(holder, TYPE_CODE, **use) is None  # a revoked one is not shared
    entries = audit(controls)
    assert {(e["reason"], e["item_code"]) for e in entries} == {(use["reason"], use["item_code"])}
