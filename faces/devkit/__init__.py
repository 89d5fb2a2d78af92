"""The adapter developer kit: scaffolding adapter packages (``govhub adapter new``)."""
