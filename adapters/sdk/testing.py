"""The adapter contract suite: every adapter is tested the same way, against its sandbox.

A test module gets the whole suite from one subclass::

    from adapters.sdk.testing import AdapterContract

    class TestProvincialHall(AdapterContract):
        adapter = ProvincialHallAdapter
        sandbox = create_app                          # the sandbox's app factory
        examples = ("case.status_changed", "case.completed")

        def settings(self, url: str) -> dict[str, Any]:
            return {"url": f"{url}/soap/ProvincialHall", "username": "govhub",
                    "password": SANDBOX_PASSWORD}

The sandbox is served on 127.0.0.1 (port 0) once per class and reset before each test.
The suite pins:

- the settings schema is valid JSON Schema 2020-12, every secret-looking property is
  ``writeOnly``, and :meth:`~adapters.sdk.base.Adapter.describe` hides them;
- the adapter is registered under ``govhub.adapters`` and its types exist;
- ``check()`` passes against the sandbox and fails with :class:`ConfigurationError` (not
  echoing the secret) when the credentials are wrong;
- ``deliver`` of every example succeeds, and the same delivery twice has one effect at the
  sandbox (``GET /_sandbox/effects``);
- records read from every stream validate against the schema of their type; paging with
  a small ``limit`` loses and repeats nothing; a second read from the returned cursor
  yields only records seeded after the first (``POST /_sandbox/seed``);
- 401, 429 (with ``Retry-After``), 500, 503 (down), a server fault, a client fault and a
  timeout map onto the right error class, for ``deliver`` and for ``read``;
- nothing logged at DEBUG shows a secret or a whole resident ID number.

Hooks a subclass may override: :meth:`settings` (required), :meth:`bad_credentials`,
:meth:`arrange` (prepare the sandbox before an example is delivered), :meth:`example`,
and :attr:`expected_errors` (a counterpart whose contract maps a case differently, such as
webhooks dead-lettering a 401).
"""

from __future__ import annotations

import inspect
import logging
import re
import tempfile
from collections.abc import Callable, Iterator, Mapping
from typing import Any, ClassVar

import pytest
import requests
from flask import Flask
from jsonschema import Draft202012Validator

from adapters.sdk.base import Adapter, Attempt, Batch, Record
from adapters.sdk.errors import AdapterError, ConfigurationError, RejectedError, RetriableError
from adapters.sdk.settings import looks_secret
from faces.serving import RunningServer, serve_in_thread
from hub.core.clock import new_id, utcnow
from hub.core.envelope import Envelope
from hub.registry import adapter_classes, with_defaults
from hub.schemas import DEFAULT_SCHEMA_DIR, SchemaRegistry
from hub.store import Acceptance, Store
from hub.store.database import Database

__all__ = ["DEFAULT_EXPECTED_ERRORS", "AdapterContract", "SandboxClient"]

#: Injected trouble → the error class the adapter must raise.
DEFAULT_EXPECTED_ERRORS: Mapping[str, type[AdapterError]] = {
    "401": ConfigurationError,
    "429": RetriableError,
    "500": RetriableError,
    "503": RetriableError,
    "server_fault": RetriableError,
    "client_fault": RejectedError,
    "timeout": RetriableError,
}
#: How each case is injected (``POST /_sandbox/faults``). Several times, so an adapter
#: that refreshes a token and tries once more still meets the fault.
FAULTS: Mapping[str, dict[str, Any]] = {
    "401": {"status": 401, "times": 3},
    "429": {"status": 429, "times": 3, "retry_after": 7},
    "500": {"status": 500, "times": 3},
    "503": {"down": True},
    "server_fault": {"fault": "server", "times": 3},
    "client_fault": {"fault": "client", "times": 3},
}
TIMEOUT_S = 0.3
_WHOLE_RESIDENT_ID = re.compile(r"(?<![0-9A-Za-z])\d{17}[\dXx](?![0-9A-Za-z])")
_MAX_PAGES = 200


