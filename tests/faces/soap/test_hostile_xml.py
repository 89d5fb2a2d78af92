"""Hostile XML gets a Client fault, stores nothing, reads no file, opens no connection."""

from __future__ import annotations

import errno
import os
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from lxml import etree

from faces.soap.envelope import SOAP11_NS, SOAP12_NS
from faces.soap.xsdgen import NS
from hub.store import MessageFilter
from tests.faces.soap.support import envelope, fault_code, post, submit_case
from tests.support import RunningHub


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    """A socket on 127.0.0.1 that hostile documents point at: it must see no connection."""
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    server.setblocking(False)
    yield server
    server.close()


def connections(server: socket.socket) -> int:
    """How many connections are waiting to be accepted (they queue even unaccepted)."""
    count = 0
    while True:
        try:
            connection, _ = server.accept()
        except BlockingIOError:
            return count
        connection.close()
        count += 1


class FifoWatch:
    """A named pipe standing in for a secret file: records whether anyone opened it.

    Opening a FIFO for writing without blocking fails (ENXIO) while no reader has it
    open, so a watcher that keeps trying notices a reader the moment it appears, and
    then feeds and closes the pipe so the reader cannot hang.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        os.mkfifo(path)
        self.opened = threading.Event()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._watch, daemon=True)
        self.thread.start()

    def _watch(self) -> None:
        while not self.stop.is_set():
            try:
                descriptor = os.open(self.path, os.O_WRONLY | os.O_NONBLOCK)
            except OSError as error:
                if error.errno != errno.ENXIO:
                    raise
                self.stop.wait(0.001)
                continue
            self.opened.set()
            os.write(descriptor, b"TOP-SECRET-CONTENT")
            os.close(descriptor)

    def close(self) -> None:
        self.stop.set()
        self.thread.join(timeout=5)


@pytest.fixture
def secret_file(tmp_path: Path) -> Iterator[FifoWatch]:
    watch = FifoWatch(tmp_path / "secret")
    yield watch
    watch.close()


def hostile_documents(secret: Path, port: int, version: str = "1.1") -> dict[str, str]:
    operation = submit_case("hostile", name="&xxe;")
    network = f"http://127.0.0.1:{port}/evil"
    return {
        "xxe-file": envelope(
            operation,
            version=version,
            prolog=f'<!DOCTYPE e [<!ENTITY xxe SYSTEM "file://{secret}">]>',
        ),
        "xxe-network": envelope(
            operation, version=version, prolog=f'<!DOCTYPE e [<!ENTITY xxe SYSTEM "{network}">]>'
        ),
        "parameter-entity": envelope(
            submit_case("hostile"),
            version=version,
            prolog=f'<!DOCTYPE e [<!ENTITY % remote SYSTEM "{network}.dtd"> %remote;]>',
        ),
        "external-dtd": envelope(
            submit_case("hostile"), version=version, prolog=f'<!DOCTYPE e SYSTEM "{network}.dtd">'
        ),
        "billion-laughs": envelope(
            submit_case("hostile", name="&lol9;"),
            version=version,
            prolog="<!DOCTYPE e ["
            + '<!ENTITY lol "lol">'
            + "".join(
                f'<!ENTITY lol{n} "{("&lol" + (str(n - 1) if n > 1 else "") + ";") * 10}">'
                for n in range(1, 10)
            )
            + "]>",
        ),
        "undeclared-entity": envelope(submit_case("hostile", name="&undeclared;"), version=version),
        "xinclude": envelope(
            submit_case("hostile").replace(
                "<channel>window</channel>",
                '<channel>window</channel><xi:include xmlns:xi="http://www.w3.org/2001/XInclude"'
                f' href="file://{secret}" parse="text"/>',
            ),
            version=version,
        ),
    }


@pytest.mark.parametrize(
    "kind",
    [
        "xxe-file",
        "xxe-network",
        "parameter-entity",
        "external-dtd",
        "billion-laughs",
        "undeclared-entity",
        "xinclude",
    ],
)
@pytest.mark.parametrize("version", ["1.1", "1.2"])
def test_hostile_document_gets_a_client_fault_and_touches_nothing(
    soap_hub: RunningHub,
    client_name: str,
    listener: socket.socket,
    secret_file: FifoWatch,
    kind: str,
    version: str,
) -> None:
    key = soap_hub.client(client_name)
    document = hostile_documents(secret_file.path, listener.getsockname()[1], version)[kind]
    response = post(soap_hub, document, key=key, version=version)
    assert response.status_code == 500
    code, text = fault_code(response)
    assert code == ("soap:Client" if version == "1.1" else "soap:Sender")
    assert "TOP-SECRET" not in response.text
    assert "Traceback" not in response.text
    # A fault never echoes what was sent: not the URL or file a DTD points at, not a name.
    assert "127.0.0.1" not in text
    assert str(secret_file.path) not in text
    assert "evil" not in text
    assert "xxe" not in text
    assert "lol" not in text
    assert "undeclared" not in text
    assert connections(listener) == 0
    assert not secret_file.opened.is_set()
    assert soap_hub.hub.store.messages.search(MessageFilter(source=client_name)).items == []
    # and the hub keeps serving
    ok = post(
        soap_hub, envelope(submit_case(f"after-{kind}"), version=version), key=key, version=version
    )
    assert ok.status_code == 200, ok.text
    assert len(soap_hub.hub.store.messages.search(MessageFilter(source=client_name)).items) == 1
    assert text


def test_a_dtd_is_refused_with_its_reason(soap_hub: RunningHub, client_name: str) -> None:
    key = soap_hub.client(client_name)
    document = envelope(submit_case("dtd"), prolog="<!DOCTYPE e []>")
    response = post(soap_hub, document, key=key)
    assert "must not contain a document type declaration" in fault_code(response)[1]


def test_oversized_request_is_refused(soap_hub: RunningHub, client_name: str) -> None:
    key = soap_hub.client(client_name)
    cap = soap_hub.hub.config.server.max_body_bytes
    padding = "<!--" + "x" * cap + "-->"
    response = post(soap_hub, envelope(submit_case("big") + padding), key=key)
    assert response.status_code == 500
    code, text = fault_code(response)
    assert code == "soap:Client"
    assert f"larger than {cap} bytes" in text

    def chunks() -> Iterator[bytes]:
        yield envelope(submit_case("big-chunked")).encode()
        for _ in range(cap // 65536 + 2):
            yield b" " * 65536

    chunked = post(soap_hub, chunks(), key=key)  # type: ignore[arg-type]
    assert chunked.status_code == 500
    assert "larger than" in fault_code(chunked)[1]
    assert soap_hub.hub.store.messages.search(MessageFilter(source=client_name)).items == []
    assert post(soap_hub, envelope(submit_case("small")), key=key).status_code == 200


@pytest.mark.parametrize("depth", [100, 255, 256, 257, 300, 5000])
def test_deeply_nested_document_is_refused(
    soap_hub: RunningHub, client_name: str, depth: int
) -> None:
    key = soap_hub.client(client_name)
    nested = "<a>" * depth + "</a>" * depth
    operation = submit_case("deep").replace(
        "<channel>window</channel>", f"<channel>window</channel>{nested}"
    )
    response = post(soap_hub, envelope(operation), key=key)
    assert response.status_code == 500
    code, text = fault_code(response)
    assert code == "soap:Client"
    assert text == "the document is nested deeper than 64 elements"
    assert soap_hub.hub.store.messages.search(MessageFilter(source=client_name)).items == []
    assert post(soap_hub, envelope(submit_case("shallow")), key=key).status_code == 200


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"", "no body"),
        (b"<not-closed>", "not well-formed"),
        (b"<a>\xff</a>", "not valid utf-8"),
        (b'<?xml version="1.0" encoding="x-klingon"?><a/>', "not supported"),
        (b'<?xml version="1.0" encoding="rot13"?><a/>', "not supported"),
        (b"<Body/>", "not a SOAP envelope"),
    ],
)
def test_malformed_bodies_get_client_faults(
    soap_hub: RunningHub, client_name: str, body: bytes, reason: str
) -> None:
    key = soap_hub.client(client_name)
    response = post(soap_hub, body, key=key, content_type="text/xml")
    assert response.status_code == 500
    code, text = fault_code(response)
    assert code == "soap:Client"
    assert reason in text


def test_unknown_envelope_namespace_is_a_version_mismatch(
    soap_hub: RunningHub, client_name: str
) -> None:
    key = soap_hub.client(client_name)
    response = post(soap_hub, b'<e:Envelope xmlns:e="urn:soap-2.0"><e:Body/></e:Envelope>', key=key)
    assert fault_code(response)[0] == "soap:VersionMismatch"


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (
            b"<a><tag-110105194912310020></b></a>",
            "an end tag does not match its start tag (line 1, column 32)",
        ),
        (b"<a>&id110105194912310020;</a>", "an entity is used that is not defined"),
        (b'<a x="110105194912310020></a>', "an attribute value holds an unescaped '<'"),
        (b"<secret:a/>", "a namespace prefix is used without being declared"),
    ],
)
def test_malformed_xml_is_explained_without_repeating_it(
    soap_hub: RunningHub, client_name: str, body: bytes, reason: str
) -> None:
    response = post(soap_hub, body, key=soap_hub.client(client_name), content_type="text/xml")
    code, text = fault_code(response)
    assert code == "soap:Client"
    assert text.startswith("the body is not well-formed XML: ")
    assert reason in text
    assert "110105194912310020" not in response.text
    assert "secret" not in response.text


@pytest.mark.parametrize(
    ("sent", "content_type", "answered"),
    [("1.2", "text/xml", "1.1"), ("1.1", "application/soap+xml", "1.2")],
)
def test_an_envelope_of_the_other_soap_version_is_a_version_mismatch(
    soap_hub: RunningHub, client_name: str, sent: str, content_type: str, answered: str
) -> None:
    key = soap_hub.client(client_name)
    document = envelope(submit_case(f"mismatch-{sent}"), version=sent)
    response = post(soap_hub, document, key=key, content_type=content_type)
    assert response.status_code == 500
    assert response.headers["Content-Type"].startswith(content_type)
    code, text = fault_code(response)
    assert code == "soap:VersionMismatch"
    assert f"a SOAP {sent} envelope was sent as {content_type}" in text
    root = etree.fromstring(response.content)
    assert root.tag == f"{{{SOAP11_NS if answered == '1.1' else SOAP12_NS}}}Envelope"
    assert root.findtext(f".//{{{NS}}}code") == "version-mismatch"
    assert soap_hub.hub.store.messages.search(MessageFilter(source=client_name)).items == []
