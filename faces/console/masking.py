"""What the console shows of personal data: identifiers masked, everywhere.

Payloads, headers, receipts, errors and audit details all pass through here before a
template sees them. Fields that hold identifiers by name (``id_no``, ``holder_id_no``,
a holder ``code`` whose ``code_type`` is ``111``) are masked whatever their shape; any
other string has resident ID numbers masked wherever they appear in it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hub.core.identifiers import mask, mask_resident_id, mask_text
from hub.store.protection import mask_personal

__all__ = ["mask_document", "mask_field"]

RESIDENT_ID_CODE_TYPE = "111"
_PHONE_KEYS = frozenset({"mobile", "phone", "telephone", "tel"})


def _is_identifier_key(key: str) -> bool:
    lowered = key.lower()
    return lowered == "id_no" or lowered.endswith("_id_no") or lowered in {"idcard", "id_card"}


def mask_field(key: str, value: str) -> str:
    """Mask one string value, judging by its field name and its content."""
    if _is_identifier_key(key):
        return mask_resident_id(value) if len(value) == 18 else mask(value)
    if key.lower() in _PHONE_KEYS:
        return mask(value, 3, 4)
    return mask_text(value)


def mask_document(document: Any, key: str = "") -> Any:
    """A copy of a JSON-like document with every personal identifier masked.

    Names of persons and parties (``applicant.name``…) are masked too
    (``hub.store.protection.mask_personal``).
    """
    if not key:
        document = mask_personal(document)
    if isinstance(document, Mapping):
        resident_code = str(document.get("code_type", "")) == RESIDENT_ID_CODE_TYPE
        masked: dict[str, Any] = {}
        for name, value in document.items():
            if resident_code and name == "code" and isinstance(value, str):
                masked[name] = mask_resident_id(value) if len(value) == 18 else mask(value)
            else:
                masked[name] = mask_document(value, str(name))
        return masked
    if isinstance(document, list | tuple):
        return [mask_document(item, key) for item in document]
    if isinstance(document, str):
        return mask_field(key, document)
    if isinstance(document, int | float) and _is_identifier_key(key):
        return mask(str(document))
    return document