class SandboxClient:
    """The control endpoints of a running sandbox (see :mod:`adapters.sdk.sandbox`)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.session = requests.Session()
        self.session.trust_env = False

    def faults(self, **faults: Any) -> None:
        """Make the sandbox misbehave (no arguments: behave again)."""
        self._post("faults", faults)

    def reset(self) -> None:
        """Clear faults and state."""
        self._post("reset", {})

    def effects(self) -> list[dict[str, Any]]:
        """What the sandbox has done."""
        response = self.session.get(f"{self.url}/_sandbox/effects", timeout=10)
        response.raise_for_status()
        effects: list[dict[str, Any]] = response.json()["effects"]
        return effects

    def seed(self, stream: str, count: int) -> list[str]:
        """Make ``count`` new records appear in ``stream``; their keys."""
        keys: list[str] = self._post("seed", {"stream": stream, "count": count})["seeded"]
        return keys

    def close(self) -> None:
        """Close the session."""
        self.session.close()

    def _post(self, control: str, document: dict[str, Any]) -> Any:
        response = self.session.post(f"{self.url}/_sandbox/{control}", json=document, timeout=10)
        if response.status_code >= 400:
            raise AssertionError(
                f"sandbox control {control} answered {response.status_code}: {response.text}"
            )
        return response.json()


class _RecordingContext:
    """Stands in for the hub's context; the contract never publishes.

    Adapters that keep their own tables (payment orders, shipments) get a store on a
    temporary SQLite file, made on first use and removed by :meth:`close`.
    """

    def __init__(self) -> None:
        self.published: list[tuple[str, dict[str, Any]]] = []
        self._store: Store | None = None
        self._directory: tempfile.TemporaryDirectory[str] | None = None

    @property
    def storage(self) -> Database:
        if self._store is None:
            self._directory = tempfile.TemporaryDirectory(prefix="govhub-contract-")
            self._store = Store(f"sqlite:///{self._directory.name}/contract.db")
        return self._store.db

    def latest(self, message_type: str, correlation_id: str) -> Envelope | None:
        return None

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
        if self._directory is not None:
            self._directory.cleanup()

    def publish(
        self,
        message_type: str,
        payload: dict[str, Any],
        *,
        correlation_id: str | None = None,
        client_ref: str | None = None,
        headers: dict[str, Any] | None = None,
        channel: str = "adapter",
    ) -> Acceptance:
        self.published.append((message_type, payload))
        return Acceptance(new_id(), correlation_id, (), True)


def _secret_properties(schema: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    for name, spec in schema.get("properties", {}).items():
        if isinstance(spec, Mapping):
            yield prefix + name, spec
            yield from _secret_properties(spec, f"{prefix}{name}.")


#: Contract checks that apply only to some adapters, and what they need.
_NEEDS = {
    "test_check_fails_clearly_with_bad_credentials": "credentials",
    "test_deliver_of_every_example_succeeds": "examples",
    "test_deliver_twice_with_one_delivery_id_has_one_effect": "examples",
    "test_deliver_maps_counterpart_trouble_onto_the_taxonomy": "examples",
    "test_records_read_validate_against_their_schemas": "streams",
    "test_second_read_from_the_cursor_yields_only_newer_records": "streams",
    "test_reading_page_by_page_loses_and_repeats_nothing": "streams",
    "test_read_maps_counterpart_trouble_onto_the_taxonomy": "streams",
}


class AdapterContract:
    """Subclass in a test module to run the contract suite (see the module doc).

    Attributes:
        adapter: The adapter class under test.
        sandbox: The sandbox's app factory (called with no arguments).
        examples: Message types to deliver (payloads from ``schemas/examples/``).
        expected_errors: Overrides of :data:`DEFAULT_EXPECTED_ERRORS`.
    """

    adapter: ClassVar[type[Adapter]]
    sandbox: ClassVar[Callable[[], Flask]]
    examples: ClassVar[tuple[str, ...]] = ()
    expected_errors: ClassVar[Mapping[str, type[AdapterError]]] = {}

    # ------------------------------------------------------------------ what applies

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Leave out the checks that cannot apply to this adapter, so none is skipped:
        reads for an adapter without streams, deliveries for one that delivers nothing,
        credential checks for one without secret settings."""
        super().__init_subclass__(**kwargs)
        if not hasattr(cls, "adapter"):
            return
        applies = {
            "streams": bool(cls.adapter.streams),
            "examples": bool(cls.examples),
            "credentials": any(
                spec.get("writeOnly")
                for _path, spec in _secret_properties(cls.adapter.settings_schema)
            ),
        }
        for name, needs in _NEEDS.items():
            if not applies[needs]:
                setattr(cls, name, None)  # pytest collects only callables

    def pytest_generate_tests(self, metafunc: pytest.Metafunc) -> None:
        """Error-mapping cases: every injected fault, and a timeout where it can be set."""
        if "case" in metafunc.fixturenames:
            cases = [*FAULTS]
            if "timeout_s" in self.adapter.settings_schema.get("properties", {}):
                cases.append("timeout")
            metafunc.parametrize("case", cases)

    # ------------------------------------------------------------------ hooks

    def settings(self, url: str) -> dict[str, Any]:
        """Good settings for the adapter against the sandbox at ``url`` (required)."""
        raise NotImplementedError(f"{type(self).__name__} must define settings(url)")

    def bad_credentials(self, settings: dict[str, Any]) -> dict[str, Any]:
        """``settings`` with wrong credentials: each ``writeOnly`` value altered."""
        changed = dict(settings)
        for name, spec in self.adapter.settings_schema.get("properties", {}).items():
            if spec.get("writeOnly") and isinstance(changed.get(name), str):
                changed[name] = "wrong-" + changed[name][::-1]
        return changed

    def arrange(self, sandbox: SandboxClient, message: Envelope) -> None:
        """Prepare the sandbox before ``message`` is delivered (e.g. seed its case)."""

    def example(self, message_type: str) -> dict[str, Any]:
        """The payload delivered for ``message_type``."""
        import json

        path = DEFAULT_SCHEMA_DIR / "examples" / f"{message_type}.json"
        payload: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        return payload

    # ------------------------------------------------------------------ fixtures

    @pytest.fixture(scope="class")
    @classmethod
    def sandbox_server(cls) -> Iterator[RunningServer]:
        """The sandbox, served on 127.0.0.1 for the whole class."""
        factory = inspect.getattr_static(cls, "sandbox")
        if isinstance(factory, staticmethod | classmethod):
            factory = factory.__func__
        server = serve_in_thread(factory(), "127.0.0.1", 0, threads=16)
        yield server
        server.stop()

    @pytest.fixture
    def sandbox_client(self, sandbox_server: RunningServer) -> Iterator[SandboxClient]:
        """Controls of the sandbox, reset before and after each test."""
        client = SandboxClient(sandbox_server.url)
        client.reset()
        yield client
        client.reset()
        client.close()

    @pytest.fixture
    def make_adapter(self, sandbox_client: SandboxClient) -> Iterator[Callable[..., Adapter]]:
        """Builds adapters against the sandbox: ``make_adapter(settings=None, **changes)``."""
        made: list[tuple[Adapter, _RecordingContext]] = []

        def make(settings: dict[str, Any] | None = None, **changes: Any) -> Adapter:
            chosen = dict(settings if settings is not None else self.settings(sandbox_client.url))
            chosen.update(changes)
            chosen = with_defaults(chosen, self.adapter.settings_schema)
            errors = list(Draft202012Validator(self.adapter.settings_schema).iter_errors(chosen))
            assert not errors, f"the contract's settings do not fit the schema: {errors[0].message}"
            adapter = self.adapter("contract", chosen)
            context = _RecordingContext()
            adapter.bind(context)
            made.append((adapter, context))
            return adapter

        yield make
        for adapter, context in made:
            adapter.close()
            context.close()

    # ------------------------------------------------------------------ helpers

    def _message(self, message_type: str) -> Envelope:
        payload = self.example(message_type)
        return Envelope(
            id=new_id(),
            type=message_type,
            source="contract-suite",
            payload=payload,
            created_at=utcnow(),
            correlation_id=payload.get("case_no"),
        )

    def _expected(self, case: str) -> type[AdapterError]:
        return {**DEFAULT_EXPECTED_ERRORS, **self.expected_errors}[case]

    @staticmethod
    def _read_all(
        adapter: Adapter, stream: str, cursor: str | None, limit: int = 100
    ) -> tuple[list[Record], str | None, list[Batch]]:
        records: list[Record] = []
        batches: list[Batch] = []
        for _ in range(_MAX_PAGES):
            batch = adapter.read(stream, cursor, limit)
            batches.append(batch)
            records.extend(batch.records)
            if batch.cursor is not None:
                cursor = batch.cursor
            if not batch.more:
                return records, cursor, batches
        raise AssertionError(f"stream {stream} still had more after {_MAX_PAGES} reads")

    def _streams(self) -> list[str]:
        return list(self.adapter.streams)

    def _examples(self) -> tuple[str, ...]:
        return self.examples

    def _secrets(self, adapter: Adapter) -> list[str]:
        return [s for s in adapter.secret_values() if len(s) >= 4]

    # ------------------------------------------------------------------ settings and spec

    def test_settings_schema_is_valid_json_schema(self) -> None:
        schema = self.adapter.settings_schema
        Draft202012Validator.check_schema(schema)
        assert schema.get("type") == "object", "settings are a JSON object"
        assert schema.get("additionalProperties") is False, (
            "unknown settings must be refused, so a typo is an error"
        )

    def test_secret_settings_are_write_only_and_hidden(
        self, make_adapter: Callable[..., Adapter]
    ) -> None:
        for path, spec in _secret_properties(self.adapter.settings_schema):
            if looks_secret(path.rsplit(".", 1)[-1]) and spec.get("type") == "string":
                assert spec.get("writeOnly") is True, f"setting {path} is a secret: writeOnly"
        adapter = make_adapter()
        shown = repr(adapter.describe())
        for secret in self._secrets(adapter):
            assert secret not in shown, "describe() shows a secret"

    def test_adapter_is_registered_and_its_types_exist(self) -> None:
        registered = adapter_classes()
        assert registered.get(self.adapter.name) is self.adapter, (
            f"register {self.adapter.__name__} as {self.adapter.name!r} under"
            ' [project.entry-points."govhub.adapters"] in pyproject.toml'
        )
        spec = self.adapter.spec()
        assert spec["name"], "the adapter has a name"
        assert spec["version"], "the adapter has a version"
        assert spec["description"], "the adapter's docstring says what it is"
        schemas = SchemaRegistry()
        for message_type in (*self.adapter.produces, *self.examples):
            assert message_type in schemas, f"no schema for {message_type}"
        for message_type in self.examples:
            assert self.adapter.can_deliver(message_type), f"accepts lacks {message_type}"
        for stream, message_type in self.adapter.streams.items():
            assert message_type in self.adapter.produces, f"stream {stream}: not in produces"

    # ------------------------------------------------------------------ check

    def test_check_succeeds_against_the_sandbox(self, make_adapter: Callable[..., Adapter]) -> None:
        make_adapter().check()

    def test_check_fails_clearly_with_bad_credentials(
        self, make_adapter: Callable[..., Adapter], sandbox_client: SandboxClient
    ) -> None:
        good = self.settings(sandbox_client.url)
        bad = self.bad_credentials(good)
        assert bad != good, "bad_credentials() must change the credentials"
        adapter = make_adapter(bad)
        with pytest.raises(ConfigurationError) as raised:
            adapter.check()
        message = str(raised.value)
        assert message.strip(), "the error says what is wrong"
        for secret in [*self._secrets(adapter), *self._secrets(make_adapter(good))]:
            assert secret not in message, "the error message shows a secret"

    # ------------------------------------------------------------------ deliver

    def test_deliver_of_every_example_succeeds(
        self, make_adapter: Callable[..., Adapter], sandbox_client: SandboxClient
    ) -> None:
        adapter = make_adapter()
        for message_type in self._examples():
            message = self._message(message_type)
            self.arrange(sandbox_client, message)
            receipt = adapter.deliver(message, Attempt(new_id(), "contract", 1))
            assert receipt is not None

    def test_deliver_twice_with_one_delivery_id_has_one_effect(
        self, make_adapter: Callable[..., Adapter], sandbox_client: SandboxClient
    ) -> None:
        adapter = make_adapter()
        for message_type in self._examples():
            message = self._message(message_type)
            self.arrange(sandbox_client, message)
            before = len(sandbox_client.effects())
            delivery_id = new_id()
            adapter.deliver(message, Attempt(delivery_id, "contract", 1))
            adapter.deliver(message, Attempt(delivery_id, "contract", 2))
            after = len(sandbox_client.effects())
            assert after - before == 1, (
                f"{message_type} delivered twice under one delivery id had"
                f" {after - before} effects at the sandbox (expected 1)"
            )

    # ------------------------------------------------------------------ read

    def test_records_read_validate_against_their_schemas(
        self, make_adapter: Callable[..., Adapter], sandbox_client: SandboxClient
    ) -> None:
        adapter = make_adapter()
        schemas = SchemaRegistry()
        for stream in self._streams():
            sandbox_client.seed(stream, 3)
            records, _cursor, _batches = self._read_all(adapter, stream, None)
            assert len(records) >= 3, f"stream {stream}: seeded 3, read {len(records)}"
            keys = [record.key for record in records]
            assert all(keys), "every record has a key"
            assert len(set(keys)) == len(keys), f"stream {stream} repeated a record"
            for record in records:
                assert record.type == self.adapter.streams[stream]
                validation = schemas.validate(record.type, record.payload)
                assert validation.ok, f"{record.type} {record.key}: {validation.errors}"

    def test_second_read_from_the_cursor_yields_only_newer_records(
        self, make_adapter: Callable[..., Adapter], sandbox_client: SandboxClient
    ) -> None:
        adapter = make_adapter()
        for stream in self._streams():
            sandbox_client.seed(stream, 3)
            first, cursor, _batches = self._read_all(adapter, stream, None)
            assert cursor is not None, "a read that returned records gives a cursor"
            again, _same, _batches = self._read_all(adapter, stream, cursor)
            assert again == [], f"stream {stream}: nothing new, yet {len(again)} records"
            sandbox_client.seed(stream, 2)
            newer, _cursor, _batches = self._read_all(adapter, stream, cursor)
            assert len(newer) == 2, f"stream {stream}: seeded 2 more, read {len(newer)}"
            assert not {r.key for r in newer} & {r.key for r in first}

    def test_reading_page_by_page_loses_and_repeats_nothing(
        self, make_adapter: Callable[..., Adapter], sandbox_client: SandboxClient
    ) -> None:
        adapter = make_adapter()
        for stream in self._streams():
            whole, _cursor, _batches = self._read_all(adapter, stream, None)
            seeded = sandbox_client.seed(stream, 5)
            records, _cursor, batches = self._read_all(adapter, stream, None, limit=2)
            assert all(len(batch.records) <= 2 for batch in batches), "limit is honoured"
            assert len(batches) >= 3, "five records at two a page take three reads"
            keys = [record.key for record in records]
            assert len(keys) == len(set(keys)), "a record came twice"
            assert len(keys) == len(whole) + len(seeded)

    def test_reading_an_unknown_stream_says_so(self, make_adapter: Callable[..., Adapter]) -> None:
        with pytest.raises(NotImplementedError):
            make_adapter().read("no-such-stream", None, 10)

    # ------------------------------------------------------------------ error mapping

    def test_deliver_maps_counterpart_trouble_onto_the_taxonomy(
        self, case: str, make_adapter: Callable[..., Adapter], sandbox_client: SandboxClient
    ) -> None:
        message_type = self._examples()[0]
        message = self._message(message_type)
        self.arrange(sandbox_client, message)
        self._expect_error(
            case,
            make_adapter,
            sandbox_client,
            lambda adapter: adapter.deliver(message, Attempt(new_id(), "contract", 1)),
        )

    def test_read_maps_counterpart_trouble_onto_the_taxonomy(
        self, case: str, make_adapter: Callable[..., Adapter], sandbox_client: SandboxClient
    ) -> None:
        stream = self._streams()[0]
        self._expect_error(
            case, make_adapter, sandbox_client, lambda adapter: adapter.read(stream, None, 10)
        )

    def _expect_error(
        self,
        case: str,
        make_adapter: Callable[..., Adapter],
        sandbox_client: SandboxClient,
        verb: Callable[[Adapter], object],
    ) -> None:
        if case == "timeout":
            adapter = make_adapter(timeout_s=TIMEOUT_S)
            adapter.check()  # warm: WSDL, tokens, connections
            sandbox_client.faults(delay_s=TIMEOUT_S + 0.7)
        else:
            adapter = make_adapter()
            adapter.check()
            sandbox_client.faults(**FAULTS[case])
        expected = self._expected(case)
        with pytest.raises(AdapterError) as raised:
            verb(adapter)
        sandbox_client.faults()
        assert type(raised.value) is expected, (
            f"{case}: expected {expected.__name__}, got"
            f" {type(raised.value).__name__}: {raised.value}"
        )
        assert str(raised.value).strip()
        if case == "429":
            assert isinstance(raised.value, RetriableError)
            assert raised.value.retry_after == 7, "Retry-After is honoured"

    # ------------------------------------------------------------------ logging

    def test_logs_never_show_secrets_or_whole_resident_ids(
        self,
        make_adapter: Callable[..., Adapter],
        sandbox_client: SandboxClient,
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        caplog.set_level(logging.DEBUG)
        adapter = make_adapter()
        adapter.check()
        for message_type in self.examples:
            message = self._message(message_type)
            self.arrange(sandbox_client, message)
            adapter.deliver(message, Attempt(new_id(), "contract", 1))
        for stream in self.adapter.streams:
            sandbox_client.seed(stream, 2)
            self._read_all(adapter, stream, None)
        text = caplog.text
        for secret in self._secrets(adapter):
            assert secret not in text, "a secret setting was logged"
        found = _WHOLE_RESIDENT_ID.search(text)
        assert found is None, "a whole resident ID number was logged"
