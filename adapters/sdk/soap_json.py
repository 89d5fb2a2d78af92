"""zeep's values as JSON values, and an operation's answer as its whole response element.

Generated SOAP adapters (``govhub adapter new --from-wsdl``) describe every operation's
input and output with JSON Schema; these helpers make what zeep hands back fit it:
:func:`to_json` turns zeep's objects into plain JSON values (dates as ISO 8601 text,
decimals as numbers, binary as base64, absent optional elements left out), and
:func:`answer_of` undoes zeep's convenience of unwrapping a response element with a
single child, so the adapter always returns the response element's content.
"""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from lxml import etree
from zeep.helpers import serialize_object

__all__ = ["answer_of", "to_json"]


def to_json(value: Any) -> Any:
    """A zeep value (or plain Python value) as JSON values.

    ``None`` inside an object means an element that was absent: it is left out. Inside
    an array it stays (a nil item).
    """
    return _plain(serialize_object(value, dict))


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items() if v is not None}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, etree._Element):
        return etree.tostring(value, encoding="unicode")
    return str(value)


def answer_of(answer: Any, path: Sequence[str] | None) -> dict[str, Any]:
    """The content of the response element, from what zeep returned for it.

    Args:
        answer: What :meth:`~adapters.sdk.soap.SoapClient.call` returned.
        path: The children zeep unwrapped, outermost first: ``()`` when it returned the
            response element itself, ``None`` when the element is empty.
    """
    value = to_json(answer)
    if path is None or value is None:
        return {}
    for key in reversed(path):
        value = {key: value}
    return value if isinstance(value, dict) else {}
