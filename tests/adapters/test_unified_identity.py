"""The unified identity adapter against its sandbox: contract, logins, look-ups, audit."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from adapters.sdk import RejectedError
from adapters.sdk.lookups import IdentityDirectory, StatedUse
from adapters.sdk.testing import AdapterContract, SandboxClient
from adapters.unified_identity.adapter import UnifiedIdentity
from adapters.unified_identity.sandbox import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, create_app
from faces.serving import RunningServer, serve_in_thread
from hub.core.identifiers import IdentifierError

WANG = "11010519491231002X"
COMPANY = "91371002MA3C00001M"
NOBODY = "371002199001012029"  # valid, but not registered here
REDIRECT = "http://127.0.0.1:8700/login/callback"
USE = StatedUse(
    reason="核验申请人身份，办理老年人优待证", item_code="11371000004336447K4370220001000"
)


class TestUnifiedIdentityContract(AdapterContract):
    adapter = UnifiedIdentity
    sandbox = create_app

    def settings(self, url: str) -> dict[str, Any]:
        return {"url": url, "client_id": DEFAULT_CLIENT_ID, "client_secret": DEFAULT_CLIENT_SECRET}


@pytest.fixture(scope="module")
def service() -> Iterator[RunningServer]:
    server = serve_in_thread(create_app(), "127.0.0.1", 0, threads=8)
    yield server
    server.stop()


@pytest.fixture
def controls(service: RunningServer) -> Iterator[SandboxClient]:
    client = SandboxClient(service.url)
    client.reset()
    yield client
    client.reset()
    client.close()


@pytest.fixture
def identity(service: RunningServer, controls: SandboxClient) -> Iterator[UnifiedIdentity]:
    adapter = UnifiedIdentity(
        "unified_identity",
        {
            "url": service.url,
            "client_id": DEFAULT_CLIENT_ID,
            "client_secret": DEFAULT_CLIENT_SECRET,
            "redirect_uri": REDIRECT,
        },
    )
    yield adapter
    adapter.close()


def login(controls: SandboxClient, cert_no: str) -> str:
    response = controls.session.post(
        f"{controls.url}/_sandbox/login",
        json={"cert_no": cert_no, "redirect_uri": REDIRECT},
        timeout=5,
    )
    response.raise_for_status()
    code: str = response.json()["code"]
    return code


def audit(controls: SandboxClient) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = controls.session.get(
        f"{controls.url}/_sandbox/audit", timeout=5
    ).json()["entries"]
    return entries


def test_a_login_code_is_exchanged_and_resolved_to_the_verified_person(
    identity: UnifiedIdentity, controls: SandboxClient
) -> None:
    token = identity.exchange(login(controls, WANG))
    assert token.expires_in > 0
    assert token.access_token not in repr(token)
    who = identity.resolve(token)
    assert (who.code, who.code_type, who.name, who.kind) == (WANG, "111", "王秀英", "person")
    assert who.level_of_assurance == 3


def test_a_company_login_resolves_to_a_legal_person_with_its_representative(
    identity: UnifiedIdentity, controls: SandboxClient
) -> None:
    who = identity.resolve(identity.exchange(login(controls, COMPANY)))
    assert who.kind == "legal_person"
    assert who.code_type == "001"
    assert who.legal_representative == "刘建国"


def test_an_authorization_code_is_used_once(
    identity: UnifiedIdentity, controls: SandboxClient
) -> None:
    code = login(controls, WANG)
    identity.exchange(code)
    with pytest.raises(RejectedError, match="log in again"):
        identity.exchange(code)


def test_a_token_the_service_did_not_issue_is_refused_not_a_configuration_error(
    identity: UnifiedIdentity,
) -> None:
    with pytest.raises(RejectedError, match="does not know this login token"):
        identity.resolve("not-a-token")


def test_look_up_by_identifier_states_its_use_and_is_audited(
    identity: UnifiedIdentity, controls: SandboxClient
) -> None:
    found = identity.look_up(COMPANY, "001", USE)
    assert found is not None
    assert found.name == "威海海鲜食品有限公司"
    assert identity.look_up(NOBODY, "111", USE) is None
    entries = audit(controls)
    assert [e["reason"] for e in entries] == [USE.reason, USE.reason]
    assert all(e["item_code"] == USE.item_code for e in entries)
    assert NOBODY not in str(entries), "the audit masks identifiers"


def test_a_bad_identifier_is_never_sent(identity: UnifiedIdentity, controls: SandboxClient) -> None:
    with pytest.raises(IdentifierError):
        identity.look_up(WANG[:-1] + "1", "111", USE)
    assert audit(controls) == []


def test_the_adapter_is_an_identity_directory(identity: UnifiedIdentity) -> None:
    assert isinstance(identity, IdentityDirectory)
