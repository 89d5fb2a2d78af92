"""The ``govhub`` command line: one group, its commands added here, explicitly.

Each command lives in the module of its subject (``faces/cli/<subject>.py``) and knows
nothing of this group; the group knows every command.
"""

from __future__ import annotations

import click

from faces.cli import (
    adapters,
    audit,
    cases,
    certs,
    clients,
    data,
    demo,
    dlq,
    items,
    jobs,
    messages,
    reload,
    replays,
    run,
    schemas,
    users,
)
from faces.cli.common import config_option
from hub import __version__

__all__ = ["main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="govhub")
@config_option
def main() -> None:
    """GovHub: the integration hub of the city's Internet + government services platform."""


for command in (
    run.run,
    run.serve,
    run.worker,
    run.init,
    run.sandbox,
    reload.reload,
    clients.clients,
    messages.messages,
    dlq.dlq,
    users.users,
    jobs.jobs,
    adapters.adapters,
    adapters.adapter,
    items.items,
    cases.cases,
    demo.demo,
    certs.certs,
    audit.audit,
    data.data,
    schemas.schemas,
):
    main.add_command(command)
messages.messages.add_command(replays.replay)
messages.messages.add_command(replays.replays)
