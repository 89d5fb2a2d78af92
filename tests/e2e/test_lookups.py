"""Departments look licences and identities up through the hub, over REST and SOAP.

Real sandboxes (e-license library, unified identity) on 127.0.0.1; zeep as the SOAP
client. Each look-up needs the client's grant, reaches the counterpart with its reason,
is audited, and is answered masked by role.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from zeep import Client
from zeep.exceptions import Fault
from zeep.wsse.username import UsernameToken

from adapters.e_license.metadata import to_metadata
from adapters.e_license.sandbox import DEFAULT_CLIENT_ID as LIBRARY_ID
from adapters.e_license.sandbox import DEFAULT_CLIENT_SECRET as LIBRARY_SECRET
from adapters.e_license.sandbox import create_app as library_app
from adapters.unified_identity.sandbox import DEFAULT_CLIENT_ID as IDENTITY_ID
from adapters.unified_identity.sandbox import DEFAULT_CLIENT_SECRET as IDENTITY_SECRET
from adapters.unified_identity.sandbox import create_app as identity_app
from faces.serving import RunningServer, serve_in_thread
from tests.support import RunningHub, example, hub_config, running_hub

COMPANY = "91371002MA3C00001M"
ITEM = "11371000004336447W4370220001000"
USE = {"reason": "核验食品经营许可，办理变更", "item_code": ITEM}
GRANTS = ("case.*", "lookup:licenses", "lookup:identities")


@pytest.fixture(scope="module")
def sandboxes() -> Iterator[tuple[RunningServer, RunningServer]]:
    library = serve_in_thread(library_app(), "127.0.0.1", 0, threads=8)
    identity = serve_in_thread(identity_app(), "127.0.0.1", 0, threads=8)
    yield library, identity
    library.stop()
    identity.stop()


@pytest.fixture
def hub(tmp_path: Path, sandboxes: tuple[RunningServer, RunningServer]) -> Iterator[RunningHub]:
    library, identity = sandboxes
    for server in sandboxes:
        requests.post(f"{server.url}/_sandbox/reset", json={}, timeout=5).raise_for_status()
    requests.post(
        f"{library.url}/_sandbox/licenses",
        json={"metadata": to_metadata(example("license.issued"))},
        timeout=5,
    ).raise_for_status()
    config = hub_config(
        tmp_path,
        destinations=[
            {
                "name": "e_license",
                "adapter": "e_license",
                "url": library.url,
                "client_id": LIBRARY_ID,
                "client_secret": LIBRARY_SECRET,
            },
            {
                "name": "unified_identity",
                "adapter": "unified_identity",
                "url": identity.url,
                "client_id": IDENTITY_ID,
                "client_secret": IDENTITY_SECRET,
            },
        ],
    )
    with running_hub(config, dispatch=False) as running:
        yield running


def library_audit(sandboxes: tuple[RunningServer, RunningServer]) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = requests.get(
        f"{sandboxes[0].url}/_sandbox/audit", timeout=5
    ).json()["entries"]
    return entries


def test_a_department_finds_a_holders_licences_over_rest_and_it_is_audited(
    hub: RunningHub, sandboxes: tuple[RunningServer, RunningServer]
) -> None:
    key = hub.client("market", allow=GRANTS)
    response = hub.get(key, "/api/v1/licenses", params={"holder": COMPANY, **USE})
    assert response.status_code == 200, response.text
    [found] = response.json()["items"]
    assert found["license_id"] == example("license.issued")["license_id"]
    assert found["status"] == "valid"
    assert found["holder"]["code"] == COMPANY  # a department sees what the library holds
    assert found["surface"]
    assert [e["reason"] for e in library_audit(sandboxes)] == [USE["reason"]]
    [record] = [r for r in hub.hub.store.audit.trail() if r["action"] == "license.lookup"]
    assert record["actor"] == "market"
    assert record["detail"] == {
        "holder": "913710**********1M",
        "code_type": "001",
        "reason": USE["reason"],
        "item_code": ITEM,
        "channel": "rest",
        "found": 1,
    }


def test_an_operator_sees_holder_codes_masked_and_no_surface(hub: RunningHub) -> None:
    key = hub.client("ops-tool", allow=("lookup:*",), role="operator")
    response = hub.get(key, "/api/v1/licenses", params={"holder": COMPANY, **USE})
    [found] = response.json()["items"]
    assert found["holder"]["code"] == "913710**********1M"
    assert "surface" not in found
    identity = hub.get(key, "/api/v1/identities", params={"code": COMPANY, **USE}).json()
    assert identity["code"] == "913710**********1M"
    assert identity["kind"] == "legal_person"


def test_a_client_without_the_grant_gets_403_and_the_refusal_is_audited(
    hub: RunningHub, sandboxes: tuple[RunningServer, RunningServer]
) -> None:
    key = hub.client("everything", allow=("*",))  # every message type, yet no look-up
    for path, params in (
        ("/api/v1/licenses", {"holder": COMPANY, **USE}),
        ("/api/v1/identities", {"code": COMPANY, **USE}),
    ):
        response = hub.get(key, path, params=params)
        assert response.status_code == 403, response.text
        assert response.headers["Content-Type"] == "application/problem+json"
    assert library_audit(sandboxes) == []
    refused = [r for r in hub.hub.store.audit.trail() if r["actor"] == "everything"]
    assert {r["action"] for r in refused} == {"license.lookup", "identity.lookup"}
    assert all(r["detail"]["refused"] == "no lookup permission" for r in refused)


def test_a_look_up_without_a_reason_or_with_a_bad_code_is_refused_by_name(
    hub: RunningHub,
) -> None:
    key = hub.client("market", allow=GRANTS)
    missing = hub.get(key, "/api/v1/licenses", params={"holder": COMPANY, "item_code": ITEM})
    assert missing.status_code == 400
    assert missing.json()["errors"] == [{"path": "reason", "message": "is required"}]
    bad = hub.get(key, "/api/v1/identities", params={"code": COMPANY[:-1] + "A", **USE})
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["path"] == "code"


def test_the_identity_service_down_is_503(
    hub: RunningHub, sandboxes: tuple[RunningServer, RunningServer]
) -> None:
    key = hub.client("market", allow=GRANTS)
    requests.post(f"{sandboxes[1].url}/_sandbox/faults", json={"down": True}, timeout=5)
    try:
        response = hub.get(key, "/api/v1/identities", params={"code": COMPANY, **USE})
    finally:
        requests.post(f"{sandboxes[1].url}/_sandbox/faults", json={}, timeout=5)
    assert response.status_code == 503
    [record] = [r for r in hub.hub.store.audit.trail() if r["action"] == "identity.lookup"]
    assert "503" in record["detail"]["error"]


def test_zeep_looks_licences_and_identities_up_over_soap(
    hub: RunningHub, sandboxes: tuple[RunningServer, RunningServer]
) -> None:
    key = hub.client("market", allow=GRANTS)
    client = Client(f"{hub.url}/soap/GovHubService?wsdl", wsse=UsernameToken("market", key))
    try:
        soap = client.bind("GovHubService", "GovHubServiceSoap")
        answer = soap.LookUpLicenses(holder=COMPANY, reason=USE["reason"], item_code=ITEM)
        [licence] = answer
        assert licence.license_id == example("license.issued")["license_id"]
        assert licence.holder_code == COMPANY
        who = soap.LookUpIdentity(code=COMPANY, reason=USE["reason"], item_code=ITEM)
        assert who.found is True
        assert who.name == "威海海鲜食品有限公司"
        assert who.level_of_assurance == 3

        other = hub.client("no-grant", allow=("case.*",))
        refused = Client(
            f"{hub.url}/soap/GovHubService?wsdl", wsse=UsernameToken("no-grant", other)
        )
        try:
            with pytest.raises(Fault, match="may not look up licenses"):
                refused.bind("GovHubService", "GovHubServiceSoap").LookUpLicenses(
                    holder=COMPANY, reason=USE["reason"], item_code=ITEM
                )
        finally:
            refused.transport.session.close()
    finally:
        client.transport.session.close()
    soap_records = [
        r
        for r in hub.hub.store.audit.trail()
        if r["action"].endswith(".lookup") and r["detail"]["channel"] == "soap"
    ]
    assert len(soap_records) == 3
    assert len(library_audit(sandboxes)) == 1
