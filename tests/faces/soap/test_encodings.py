"""Legacy encodings: UTF-8, UTF-16, GBK, GB2312 and GB18030 requests store the same text."""

from __future__ import annotations

import pytest

from hub.store import MessageFilter
from tests.faces.soap.support import envelope, fault_code, post, submit_case
from tests.support import RunningHub

NAME = "王秀英"
ITEM = "老年人优待证办理"
# 䶮 (U+4DAE, CJK Extension A) exists in GB18030 only, not in GBK or GB2312.
RARE_NAME = "刘䶮"


def document(ref: str, encoding: str | None, name: str = NAME) -> str:
    prolog = f'<?xml version="1.0" encoding="{encoding}"?>' if encoding else ""
    return envelope(submit_case(ref, name=name, item_name=ITEM), prolog=prolog)


@pytest.mark.parametrize(
    ("codec", "declared", "content_type"),
    [
        ("utf-8", "UTF-8", "text/xml; charset=utf-8"),
        ("utf-8", None, "text/xml"),
        ("utf-16", "UTF-16", "text/xml"),  # with a byte-order mark
        ("utf-16-le", "UTF-16", "text/xml"),  # without one: sniffed from '<?'
        ("utf-16-be", None, "text/xml; charset=utf-16"),
        ("gbk", "GBK", "text/xml"),
        ("gbk", None, "text/xml; charset=GBK"),
        ("gb2312", "GB2312", "text/xml"),
        ("gb2312", "GB2312", "text/xml; charset=gb2312"),
        ("gb18030", "GB18030", "text/xml"),
        ("gb18030", "UTF-8", "text/xml; charset=GB18030"),  # the Content-Type wins
    ],
)
def test_request_in_legacy_encoding_is_stored_as_the_same_text(
    soap_hub: RunningHub,
    client_name: str,
    codec: str,
    declared: str | None,
    content_type: str,
) -> None:
    key = soap_hub.client(client_name)
    body = document(f"enc-{client_name}", declared).encode(codec)
    response = post(soap_hub, body, key=key, content_type=content_type)
    assert response.status_code == 200, response.text
    [stored] = soap_hub.hub.store.messages.search(MessageFilter(source=client_name)).items
    payload = soap_hub.message(stored.envelope.id)["payload"]
    assert payload["applicant"]["name"] == NAME
    assert payload["item_name"] == ITEM


def test_gbk_request_over_soap_12_with_chinese_names(
    soap_hub: RunningHub, client_name: str
) -> None:
    key = soap_hub.client(client_name)
    text = envelope(
        submit_case("gbk-12", name="张伟", item_name="城乡居民基本医疗保险参保登记"),
        version="1.2",
        prolog='<?xml version="1.0" encoding="GBK"?>',
    )
    response = post(
        soap_hub, text.encode("gbk"), key=key, version="1.2", content_type="application/soap+xml"
    )
    assert response.status_code == 200, response.text
    [stored] = soap_hub.hub.store.messages.search(MessageFilter(source=client_name)).items
    payload = soap_hub.message(stored.envelope.id)["payload"]
    assert payload["applicant"]["name"] == "张伟"
    assert payload["item_name"] == "城乡居民基本医疗保险参保登记"


def test_gb18030_only_character_survives(soap_hub: RunningHub, client_name: str) -> None:
    key = soap_hub.client(client_name)
    body = document("rare", "GB18030", name=RARE_NAME).encode("gb18030")
    assert post(soap_hub, body, key=key, content_type="text/xml").status_code == 200
    [stored] = soap_hub.hub.store.messages.search(MessageFilter(source=client_name)).items
    assert soap_hub.message(stored.envelope.id)["payload"]["applicant"]["name"] == RARE_NAME


def test_bytes_that_do_not_fit_the_declared_encoding_are_refused(
    soap_hub: RunningHub, client_name: str
) -> None:
    key = soap_hub.client(client_name)
    body = document("wrong", "UTF-8").encode("gbk")  # declared UTF-8, sent as GBK
    response = post(soap_hub, body, key=key, content_type="text/xml")
    assert response.status_code == 500
    code, text = fault_code(response)
    assert code == "soap:Client"
    assert "not valid utf-8" in text
    assert soap_hub.hub.store.messages.search(MessageFilter(source=client_name)).items == []
