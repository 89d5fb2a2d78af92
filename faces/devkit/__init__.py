"""The adapter developer kit: scaffolding adapter packages (``govhub adapter new``) and generating them from a WSDL (``--from-wsdl``)."""
