"""What the HTTP faces (REST, SOAP, console, metrics) share: who is calling, problem
documents, request bodies and the pieces of the OpenAPI document."""

from __future__ import annotations
