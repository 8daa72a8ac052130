"""The schema class."""

from __future__ import annotations

import strawberry


class ApiSchema(strawberry.Schema):
    """strawberry.Schema for this API.

    Errors are coded and masked (R13) on the server's one execution path
    (graphql_api/engine/operations.py and its transports), not here: the server runs every
    operation through `graphql_api.face.strawberry_engine.EngineSchema`, a subclass of this one.
    """
