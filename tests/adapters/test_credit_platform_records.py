"""Canonical disclosures map onto the credit platform's XK_* / CF_* fields."""

from __future__ import annotations

import pytest

from adapters.credit_platform.records import (
    fen_to_wan_yuan,
    kind_of,
    to_cf_record,
    to_record,
    to_xk_record,
)
from tests.support import example

PERSON_ID = "371002198506123010"


def test_license_disclosure_maps_every_field_to_its_xk_code() -> None:
    assert to_xk_record(example("credit.license_disclosed")) == {
        "XK_XDR_MC": "威海海之味食品有限公司",
        "XK_XDR_LB": "法人及非法人组织",
        "XK_XDR_SHXYM": "91371002MA3C00001M",
        "XK_FRDB": "张海涛",
        "XK_FR_ZJLX": "身份证",
        "XK_FR_ZJHM": PERSON_ID,
        "XK_XKWS": "食品经营许可决定书",
        "XK_WSH": "威市监许字〔2026〕第0123号",
        "XK_XKLB": "普通",
        "XK_XKZS": "食品经营许可证",
        "XK_XKBH": "JY13710020012345",
        "XK_NR": "预包装食品销售（含冷藏冷冻食品），散装食品销售（不含冷藏冷冻食品）",
        "XK_JDRQ": "2026-11-20",
        "XK_YXQZ": "2026-11-20",
        "XK_YXQJZ": "2031-11-19",
        "XK_XKJG": "威海市市场监督管理局",
        "XK_XKJGDM": "11371000004336447W",
        "XK_ZT": "0",
        "XK_LYDW": "威海市市场监督管理局",
        "XK_LYDWDM": "11371000004336447W",
    }


def test_penalty_disclosure_maps_every_field_to_its_cf_code() -> None:
    assert to_cf_record(example("credit.penalty_disclosed")) == {
        "CF_XDR_MC": "威海海之味食品有限公司",
        "CF_XDR_LB": "法人及非法人组织",
        "CF_XDR_SHXYM": "91371002MA3C00001M",
        "CF_FRDB": "张海涛",
        "CF_WSH": "威市监罚〔2026〕第0456号",
        "CF_WFXW": "经营超过保质期的食品",
        "CF_SY": "2026年10月15日，执法人员检查发现当事人经营超过保质期的预包装食品12件。",
        "CF_YJ": "《中华人民共和国食品安全法》第一百二十四条第一款第（五）项",
        "CF_CFLB": "警告;罚款",
        "CF_NR": "警告，罚款人民币伍仟元整",
        "CF_NR_FK": "0.500000",
        "CF_JDRQ": "2026-11-18",
        "CF_GSJZQ": "2029-11-18",
        "CF_CFJG": "威海市市场监督管理局",
        "CF_CFJGDM": "11371000004336447W",
        "CF_ZT": "0",
        "CF_SJLY": "威海市市场监督管理局",
        "CF_SJLYDM": "11371000004336447W",
    }


def test_natural_person_goes_out_with_certificate_type_and_number_not_a_credit_code() -> None:
    payload = example(
        "credit.penalty_disclosed",
        counterpart={"name": "李娜", "category": "2", "id_no": PERSON_ID},
    )
    del payload["legal_rep"]
    record = to_cf_record(payload)
    assert record["CF_XDR_LB"] == "自然人"
    assert record["CF_XDR_ZJLX"] == "身份证"
    assert record["CF_XDR_ZJHM"] == PERSON_ID
    assert "CF_XDR_SHXYM" not in record
    assert "CF_FRDB" not in record


def test_individual_business_is_labelled_and_keeps_its_credit_code() -> None:
    payload = example(
        "credit.license_disclosed",
        counterpart={"name": "环翠区老王烧烤店", "category": "3", "uscc": "92371002MA3C00002M"},
    )
    record = to_xk_record(payload)
    assert record["XK_XDR_LB"] == "个体工商户"
    assert record["XK_XDR_SHXYM"] == "92371002MA3C00002M"


def test_optional_fields_absent_are_left_out_and_defaults_apply() -> None:
    payload = example("credit.license_disclosed")
    for optional in ("document_name", "category", "legal_rep", "license_name", "license_number"):
        del payload[optional]
    del payload["status"]
    record = to_xk_record(payload)
    assert record["XK_XKWS"] == "行政许可决定书"
    assert record["XK_ZT"] == "0"
    for code in ("XK_XKLB", "XK_XKZS", "XK_XKBH", "XK_FRDB", "XK_FR_ZJLX", "XK_FR_ZJHM", "BZ"):
        assert code not in record


def test_long_term_validity_goes_out_as_the_platform_far_date() -> None:
    record = to_xk_record(example("credit.license_disclosed", valid_until="长期"))
    assert record["XK_YXQJZ"] == "2099-12-31"


def test_revoked_status_and_remarks_are_carried() -> None:
    record = to_xk_record(example("credit.license_disclosed", status="1", remarks="已注销"))
    assert record["XK_ZT"] == "1"
    assert record["BZ"] == "已注销"


@pytest.mark.parametrize(
    ("fen", "wan_yuan"),
    [(0, "0.000000"), (1, "0.000001"), (500000, "0.500000"), (123456789, "123.456789")],
)
def test_amounts_go_from_integer_fen_to_wan_yuan_exactly(fen: int, wan_yuan: str) -> None:
    assert fen_to_wan_yuan(fen) == wan_yuan


def test_confiscation_suspension_and_validity_of_a_penalty_are_mapped() -> None:
    payload = example(
        "credit.penalty_disclosed",
        category=["3", "4", "6"],
        confiscated_fen=250000000,
        suspended_licenses="食品经营许可证 JY13710020012345",
        valid_until="2027-11-18",
    )
    record = to_cf_record(payload)
    assert record["CF_CFLB"] == "罚款;没收违法所得;暂扣许可证件"
    assert record["CF_NR_WFFF"] == "250.000000"
    assert record["CF_NR_ZKDX"] == "食品经营许可证 JY13710020012345"
    assert record["CF_YXQ"] == "2027-11-18"


def test_every_value_is_a_string() -> None:
    for message_type in ("credit.license_disclosed", "credit.penalty_disclosed"):
        record = to_record(message_type, example(message_type))
        assert all(isinstance(value, str) for value in record.values())


def test_kind_follows_the_message_type() -> None:
    assert kind_of("credit.license_disclosed") == "XK"
    assert kind_of("credit.penalty_disclosed") == "CF"
    with pytest.raises(ValueError, match="not a credit disclosure"):
        kind_of("case.submitted")
