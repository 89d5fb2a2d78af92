"""Loading a WSDL from a file or a URL safely, keeping every document it took.

A WSDL given to the generator comes from someone else: it is read with DTDs and entities
off (zeep's ``forbid_*`` settings; a document declaring a DOCTYPE is refused outright), a
URL is fetched with a timeout and a size cap and never through a proxy from the
environment, and only ``http``/``https``/local files are followed, at most
:data:`MAX_DOCUMENTS` of them. Every document loaded (the WSDL, the
WSDLs and XSDs it imports) is kept as bytes, so the generated package carries the very
documents it was generated from.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests
from lxml import etree
from zeep import Client, Settings, Transport
from zeep.exceptions import Error as ZeepError

from adapters.sdk.xml import XmlError, parse_declared

__all__ = [
    "MAX_DOCUMENTS",
    "MAX_DOCUMENT_BYTES",
    "LoadedWsdl",
    "WsdlError",
    "load_wsdl",
]

#: The largest single document (WSDL or XSD) accepted.
MAX_DOCUMENT_BYTES = 4 * 1024 * 1024
#: The most documents one WSDL may pull in through its imports.
MAX_DOCUMENTS = 64
CONNECT_TIMEOUT_S = 5.0
READ_TIMEOUT_S = 30.0


class WsdlError(ValueError):
    """The WSDL cannot be loaded or used; the message says what to do."""


@dataclass
class LoadedWsdl:
    """A WSDL as zeep read it, and the documents it was read from.

    Attributes:
        source: What was asked for (a path or URL).
        main: The location of the WSDL itself (an absolute path or URL).
        client: zeep's client over it (no service bound; never used to call out).
        documents: Every document loaded, by location, in the order loaded.
    """

    source: str
    main: str
    client: Any
    documents: dict[str, bytes] = field(default_factory=dict)

    def relative_documents(self) -> dict[str, bytes]:
        """The documents by their path relative to the WSDL's folder (the WSDL itself first).

        Raises:
            WsdlError: An import lies outside the WSDL's folder (another host or ``..``),
                so the generated package could not carry it beside the WSDL.
        """
        base = _folder(self.main)
        found: dict[str, bytes] = {}
        for location, content in self.documents.items():
            if location == self.main:
                continue
            relative = _relative_to(base, location)
            if relative is None:
                raise WsdlError(
                    f"{location} is imported from outside the WSDL's folder {base}: download"
                    " it next to the WSDL, point the import at the copy, and generate again"
                )
            found[relative] = content
        return found


def _folder(location: str) -> str:
    if _is_url(location):
        return location.rsplit("/", 1)[0] + "/"
    return str(Path(location).parent) + "/"


def _relative_to(base: str, location: str) -> str | None:
    if not location.startswith(base):
        return None
    relative = posixpath.normpath(location[len(base) :].replace("\\", "/"))
    if relative.startswith(("../", "/")) or relative == ".." or "?" in relative:
        return None
    return relative


def _is_url(location: str) -> bool:
    return urlsplit(location).scheme in ("http", "https")


class _RecordingTransport(Transport):
    """zeep's transport that fetches carefully and keeps what it fetched."""

    def __init__(self) -> None:
        session = requests.Session()
        session.trust_env = False  # no proxy or netrc from the environment
        super().__init__(session=session, timeout=READ_TIMEOUT_S)
        self.documents: dict[str, bytes] = {}

    def load(self, url: str) -> bytes:
        if url in self.documents:
            return self.documents[url]
        if len(self.documents) >= MAX_DOCUMENTS:
            raise WsdlError(f"the WSDL pulls in more than {MAX_DOCUMENTS} documents")
        scheme = urlsplit(url).scheme
        if scheme in ("http", "https"):
            content = self._fetch(url)
        elif scheme in ("", "file") or Path(url).is_absolute():
            content = _read_file(url)
        else:
            raise WsdlError(f"{url}: only http, https and local files are followed")
        _check_well_formed(url, content)
        self.documents[url] = content
        return content

    def _fetch(self, url: str) -> bytes:
        try:
            with self.session.get(
                url, timeout=(CONNECT_TIMEOUT_S, READ_TIMEOUT_S), stream=True
            ) as response:
                if response.status_code != 200:
                    raise WsdlError(f"{url} answered HTTP {response.status_code}")
                chunks: list[bytes] = []
                size = 0
                for chunk in response.iter_content(64 * 1024):
                    size += len(chunk)
                    if size > MAX_DOCUMENT_BYTES:
                        raise WsdlError(f"{url} is larger than {MAX_DOCUMENT_BYTES} bytes")
                    chunks.append(chunk)
                return b"".join(chunks)
        except requests.RequestException as error:
            raise WsdlError(f"cannot fetch {url}: {type(error).__name__}") from None


def _read_file(location: str) -> bytes:
    path = Path(location.removeprefix("file://"))
    try:
        if path.stat().st_size > MAX_DOCUMENT_BYTES:
            raise WsdlError(f"{path} is larger than {MAX_DOCUMENT_BYTES} bytes")
        return path.read_bytes()
    except OSError as error:
        raise WsdlError(f"cannot read {path}: {error.strerror or error}") from None


def _check_well_formed(location: str, content: bytes) -> None:
    # zeep parses with its own settings too; this names the document when it is not XML,
    # and refuses a DOCTYPE outright (no DTD has any business in a WSDL).
    try:
        root = parse_declared(content, limit=MAX_DOCUMENT_BYTES)
    except XmlError as error:
        raise WsdlError(f"{location}: {error}") from None
    if root.getroottree().docinfo.doctype:
        raise WsdlError(f"{location} declares a DOCTYPE; a WSDL needs none")


def load_wsdl(source: str) -> LoadedWsdl:
    """Load a WSDL (a file path or an ``http(s)`` URL) and everything it imports.

    Args:
        source: Where the WSDL is.

    Raises:
        WsdlError: It cannot be fetched, is not XML, is too large, or zeep cannot read it.
    """
    main = source if _is_url(source) else str(Path(source).expanduser().resolve())
    transport = _RecordingTransport()
    # zeep's forbid_external would refuse every import over HTTP, which WSDLs published
    # by a service routinely have (?xsd=1). They go through the transport instead: http,
    # https and files only, a timeout and a size cap each, at most MAX_DOCUMENTS, and no
    # DOCTYPE in any of them, so no external entity or DTD is ever read.
    settings = Settings(
        strict=True,
        xml_huge_tree=False,
        forbid_dtd=True,
        forbid_entities=True,
        forbid_external=False,
    )
    try:
        client = Client(main, transport=transport, settings=settings)
    except WsdlError:
        raise
    except (ZeepError, etree.XMLSyntaxError, ValueError, KeyError) as error:
        raise WsdlError(f"zeep cannot read {source}: {type(error).__name__}: {error}") from None
    finally:
        transport.session.close()
    documents = dict(transport.documents)
    if main not in documents:  # zeep normalises file locations; keep ours the key
        first = next(iter(documents))
        documents = {main: documents.pop(first), **documents}
    return LoadedWsdl(source=source, main=main, client=client, documents=documents)
