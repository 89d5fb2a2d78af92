"""Parsing XML from counterparts safely, in the encoding it declares.

Every XML document from outside is parsed with entities, DTDs and network access off and
without lxml's huge-tree mode (billion laughs, XXE and SSRF are not our problem then).

Older provincial systems pass XML inside a string parameter and declare it
``encoding="GB2312"`` or ``"GBK"``. :func:`parse_declared` honours the declaration, and
reads GB2312 and GBK as GB18030, their superset, as browsers do (the WHATWG encoding
standard): systems that declare GB2312 routinely send GBK-only characters such as 喆 or
镕 in names, and a strict GB2312 decoder would fail on exactly the applicants whose
names matter most to get right.
"""

from __future__ import annotations

import codecs
import re
from typing import Any

from lxml import etree

__all__ = ["MAX_XML_BYTES", "XmlError", "declared_encoding", "parse_declared", "safe_parser"]

#: The largest XML document accepted from a counterpart.
MAX_XML_BYTES = 16 * 1024 * 1024

_DECLARATION = re.compile(rb"^\s*<\?xml[^>]*?encoding\s*=\s*[\"']([A-Za-z0-9._-]+)[\"'][^>]*\?>")
_DECLARATION_TEXT = re.compile(r"^\s*<\?xml[^>]*\?>")
#: Declared names that are read with a superset codec.
_SUPERSETS = {"gb2312": "gb18030", "gbk": "gb18030", "x-gbk": "gb18030", "cp936": "gb18030"}


class XmlError(ValueError):
    """The XML is malformed, too large, or in an unknown encoding."""


def safe_parser() -> Any:
    """An lxml parser with entities, DTDs, network access and huge trees off."""
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )


def declared_encoding(data: bytes) -> str:
    """The codec to read ``data`` with: its declaration (GB2312/GBK → GB18030) or UTF-8.

    Raises:
        XmlError: The declared encoding is unknown.
    """
    match = _DECLARATION.match(data[:200])
    name = match.group(1).decode("ascii").lower() if match else "utf-8"
    name = _SUPERSETS.get(name, name)
    try:
        return codecs.lookup(name).name
    except LookupError:
        raise XmlError(f"unknown declared encoding {name!r}") from None


def parse_declared(document: bytes | str, *, limit: int = MAX_XML_BYTES) -> Any:
    """Parse an XML document from a counterpart, decoding it as it declares.

    Args:
        document: Bytes (decoded by the declaration, see the module doc) or text that
            was already decoded (its declaration, which lxml refuses on text, is dropped).
        limit: The largest size accepted.

    Returns:
        The root element.

    Raises:
        XmlError: Too large, undecodable, or not well-formed; the message says which.
    """
    if len(document) > limit:
        raise XmlError(f"the XML is larger than {limit} bytes")
    if isinstance(document, bytes):
        codec = declared_encoding(document)
        try:
            text = document.decode(codec)
        except UnicodeDecodeError as error:
            raise XmlError(
                f"the XML is not valid {codec} (byte {error.start} of {len(document)})"
            ) from None
    else:
        text = document
    text = _DECLARATION_TEXT.sub("", text, count=1).lstrip("\ufeff")
    try:
        root = etree.fromstring(text, safe_parser())
    except etree.XMLSyntaxError as error:
        raise XmlError(f"the XML is not well-formed: {error.msg}") from None
    if root is None:
        raise XmlError("the XML is empty")
    return root
