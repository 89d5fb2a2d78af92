"""Canonical disclosures → the credit platform's ``XK_*`` / ``CF_*`` record fields.

The platform's field codes follow the national 双公示 data standard: ``XK_*`` for
administrative licensing (行政许可), ``CF_*`` for administrative penalties (行政处罚).
Every value is sent as a string; code lists go out as the platform's Chinese labels;
amounts go from integer fen to 万元 with six decimals, exactly (1 万元 = 1,000,000 分).
This module is the one place that knows the mapping.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any, Literal

__all__ = [
    "COUNTERPART_CATEGORIES",
    "FEN_PER_WAN_YUAN",
    "LICENSE_CATEGORIES",
    "LONG_TERM_UNTIL",
    "PENALTY_CATEGORIES",
    "RecordKind",
    "fen_to_wan_yuan",
    "kind_of",
    "to_cf_record",
    "to_record",
    "to_xk_record",
]

RecordKind = Literal["XK", "CF"]

#: 行政相对人类别 by the canonical ``counterpart.category`` code.
COUNTERPART_CATEGORIES = {"1": "法人及非法人组织", "2": "自然人", "3": "个体工商户"}
#: 许可类别 by the canonical ``category`` code of a licence disclosure.
LICENSE_CATEGORIES = {"1": "普通", "2": "特许", "3": "认可", "4": "核准", "5": "登记", "9": "其他"}
#: 处罚类别 by the canonical ``category`` codes of a penalty disclosure.
PENALTY_CATEGORIES = {
    "1": "警告",
    "2": "通报批评",
    "3": "罚款",
    "4": "没收违法所得",
    "5": "没收非法财物",
    "6": "暂扣许可证件",
    "7": "降低资质等级",
    "8": "吊销许可证件",
    "9": "限制开展生产经营活动",
    "10": "责令停产停业",
    "11": "责令关闭",
    "12": "限制从业",
    "13": "行政拘留",
    "99": "其他",
}
#: 证件类型 labels by the canonical ``id_type`` code.
ID_TYPES = {"111": "身份证", "001": "统一社会信用代码"}
#: What the platform takes for "no end" (长期) in an end-of-validity field.
LONG_TERM_UNTIL = "2099-12-31"
#: 1 万元 is 10,000 yuan, 1,000,000 fen.
FEN_PER_WAN_YUAN = 1_000_000
DEFAULT_DOCUMENT_NAME = "行政许可决定书"

_KINDS: dict[str, RecordKind] = {
    "credit.license_disclosed": "XK",
    "credit.penalty_disclosed": "CF",
}


def kind_of(message_type: str) -> RecordKind:
    """``XK`` for a licence disclosure, ``CF`` for a penalty disclosure.

    Raises:
        ValueError: The type is not a credit disclosure.
    """
    try:
        return _KINDS[message_type]
    except KeyError:
        raise ValueError(f"{message_type} is not a credit disclosure") from None


def to_record(message_type: str, payload: Mapping[str, Any]) -> dict[str, str]:
    """The platform record for a canonical disclosure of either kind.

    Raises:
        ValueError: The type is not a credit disclosure.
    """
    if kind_of(message_type) == "XK":
        return to_xk_record(payload)
    return to_cf_record(payload)


def to_xk_record(payload: Mapping[str, Any]) -> dict[str, str]:
    """A ``credit.license_disclosed`` payload as an ``XK_*`` record."""
    record = _counterpart("XK", payload)
    record.update(
        {
            "XK_XKWS": payload.get("document_name", DEFAULT_DOCUMENT_NAME),
            "XK_WSH": payload["decision_no"],
            "XK_NR": payload["content"],
            "XK_JDRQ": payload["decided_on"],
            "XK_YXQZ": payload["valid_from"],
            "XK_YXQJZ": _until(payload["valid_until"]),
            "XK_XKJG": payload["authority"]["name"],
            "XK_XKJGDM": payload["authority"]["uscc"],
            "XK_ZT": payload.get("status", "0"),
            "XK_LYDW": payload["data_source"]["name"],
            "XK_LYDWDM": payload["data_source"]["uscc"],
        }
    )
    _put(record, "XK_XKLB", LICENSE_CATEGORIES.get(payload.get("category", "")))
    _put(record, "XK_XKZS", payload.get("license_name"))
    _put(record, "XK_XKBH", payload.get("license_number"))
    _put(record, "BZ", payload.get("remarks"))
    return record


def to_cf_record(payload: Mapping[str, Any]) -> dict[str, str]:
    """A ``credit.penalty_disclosed`` payload as a ``CF_*`` record."""
    record = _counterpart("CF", payload)
    record.update(
        {
            "CF_WSH": payload["decision_no"],
            "CF_WFXW": payload["violation"],
            "CF_SY": payload["facts"],
            "CF_YJ": payload["basis"],
            "CF_CFLB": ";".join(PENALTY_CATEGORIES[code] for code in payload["category"]),
            "CF_NR": payload["content"],
            "CF_JDRQ": payload["decided_on"],
            "CF_GSJZQ": payload["publish_until"],
            "CF_CFJG": payload["authority"]["name"],
            "CF_CFJGDM": payload["authority"]["uscc"],
            "CF_ZT": payload.get("status", "0"),
            "CF_SJLY": payload["data_source"]["name"],
            "CF_SJLYDM": payload["data_source"]["uscc"],
        }
    )
    if "fine_fen" in payload:
        record["CF_NR_FK"] = fen_to_wan_yuan(payload["fine_fen"])
    if "confiscated_fen" in payload:
        record["CF_NR_WFFF"] = fen_to_wan_yuan(payload["confiscated_fen"])
    _put(record, "CF_NR_ZKDX", payload.get("suspended_licenses"))
    _put(record, "CF_YXQ", payload.get("valid_until"))
    _put(record, "BZ", payload.get("remarks"))
    return record


def fen_to_wan_yuan(fen: int) -> str:
    """Integer fen as 万元 with six decimals, exactly: ``500000`` → ``"0.500000"``."""
    return f"{Decimal(fen) / FEN_PER_WAN_YUAN:.6f}"


def _counterpart(prefix: RecordKind, payload: Mapping[str, Any]) -> dict[str, str]:
    counterpart = payload["counterpart"]
    record = {
        f"{prefix}_XDR_MC": counterpart["name"],
        f"{prefix}_XDR_LB": COUNTERPART_CATEGORIES[counterpart["category"]],
    }
    if "uscc" in counterpart:
        record[f"{prefix}_XDR_SHXYM"] = counterpart["uscc"]
    if "id_no" in counterpart:
        record[f"{prefix}_XDR_ZJLX"] = ID_TYPES["111"]
        record[f"{prefix}_XDR_ZJHM"] = counterpart["id_no"]
    legal_rep = payload.get("legal_rep")
    if legal_rep:
        record[f"{prefix}_FRDB"] = legal_rep["name"]
        if "id_no" in legal_rep:
            record[f"{prefix}_FR_ZJLX"] = ID_TYPES[legal_rep["id_type"]]
            record[f"{prefix}_FR_ZJHM"] = legal_rep["id_no"]
    return record


def _until(value: str) -> str:
    return LONG_TERM_UNTIL if value == "长期" else value


def _put(record: dict[str, str], key: str, value: str | None) -> None:
    if value:
        record[key] = value
