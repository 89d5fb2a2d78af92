"""Canonical ``license.issued`` payloads ↔ the library's licence metadata (证照元数据).

The library names its metadata items by the pinyin initials of the e-license standards'
terms (GB/T 36901/36904): ``ZZBS`` 证照标识, ``ZZMC`` 证照名称, ``CZZTDM`` 持证主体代码 …
This module is the one place that knows the names, both ways.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["FIELDS", "FILE_FIELDS", "from_metadata", "to_metadata"]

#: Metadata item → dotted path in the canonical payload.
FIELDS = {
    "ZZBS": "license_id",
    "ZZMC": "name",
    "ZZLXDM": "type_code",
    "ZZBH": "number",
    "FZJG": "issuer.name",
    "FZJGDM": "issuer.code",
    "FZRQ": "issued_on",
    "CZZT": "holder.name",
    "CZZTDM": "holder.code",
    "CZZTDMLX": "holder.code_type",
    "YXQQSRQ": "valid_from",
    "YXQJZRQ": "valid_until",
    "XZQHDM": "area_code",
    "BJBH": "case_no",
    "ZMXX": "surface",
}
#: File item (under ``WJ``) → key of the canonical ``file``.
FILE_FIELDS = {"MTLX": "media_type", "SHA256": "sha256", "DZ": "url", "DX": "size_bytes"}


def to_metadata(payload: Mapping[str, Any]) -> dict[str, Any]:
    """The library's metadata for a ``license.issued`` payload (absent items left out)."""
    metadata: dict[str, Any] = {}
    for item, path in FIELDS.items():
        value = _get(payload, path)
        if value is not None:
            metadata[item] = value
    file = payload.get("file")
    if file:
        metadata["WJ"] = {item: file[key] for item, key in FILE_FIELDS.items() if key in file}
    return metadata


def from_metadata(metadata: Mapping[str, Any]) -> dict[str, Any]:
    """A canonical ``license.issued`` payload from the library's metadata."""
    payload: dict[str, Any] = {}
    for item, path in FIELDS.items():
        if metadata.get(item) is not None:
            _put(payload, path, metadata[item])
    file = metadata.get("WJ")
    if isinstance(file, Mapping):
        payload["file"] = {key: file[item] for item, key in FILE_FIELDS.items() if item in file}
    return payload


def _get(document: Mapping[str, Any], path: str) -> Any:
    value: Any = document
    for part in path.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def _put(document: dict[str, Any], path: str, value: Any) -> None:
    *parents, last = path.split(".")
    for part in parents:
        document = document.setdefault(part, {})
    document[last] = value
