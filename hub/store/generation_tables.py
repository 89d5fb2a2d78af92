"""The tables of configuration generations: what routes and destinations every process runs."""

from __future__ import annotations

from sqlalchemy import Column, Integer, String, Table, Text

from hub.core.columns import JSONType, UTCDateTime
from hub.store.tables import metadata

__all__ = ["config_generations", "config_nodes"]

# One row per routing configuration the hub has run: recorded by a reload, or by a node
# that starts with a file whose routes and destinations differ from the newest one.
config_generations = Table(
    "config_generations",
    metadata,
    Column("number", Integer, primary_key=True, autoincrement=False),
    Column("sha256", String(64), nullable=False),
    # [[destinations]] and [[routes]] as written: ${VAR} is read by each process itself
    Column("document", JSONType, nullable=False),
    # start | reload
    Column("source", String(20), nullable=False),
    Column("actor", String(200), nullable=False),
    Column("file", String(500)),
    Column("created_at", UTCDateTime(), nullable=False),
)

# One row per running process (web worker, delivery process): the generation it applied,
# so that a reload can tell when every process runs it.
config_nodes = Table(
    "config_nodes",
    metadata,
    Column("node", String(100), primary_key=True),
    # web | delivery | all
    Column("kind", String(20), nullable=False),
    Column("generation", Integer, nullable=False),
    # why this process could not apply a newer generation (it runs the one it has)
    Column("error", Text),
    Column("seen_at", UTCDateTime(), nullable=False),
)
