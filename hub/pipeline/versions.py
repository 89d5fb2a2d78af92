"""Each destination gets a message in the version of its type's schema it takes.

A destination names the versions it takes, by type (``schema_versions =
{"case.submitted" = 2}`` in its ``[[destinations]]`` table, or ``"as_sent"`` for an
archive that keeps every version); a type it does not name is delivered in version 1, so
a receiver that was running before a new version existed never sees its new shape.

When the stored message is in another version, the steps declared beside the schemas
(:mod:`hub.versioning`) convert it when the delivery is attempted, and the result is
validated against the version the destination takes. A message that version cannot
carry is dead-lettered with the field and the reason (a replay delivers it once the
destination takes the newer version). The stored message is never changed.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from adapters.sdk import RejectedError
from hub.config import Config, ConfigError
from hub.core.envelope import SCHEMA_VERSION_HEADER, Envelope
from hub.schemas import SchemaRegistry
from hub.versioning import Conversions, NotConvertible

__all__ = ["AS_SENT", "CONVERTED_FROM_HEADER", "DeliveryVersions"]

#: ``schema_versions`` value of a destination that takes a type in whatever version it came.
AS_SENT = "as_sent"

#: Envelope header of a converted message: the version it was sent (and stored) in.
CONVERTED_FROM_HEADER = "schema_version_sent"


class DeliveryVersions:
    """The versions the configured destinations take, checked once.

    Args:
        config: The checked configuration.
        schemas: The types and their versions.
        conversions: The steps between versions.

    Raises:
        ConfigError: A destination names a type that is not known or a version the type
            does not have; the message names ``destinations[i].schema_versions.<type>``.
    """

    def __init__(self, config: Config, schemas: SchemaRegistry, conversions: Conversions) -> None:
        self.schemas = schemas
        self.conversions = conversions
        self._wanted: dict[str, Mapping[str, int | str]] = {}
        file = str(config.path or "<config>")
        for index, destination in enumerate(config.destinations):
            for message_type, version in destination.schema_versions.items():
                key = f"destinations[{index}].schema_versions.{message_type}"
                if message_type not in schemas:
                    raise ConfigError(file, key, f"{message_type} is not a known message type")
                versions = schemas.versions(message_type)
                if version != AS_SENT and version not in versions:
                    known = ", ".join(map(str, versions))
                    raise ConfigError(
                        file, key, f"{message_type} has no version {version} (it has {known})"
                    )
            if destination.schema_versions:
                self._wanted[destination.name] = dict(destination.schema_versions)
        self._versioned = any(len(schemas.versions(t)) > 1 for t in schemas.types)

    def __bool__(self) -> bool:
        return self._versioned

    def wanted(self, destination: str, message_type: str) -> int | None:
        """The version of ``message_type`` the destination takes (``None``: as sent)."""
        version = self._wanted.get(destination, {}).get(message_type, 1)
        return None if version == AS_SENT else int(version)

    def apply(self, destination: str, message: Envelope) -> Envelope:
        """The message in the version the destination takes.

        Returns:
            ``message`` itself when the destination takes it as it is; else a copy with
            the converted payload, ``headers.schema_version`` the version it now follows
            and ``headers.schema_version_sent`` the one it was sent in.

        Raises:
            RejectedError: The message has something that version cannot carry, or the
                conversion gives a payload that version's schema refuses (the reasons
                name the fields).
        """
        target = self.wanted(destination, message.type)
        source = message.schema_version
        if target is None or target == source:
            return message
        try:
            payload = self.conversions.convert(message.type, message.payload, source, target)
        except NotConvertible as error:
            raise RejectedError(
                f"{destination} takes {message.type} version {target}: {error}"
            ) from None
        validation = self.schemas.validate(message.type, payload, version=target)
        if not validation.ok:
            reasons = "; ".join(f"{e.path}: {e.message}" for e in validation.errors)
            raise RejectedError(
                f"{message.type} v{source}→v{target} for {destination} gave an invalid"
                f" payload: {reasons}"
            )
        headers = {**message.headers, SCHEMA_VERSION_HEADER: target, CONVERTED_FROM_HEADER: source}
        return dataclasses.replace(message, payload=payload, headers=headers)
