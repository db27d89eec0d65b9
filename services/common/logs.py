"""Structured JSON logs carrying the request id, with personal data and tokens redacted."""

import json
import logging
import re
import sys
import time

from services.common.context import current_request_id
from services.common.pii import PERSONAL_VALUES, Redaction

# Defence in depth: messages are written without personal data, but anything that looks like an
# ID number (a resident ID and the 18-character documents built like it, a permanent residence card,
# an HK/Macao travel permit), a bank card, a phone (mainland mobile or landline, with or without spaces
# and hyphens; E.164), an email or a bearer token is masked before a line leaves the process.
# PostgreSQL's error DETAIL (`Failing row contains (...)`, `Key (...)=(...)`) carries the row's values,
# so it goes too. The suite's own messages are English: any Chinese text in a line is data (a name, an
# address, a complaint's words) and is replaced whole. Passports, Taiwan permits and names in Latin
# letters have no shape to tell them by; they are kept out of messages by the code and of error text by
# the engines' hidden parameters (services.common.db).
_REDACTIONS: list[tuple[re.Pattern[str], Redaction]] = [
    (re.compile(r"(?i)bearer\s+[A-Za-z0-9._~+/=-]+"), "Bearer [redacted]"),
    (re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*"), "[redacted-jwt]"),
    (re.compile(r"(?m)^(\s*DETAIL:).*$"), r"\1 [redacted]"),
    (re.compile(r"Failing row contains \(.*"), "Failing row contains ([redacted])"),  # to the line's end
    *PERSONAL_VALUES,  # the same masks as free text in responses (services.common.pii.mask_text)
    (re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+(?:[·•][\u3400-\u9fff]+)*"), "[redacted-text]"),
]


def redact(text: str) -> str:
    for pattern, repl in _REDACTIONS:
        text = pattern.sub(repl, text)
    return text


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str):
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "service": self.service,
            "logger": record.name,
            "msg": redact(record.getMessage()),
            "request_id": getattr(record, "request_id", None) or current_request_id(),
        }
        fields = getattr(record, "fields", None)
        if fields:
            for key, value in fields.items():
                # Core keys are never overwritten by a caller's field.
                entry.setdefault(key, redact(value) if isinstance(value, str) else value)
        if record.exc_info:
            entry["exc"] = redact(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False, default=str)


def configure_logging(service: str, level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # uvicorn's own access log prints raw paths and query strings (which may hold a phone number).
    logging.getLogger("uvicorn.access").disabled = True
    # httpx logs every request's full URL, query string included, at INFO.
    for name in ("httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.WARNING)
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
