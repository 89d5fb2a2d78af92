"""Route transforms: a route may rewrite a message on its way to its destinations.

A route names a transform as ``transform = "<destination>.<name>"``: the destination's
adapter offers it (``Adapter.transforms``). Two uses the hub ships with::

    [[routes]]                                   # the library gets the licence signed
    name = "licences to the e-license library"
    when = { type = "license.issued" }
    transform = "signature.sign_license"
    to = ["e_license"]

    [[routes]]                                   # a completed case becomes a delivery order
    name = "results by courier"
    when = { type = "case.completed", "payload.deliver_by_courier" = true }
    transform = "courier.delivery_order"         # case.completed → shipment.requested
    to = ["courier"]

The transform runs when the delivery is attempted, not when the message is accepted:
it may call a counterpart (the signing server), and it is retried, dead-lettered and
replayed with the delivery. The stored message is never changed; what was delivered is
the transform's output, validated against its type's schema first. Every name is
checked at start-up: the destination must exist, its adapter must offer the transform,
the route's type must be one the transform takes, and every destination of the route
must accept what the transform produces.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping
from dataclasses import dataclass

from adapters.sdk import Adapter, RejectedError, TransformSpec
from hub.config import Config, ConfigError, Route
from hub.core.envelope import SCHEMA_VERSION_HEADER, Envelope
from hub.schemas import SchemaRegistry

__all__ = ["Transforms"]

_GLOB = "*?["


@dataclass(frozen=True, slots=True)
class _Bound:
    reference: str
    provider: Adapter
    name: str
    spec: TransformSpec


class Transforms:
    """The transforms of the configured routes, resolved and checked once.

    Args:
        config: The checked configuration.
        adapters: The built destinations by name.
        schemas: Validates what a transform returns.

    Raises:
        ConfigError: A route names a transform that does not exist or does not fit;
            the message names the file and ``routes[i].transform``.
    """

    def __init__(
        self, config: Config, adapters: Mapping[str, Adapter], schemas: SchemaRegistry
    ) -> None:
        self.schemas = schemas
        self._by_route: dict[str, _Bound] = {}
        file = str(config.path or "<config>")
        for index, route in enumerate(config.routes):
            if route.transform is not None:
                bound = _resolve(route, index, adapters, file)
                self._by_route[route.name] = bound

    def __bool__(self) -> bool:
        return bool(self._by_route)

    def for_route(self, route: str | None) -> str | None:
        """The ``<destination>.<name>`` of the route's transform, if it has one."""
        bound = self._by_route.get(route) if route is not None else None
        return bound.reference if bound else None

    def apply(self, route: str | None, message: Envelope) -> Envelope:
        """The message as the route's destinations should get it.

        Args:
            route: The name of the route that made the delivery.
            message: The stored message.

        Returns:
            ``message`` itself when the route has no transform, else the transform's
            output, marked with ``headers.transformed_by``.

        Raises:
            RetriableError: The transform could not run now.
            RejectedError: The transform refused the message, or its output does not
                match its schema (the reasons name the fields).
        """
        bound = self._by_route.get(route) if route is not None else None
        if bound is None:
            return message
        if not bound.spec.takes(message.type):
            raise RejectedError(f"transform {bound.reference} does not take {message.type}")
        result = bound.provider.transform(bound.name, message)
        # a transform that keeps the type keeps its version; another type is its version 1
        version = message.schema_version if result.type == message.type else 1
        validation = self.schemas.validate(result.type, result.payload, version=version)
        if not validation.ok:
            reasons = "; ".join(f"{e.path}: {e.message}" for e in validation.errors)
            raise RejectedError(
                f"transform {bound.reference} produced an invalid {result.type}: {reasons}"
            )
        headers = dict(result.headers)
        headers["transformed_by"] = bound.reference
        if result.type != message.type:  # validated above as version 1 of its own type
            headers.pop(SCHEMA_VERSION_HEADER, None)
        return Envelope(
            id=result.id,
            type=result.type,
            source=result.source,
            payload=result.payload,
            created_at=result.created_at,
            client_ref=result.client_ref,
            correlation_id=result.correlation_id,
            headers=headers,
        )


def _resolve(route: Route, index: int, adapters: Mapping[str, Adapter], file: str) -> _Bound:
    assert route.transform is not None
    key = f"routes[{index}].transform"
    destination, name = route.transform.split(".", 1)
    provider = adapters.get(destination)
    if provider is None:
        raise ConfigError(file, key, f"no destination is called {destination!r}")
    spec = type(provider).transforms.get(name)
    if spec is None:
        offered = ", ".join(sorted(type(provider).transforms)) or "none"
        raise ConfigError(
            file,
            key,
            f"destination {destination!r} ({provider.name}) offers no transform {name!r}"
            f" (it offers: {offered})",
        )
    if not any(ch in route.type_pattern for ch in _GLOB) and not spec.takes(route.type_pattern):
        raise ConfigError(
            file,
            key,
            f"{route.transform} takes {', '.join(spec.accepts)}, not {route.type_pattern}",
        )
    produced = spec.produces or (
        None if any(ch in route.type_pattern for ch in _GLOB) else route.type_pattern
    )
    if produced is not None:
        for position, target in enumerate(route.to):
            adapter = adapters.get(target)
            if adapter is not None and not any(
                fnmatch.fnmatchcase(produced, pattern) for pattern in type(adapter).accepts
            ):
                raise ConfigError(
                    file,
                    f"routes[{index}].to[{position}]",
                    f"destination {target!r} ({adapter.name}) does not accept {produced},"
                    f" which {route.transform} produces",
                )
    return _Bound(reference=route.transform, provider=provider, name=name, spec=spec)
