"""The wire format of the custom scalars, said in the schema (`@specifiedBy`, descriptions).

Strawberry's own Date, DateTime and Decimal with their parsing and serializing unchanged
(the engine's leaf serializers rely on those exact functions); only what introspection and
codegen read is added: where the format is specified and an example of it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal
from typing import Final

from strawberry.schema.types.base_scalars import (
    DateDefinition,
    DateTimeDefinition,
    DecimalDefinition,
)
from strawberry.types.scalar import ScalarDefinition

RFC3339: Final = "https://datatracker.ietf.org/doc/html/rfc3339#section-5.6"
DECIMAL_STRING: Final = "https://speleotrove.com/decimal/daconvs.html#reftostr"

SCALAR_OVERRIDES: Final[dict[object, ScalarDefinition]] = {
    dt.date: dataclasses.replace(
        DateDefinition,
        description="A calendar day as an RFC 3339 `full-date` string, e.g. `2026-03-02`.",
        specified_by_url=RFC3339,
    ),
    dt.datetime: dataclasses.replace(
        DateTimeDefinition,
        description="An instant as an RFC 3339 `date-time` string with its UTC offset, e.g. "
        "`2026-03-02T07:00:00+00:00`; input may be any ISO 8601 date-time.",
        specified_by_url=RFC3339,
    ),
    Decimal: dataclasses.replace(
        DecimalDefinition,
        description='An exact decimal number as a JSON string, e.g. `"1371.20"` (never a '
        "binary floating-point number, so no digit is lost); input may also be a number.",
        specified_by_url=DECIMAL_STRING,
    ),
}
