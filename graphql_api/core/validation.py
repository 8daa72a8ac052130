"""Input validation: collect every DomainError, then write nothing if any (R11).

Services validate with it (and CLI or seed input goes through the same services):

    check = Checks()
    title = check.text(title, "input.title", max_length=200)
    check.reject_if_failed()  # raises Rejected with every error collected
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from urllib.parse import urlparse

from graphql_api.core.errors import BadUserInput, DomainError, Rejected, UserErrorCode
from graphql_api.core.ids import decode_id

# Deliberately simple: one @, no spaces, a dot in the domain. Deliverability is the mail
# server's call; this only rejects what is plainly not an address.
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s.]{2,}$")


@dataclass
class Checks:
    errors: list[DomainError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    def fail(self, code: UserErrorCode, message: str, path: str | None) -> None:
        self.errors.append(DomainError(code, message, path))

    def reject_if_failed(self) -> None:
        """Raise `Rejected` with every error collected so far, if there is one."""
        if self.errors:
            raise Rejected(*self.errors)

    def text(
        self,
        value: str | None,
        path: str,
        *,
        max_length: int,
        min_length: int = 1,
        required: bool = True,
    ) -> str | None:
        """Stripped text within bounds; None (and an error when required) if blank."""
        if value is None or not value.strip():
            if required:
                self.fail(UserErrorCode.REQUIRED, "A value is required.", path)
            return None
        cleaned = value.strip()
        if "\x00" in cleaned:
            # PostgreSQL text cannot hold NUL; reject it here rather than fail in the driver.
            self.fail(UserErrorCode.INVALID_FORMAT, "Must not contain NUL characters.", path)
            return None
        if len(cleaned) > max_length:
            self.fail(UserErrorCode.TOO_LONG, f"At most {max_length} characters.", path)
        elif len(cleaned) < min_length:
            self.fail(UserErrorCode.TOO_SHORT, f"At least {min_length} characters.", path)
        return cleaned

    def email(self, value: str | None, path: str) -> str | None:
        cleaned = self.text(value, path, max_length=254)
        if cleaned is None:
            return None
        if not _EMAIL.match(cleaned):
            self.fail(UserErrorCode.INVALID_FORMAT, "Not an e-mail address.", path)
        return cleaned.lower()

    def url(self, value: str | None, path: str, *, required: bool = False) -> str | None:
        cleaned = self.text(value, path, max_length=2048, required=required)
        if cleaned is None:
            return None
        parsed = urlparse(cleaned)
        if parsed.scheme not in {"http", "https"} or not parsed.netloc:
            self.fail(UserErrorCode.INVALID_FORMAT, "Must be an http(s) URL.", path)
        return cleaned

    def decimal(
        self,
        value: Decimal | None,
        path: str,
        *,
        minimum: Decimal | None = None,
        maximum: Decimal | None = None,
        exclusive_minimum: bool = False,
        places: int | None = None,
        required: bool = False,
    ) -> Decimal | None:
        if value is None:
            if required:
                self.fail(UserErrorCode.REQUIRED, "A value is required.", path)
            return None
        if not value.is_finite():
            self.fail(UserErrorCode.INVALID_VALUE, "Must be a finite number.", path)
            return None
        if minimum is not None and (value <= minimum if exclusive_minimum else value < minimum):
            bound = "greater than" if exclusive_minimum else "at least"
            self.fail(UserErrorCode.OUT_OF_RANGE, f"Must be {bound} {minimum}.", path)
        if maximum is not None and value > maximum:
            self.fail(UserErrorCode.OUT_OF_RANGE, f"Must be at most {maximum}.", path)
        exponent = value.as_tuple().exponent
        if places is not None and isinstance(exponent, int) and -exponent > places:
            self.fail(UserErrorCode.INVALID_FORMAT, f"At most {places} decimal places.", path)
        return value

    def integer(
        self, value: int | None, path: str, *, minimum: int, maximum: int, required: bool = False
    ) -> int | None:
        if value is None:
            if required:
                self.fail(UserErrorCode.REQUIRED, "A value is required.", path)
            return None
        if not minimum <= value <= maximum:
            self.fail(UserErrorCode.OUT_OF_RANGE, f"Must be between {minimum} and {maximum}.", path)
        return value

    def strings(
        self, values: list[str] | None, path: str, *, max_items: int, max_length: int
    ) -> list[str]:
        """A list of distinct, stripped, non-blank strings within bounds."""
        if not values:
            return []
        if len(values) > max_items:
            self.fail(UserErrorCode.OUT_OF_RANGE, f"At most {max_items} items.", path)
        cleaned: list[str] = []
        for index, value in enumerate(values):
            item = self.text(value, f"{path}.{index}", max_length=max_length)
            if item is not None and item not in cleaned:
                cleaned.append(item)
        return cleaned

    def instant(
        self, value: datetime | None, path: str, *, required: bool = False
    ) -> datetime | None:
        """A point in time; it must carry a UTC offset (a naive time is ambiguous)."""
        if value is None:
            if required:
                self.fail(UserErrorCode.REQUIRED, "A value is required.", path)
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            self.fail(UserErrorCode.INVALID_FORMAT, "Must include a UTC offset.", path)
            return None
        return value

    def global_id(self, value: str | None, path: str, *, type_name: str) -> int | None:
        """The primary key of a global ID naming `type_name`.

        Malformed: INVALID_FORMAT; well-formed but of another type: NOT_FOUND (no object of
        this type has it). Whether the row exists (and is visible) is the caller's check.
        """
        if value is None:
            return None
        try:
            actual, pk = decode_id(value, field=path)
        except BadUserInput:
            self.fail(UserErrorCode.INVALID_FORMAT, "Malformed ID.", path)
            return None
        if actual != type_name:
            self.fail(UserErrorCode.NOT_FOUND, f"No {type_name} with this ID.", path)
            return None
        return pk
