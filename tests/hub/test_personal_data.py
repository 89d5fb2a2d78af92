"""Personal data at rest: sealed field by field (SM4-GCM), found by a blind index.

The raw SQLite file and a ``pg_dump`` hold no resident ID, mobile number or name, and a
search by resident ID still finds the messages.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from sqlalchemy import make_url, select

from hub.core.clock import utcnow
from hub.keyring import protector_for
from hub.store.enrichments import Enrichment
from hub.store.protection import DataKeys, PayloadProtector, ProtectionError, generate_keys_text
from hub.store.tables import message_keys, messages
from tests.support import RunningHub, example, hub_config, running_hub

RESIDENT_ID = "11010519491231002X"
MOBILE = "13800138000"
NAME = "王秀英"


def _post_personal_messages(hub: RunningHub) -> list[str]:
    key = hub.client("dept", allow=("*",))
    case = example("case.submitted")
    case["applicant"] = {
        "type": "1",
        "name": NAME,
        "id_type": "111",
        "id_no": RESIDENT_ID.lower(),  # normalised, then sealed
        "mobile": MOBILE,
    }
    card = example("citizen_card.status_changed", holder_id_no="110105491231002")
    accepted = example("flow.module_accepted")
    # a resident applying in person: the project's applicant is given by a resident ID
    accepted["project"]["applicant"] = {"name": NAME, "code": RESIDENT_ID, "code_type": "111"}
    ids = []
    for kind, payload in (
        ("case.submitted", case),
        ("citizen_card.status_changed", card),
        ("flow.module_accepted", accepted),
    ):
        response = hub.post(key, {"type": kind, "payload": payload})
        assert response.status_code == 202, response.text
        ids.append(response.json()["id"])
    return ids


def _leaks(raw: bytes) -> list[str]:
    found = [text for text in (RESIDENT_ID, MOBILE, NAME) if text.encode() in raw]
    return found + (["15-digit id"] if b"110105491231002" in raw else [])


def test_personal_fields_are_sealed_at_rest_and_found_by_resident_id(
    tmp_path: Path, db_url: str
) -> None:
    config = hub_config(tmp_path, database={"url": db_url})
    with running_hub(config, dispatch=False) as hub:
        ids = _post_personal_messages(hub)
        # every way the number is written finds every message
        operator = hub.client("ops", role="operator")
        for written in (RESIDENT_ID, RESIDENT_ID.lower(), "110105491231002"):
            found = hub.get(operator, f"/api/v1/messages?key={written}")
            assert found.status_code == 200
            assert sorted(m["id"] for m in found.json()["items"]) == sorted(ids)
        # the store gives the clear payload to the hub itself (delivery, the owner's reads)
        stored = hub.message(ids[0])["payload"]["applicant"]
        assert (stored["id_no"], stored["mobile"], stored["name"]) == (RESIDENT_ID, MOBILE, NAME)
        # the project's timeline keeps its own copy of the payload: sealed too, opened for reads
        [event] = hub.hub.store.flows.timeline("WH-GC-2026-0001")
        assert event.payload["project"]["applicant"]["code"] == RESIDENT_ID
        # what submit once found for a case (its result) is sealed the same way
        found = {"applicant": {"name": NAME, "id_no": RESIDENT_ID, "mobile": MOBILE}}
        hub.hub.store.enrichments.save(
            Enrichment(
                case_no="WH-PD-1",
                message_id=ids[0],
                status="enriched",
                result=found,
                attempts=1,
                next_attempt_at=None,
                published_id=None,
                updated_at=utcnow(),
            ),
            [],
        )
        saved = hub.hub.store.enrichments.get("WH-PD-1")
        assert saved is not None
        assert saved.result == found
        with hub.hub.store.db.read() as connection:
            raw_payload = connection.execute(
                select(messages.c.payload).where(messages.c.id == ids[0])
            ).scalar_one()
            indexes = (
                connection.execute(
                    select(message_keys.c.value).where(message_keys.c.name == "resident_id")
                )
                .scalars()
                .all()
            )
        assert raw_payload["applicant"]["id_no"].startswith("enc:sm4gcm:")
        assert raw_payload["applicant"]["type"] == "1"  # only the personal fields are sealed
        assert len(indexes) == 3
        assert all(value.startswith("sm3:") for value in indexes)
    if db_url.startswith("sqlite"):
        path = Path(make_url(db_url).database or "")
        raw = b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))
    else:
        url = make_url(db_url).set(drivername="postgresql")
        dump = subprocess.run(
            ["pg_dump", "--no-owner", url.render_as_string(hide_password=False)],
            capture_output=True,
            check=True,
            timeout=60,
        )
        raw = dump.stdout
        assert b"CREATE TABLE public.messages" in raw
    assert raw
    assert _leaks(raw) == []


def test_a_changed_or_foreign_token_does_not_open() -> None:
    protector = PayloadProtector(DataKeys.parse(generate_keys_text(), "test"))
    token = protector.seal("id_no", RESIDENT_ID)
    assert protector.open("id_no", token) == RESIDENT_ID
    with pytest.raises(ProtectionError, match="changed or is damaged"):
        protector.open("mobile", token)  # moved to another field
    tampered = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    with pytest.raises(ProtectionError, match="changed or is damaged"):
        protector.open("id_no", tampered)
    other = PayloadProtector(DataKeys.parse(generate_keys_text(), "other"))
    with pytest.raises(ProtectionError, match="not among the keys"):
        other.open("id_no", token)


def test_rotation_a_new_key_seals_old_tokens_still_open_and_the_index_stays() -> None:
    old_text = generate_keys_text()
    old = PayloadProtector(DataKeys.parse(old_text, "old"))
    payload = {"applicant": {"name": NAME, "id_type": "111", "id_no": RESIDENT_ID}}
    sealed = old.protect(payload)
    index_line, old_sm4 = old_text.splitlines()
    new_sm4 = generate_keys_text().splitlines()[1]
    rotated = PayloadProtector(DataKeys.parse(f"{index_line}\n{new_sm4}\n{old_sm4}", "new"))
    assert rotated.reveal(sealed) == payload
    resealed = rotated.rekey(sealed)
    assert (
        resealed["applicant"]["id_no"].split(":")[2] != sealed["applicant"]["id_no"].split(":")[2]
    )
    assert rotated.reveal(resealed) == payload
    assert rotated.blind_index(RESIDENT_ID) == old.blind_index(RESIDENT_ID)


def test_the_key_file_is_made_once_readable_only_by_the_hub(tmp_path: Path) -> None:
    config = hub_config(tmp_path)
    first = protector_for(config, environ={})
    second = protector_for(config, environ={})
    assert first is not None
    assert second is not None
    key_file = tmp_path / "var" / "data.key"
    assert key_file.stat().st_mode & 0o077 == 0
    assert first.blind_index(RESIDENT_ID) == second.blind_index(RESIDENT_ID)


def test_the_api_masks_another_clients_personal_data_unless_an_operator_reveals_it(
    tmp_path: Path,
) -> None:
    with running_hub(hub_config(tmp_path), dispatch=False) as hub:
        [case_id, _card_id, _project_id] = _post_personal_messages(hub)
        operator = hub.client("ops", role="operator")
        masked = hub.get(operator, f"/api/v1/messages/{case_id}").json()["payload"]["applicant"]
        assert masked["id_no"] == "110105********002X"
        assert masked["mobile"] == "138****8000"
        assert masked["name"] == "王**"
        assert hub.hub.store.audit.last("message.reveal") is None
        shown = hub.get(operator, f"/api/v1/messages/{case_id}?reveal=true").json()
        assert shown["payload"]["applicant"]["id_no"] == RESIDENT_ID
        record = hub.hub.store.audit.last("message.reveal")
        assert record is not None
        assert (record.actor, record.target) == ("ops", case_id)
        assert hub.get(operator, f"/api/v1/messages/{case_id}?reveal=yes").status_code == 400


def test_govhub_data_rekey_seals_stored_payloads_under_a_new_first_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from click.testing import CliRunner

    from faces.cli import main

    config_file = tmp_path / "govhub.toml"
    config_file.write_text(
        f'[database]\nurl = "sqlite:///{tmp_path / "govhub.db"}"\n[sandbox]\nenabled = false\n',
        encoding="utf-8",
    )
    old_text = generate_keys_text()
    monkeypatch.setenv("GOVHUB_DATA_KEYS", old_text)
    config = hub_config(tmp_path, database={"url": f"sqlite:///{tmp_path / 'govhub.db'}"})
    with running_hub(config, dispatch=False) as hub:
        [case_id, _card, _project] = _post_personal_messages(hub)
    index_line, old_sm4 = old_text.splitlines()
    new_sm4 = generate_keys_text().splitlines()[1]
    monkeypatch.setenv("GOVHUB_DATA_KEYS", f"{index_line};{new_sm4};{old_sm4}")
    result = CliRunner().invoke(main, ["--config", str(config_file), "data", "rekey"])
    assert result.exit_code == 0, result.output
    assert "sealed 4 stored payloads" in result.output  # three messages, one timeline copy
    monkeypatch.setenv("GOVHUB_DATA_KEYS", f"{index_line};{new_sm4}")  # the old key is gone
    with running_hub(config, dispatch=False) as hub:
        assert hub.message(case_id)["payload"]["applicant"]["id_no"] == RESIDENT_ID
        found = hub.get(hub.client("ops", role="operator"), f"/api/v1/messages?key={RESIDENT_ID}")
        assert len(found.json()["items"]) == 3


def test_soap_query_masks_another_clients_personal_data(tmp_path: Path) -> None:
    from faces.soap.xsdgen import NS
    from tests.faces.soap.support import envelope, post

    with running_hub(hub_config(tmp_path), dispatch=False) as hub:
        [case_id, _card, _project] = _post_personal_messages(hub)
        query = f'<QueryMessage xmlns="{NS}"><message_id>{case_id}</message_id></QueryMessage>'
        operator = hub.client("ops", role="operator")
        answer = post(hub, envelope(query, version="1.2"), key=operator, version="1.2")
        assert answer.status_code == 200, answer.text
        assert "110105********002X" in answer.text
        assert RESIDENT_ID not in answer.text
        assert MOBILE not in answer.text
        stranger = hub.client("dept2", allow=("*",))
        own = post(hub, envelope(query, version="1.2"), key=stranger, version="1.2")
        assert own.status_code == 500  # not the caller's message
