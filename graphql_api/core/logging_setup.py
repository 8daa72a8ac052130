"""Structured JSON logs on stderr (R18): one object per line, secrets and e-mails masked.

The request line (request id, trace id, user id, operation, duration, SQL count, outcome) is
written by graphql_api/face/observe.py; every record, that one included, is masked here
(graphql_api/core/telemetry/masking.py), so no call site has to remember to.
"""

from __future__ import annotations

import logging
import sys
from datetime import UTC, datetime
from typing import Any

import orjson

from graphql_api.core.telemetry.masking import MASK, is_secret_key, mask_text, mask_value

_STANDARD = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key in _STANDARD:
                continue
            if is_secret_key(key):
                entry[key] = MASK
            else:
                entry[key] = mask_value(value) if isinstance(value, dict | list) else value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        # Shapes (e-mails, bearer credentials, JWTs, API keys) anywhere in the line.
        return mask_text(orjson.dumps(entry, default=str).decode())


class MaskingFormatter(logging.Formatter):
    """The plain-text format of the CLI commands, masked like the JSON one."""

    def format(self, record: logging.LogRecord) -> str:
        return mask_text(super().format(record))


def configure_logging(level: str = "INFO", *, json: bool = True) -> None:
    handler = logging.StreamHandler(sys.stderr)
    if json:
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(MaskingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
