"""Reading untrusted XML: the declared encoding honoured, everything dangerous off.

No entity is expanded, no DTD is loaded, nothing is fetched from the network or the file
system, and a document with a DTD at all is refused (a SOAP message must not have one:
SOAP 1.1 §3, SOAP 1.2 part 1 §5, WS-I BP R1008). Size is capped by the caller, depth
here.

Encodings follow RFC 7303: a byte-order mark first, then the ``charset`` of the
Content-Type, then the XML declaration, then UTF-8. The text is decoded by Python's
codecs, so UTF-8, UTF-16, GBK, GB2312 and GB18030 all end up as the same characters.
``gb2312`` and ``gbk`` are read with the GB18030 decoder, a superset of both, as the
WHATWG Encoding Standard does: systems that declare GB2312 routinely send GBK characters.
"""

from __future__ import annotations

import codecs
import functools
import re
import threading

from lxml import etree

__all__ = ["XmlRefused", "decode", "parse"]

_DECLARED = re.compile(rb"""^<\?xml\s[^>]*?encoding\s*=\s*["']([A-Za-z0-9._:\-]+)["']""")
_DECLARATION = re.compile(r"^\s*<\?xml\s[^>]*?\?>")
_GB = {"gb2312", "gbk", "x-gbk", "cp936", "csgb2312", "gb_2312-80", "chinese", "euc-cn", "ms936"}
_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_local = threading.local()


class XmlRefused(ValueError):
    """The body is not XML the hub will read; the message says why (never its content)."""


def _parser() -> etree.XMLParser:
    # lxml parsers are not to be shared between threads.
    parser: etree.XMLParser | None = getattr(_local, "parser", None)
    if parser is None:
        parser = etree.XMLParser(
            resolve_entities=False,
            no_network=True,
            load_dtd=False,
            dtd_validation=False,
            attribute_defaults=False,
            huge_tree=False,
            collect_ids=False,
            remove_blank_text=False,
        )
        _local.parser = parser
    return parser


def codec_for(label: str) -> str:
    """The Python codec for an encoding label.

    Raises:
        XmlRefused: The label names no text encoding Python knows.
    """
    name = label.strip().lower()
    if name in _GB:
        return "gb18030"
    try:
        info = codecs.lookup(name)
    except LookupError:
        raise XmlRefused(f"the encoding {label[:40]!r} is not supported") from None
    if not getattr(info, "_is_text_encoding", True):
        raise XmlRefused(f"the encoding {label[:40]!r} is not supported")
    return info.name


def decode(body: bytes, charset: str | None = None) -> str:
    """The text of an XML document, decoded as it declares, without its XML declaration.

    Raises:
        XmlRefused: Unknown encoding, or bytes that are not valid in it.
    """
    encoding = None
    for bom, name in _BOMS:
        if body.startswith(bom):
            encoding, body = name, body[len(bom) :]
            break
    if encoding is None and charset:
        encoding = codec_for(charset)
    if encoding is None:
        if body.startswith(b"<\x00?\x00"):
            encoding = "utf-16-le"
        elif body.startswith(b"\x00<\x00?"):
            encoding = "utf-16-be"
        else:
            declared = _DECLARED.match(body[:512])
            encoding = codec_for(declared.group(1).decode("ascii")) if declared else "utf-8"
    elif encoding == "utf-16":  # a charset without the byte order: sniff it
        encoding = "utf-16-be" if body.startswith(b"\x00<") else "utf-16-le"
    try:
        text = body.decode(encoding)
    except UnicodeDecodeError as error:
        raise XmlRefused(f"the body is not valid {encoding} (at byte {error.start})") from None
    text = text.removeprefix("\ufeff")
    return _DECLARATION.sub("", text, count=1)


