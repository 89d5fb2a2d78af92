"""The adapter developer kit: scaffolding adapter packages and generating them from a WSDL."""