def parse(body: bytes, charset: str | None = None, *, max_depth: int = 64) -> etree._Element:
    """Parse an untrusted document safely.

    Args:
        body: The raw bytes (already size-capped by the caller).
        charset: The ``charset`` parameter of the Content-Type, if any.
        max_depth: Deepest nesting allowed (the root is depth 1).

    Returns:
        The root element.

    Raises:
        XmlRefused: Not well-formed, a DTD, too deep, or a bad encoding.
    """
    text = decode(body, charset)
    if _DOCTYPE.match(text):
        # Refused before libxml2 reads the DTD at all (an external subset, entities).
        raise XmlRefused(_DTD_REFUSED)
    try:
        root = etree.fromstring(text.encode("utf-8"), _parser())
    except etree.XMLSyntaxError as error:
        raise XmlRefused(_refusal(error, max_depth)) from None
    if root is None:
        raise XmlRefused("the body is empty")
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None or docinfo.system_url:
        raise XmlRefused(_DTD_REFUSED)
    _check_depth(root, max_depth)
    return root


#: The deepest nesting libxml2 parses without ``huge_tree`` (which lifts every limit).
_LIBXML2_DEPTH = 256
_DTD_REFUSED = "a SOAP message must not contain a document type declaration (DTD)"
#: A document type declaration, after whatever comments and processing instructions.
_DOCTYPE = re.compile(r"\s*(?:(?:<\?.*?\?>|<!--.*?-->)\s*)*<!DOCTYPE", re.DOTALL)
#: libxml2's errors in our words. Its own messages repeat what was sent (a tag or entity
#: name, the URL of an external DTD), and a fault never echoes a submitted value.
_REASONS = {
    "ERR_DOCUMENT_EMPTY": "there is no root element",
    "ERR_DOCUMENT_END": "there is content after the root element",
    "ERR_TAG_NOT_FINISHED": "the document ends before an element is closed",
    "ERR_TAG_NAME_MISMATCH": "an end tag does not match its start tag",
    "ERR_UNDECLARED_ENTITY": "an entity is used that is not defined"
    " (a SOAP message may use only the predefined ones)",
    "WAR_UNDECLARED_ENTITY": "an entity is used that is not defined",
    "ERR_ENTITY_LOOP": "entities refer to each other in a loop",
    "ERR_INVALID_CHAR": "a character is not allowed in XML",
    "ERR_INVALID_CHARREF": "a character reference is not allowed in XML",
    "ERR_LT_IN_ATTRIBUTE": "an attribute value holds an unescaped '<'",
    "ERR_ATTRIBUTE_WITHOUT_VALUE": "an attribute has no value",
    "ERR_ATTRIBUTE_REDEFINED": "an element has the same attribute twice",
    "ERR_NAME_REQUIRED": "a name is missing where the grammar needs one",
    "ERR_GT_REQUIRED": "a '>' is missing",
    "ERR_LTSLASH_REQUIRED": "an end tag is missing",
    "NS_ERR_UNDEFINED_NAMESPACE": "a namespace prefix is used without being declared",
}
_ERROR_NAMES = {
    getattr(etree.ErrorTypes, name): name for name in dir(etree.ErrorTypes) if name.isupper()
}


def _refusal(error: etree.XMLSyntaxError, max_depth: int) -> str:
    """Why a document did not parse, in words that repeat nothing of it."""
    name = _ERROR_NAMES.get(error.code, "")
    if name == "ERR_RESOURCE_LIMIT" and "depth" in str(error.msg).lower():
        # libxml2 stops past 256 levels, before the hub's own limit can look.
        return f"the document is nested deeper than {min(max_depth, _LIBXML2_DEPTH)} elements"
    if name.startswith(("IO_", "ERR_IO_")):
        return _DTD_REFUSED  # it tried to reach what a DTD points at (and was stopped)
    line, column = error.position
    where = f" (line {line}, column {column})" if line else ""
    reason = _REASONS.get(name) or f"libxml2 error {name or error.code}"
    return f"the body is not well-formed XML: {reason}{where}"


def _check_depth(root: etree._Element, max_depth: int) -> None:
    if _deeper_than(max_depth)(root):
        raise XmlRefused(f"the document is nested deeper than {max_depth} elements")


@functools.cache
def _deeper_than(max_depth: int) -> etree.XPath:
    # Is there an element max_depth + 1 levels down? libxml2 answers without a Python
    # loop over every element (the root is level 1).
    return etree.XPath("boolean(" + "/*" * (max_depth + 1) + ")")
