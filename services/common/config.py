"""Settings shared by every service and the gateway; each service subclasses with its own env prefix."""

import json
import os
from pathlib import Path
from typing import Any

import jwt
from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_JWT_SECRET = "dev-only-jwt-secret-change-me-0123456789abcdef"  # noqa: S105 - refused outside development
DEV_PII_KEY = "ZGV2LW9ubHktcGlpLWtleS0zMi1ieXRlcy1sb25nISE="  # base64 of 32 bytes, dev only
DEV_HMAC_KEY = "dev-only-hmac-key-change-me"
# What every token must carry as `aud` and `iss` unless the settings name the bank's own values.
DEFAULT_JWT_AUDIENCE = "postal-savings-suite"
DEFAULT_JWT_ISSUER = "postal-savings-dev"
# Settings one SUITE_<NAME> variable gives every process at once (a process's own <PREFIX>_<NAME> wins).
SUITE_WIDE = (
    "jwt_secret",
    "jwt_audience",
    "jwt_issuer",
    "header_timeout_seconds",
    "connection_limit",
    "nats_url",
    "nats_subject_prefix",
    "nats_partitions",
)
PLACEHOLDERS = {DEV_JWT_SECRET, DEV_PII_KEY, DEV_HMAC_KEY, "", "changeme", "change-me", "secret"}
DEFAULT_PORTS = {"gateway": 8000, "profile": 8001, "segmentation": 8002, "feedback": 8003, "loyalty": 8004}


def suite_port(service: str) -> int:
    """Where a process of the suite listens: its <SERVICE>_PORT, else SUITE_PORT_BASE plus its offset
    (gateway +0, profile +1, segmentation +2, feedback +3, loyalty +4), else the default port. Every
    peer URL a setting leaves unset is derived from these, so one variable moves a whole suite."""
    own = os.environ.get(f"{service.upper()}_PORT")
    if own:
        return int(own)
    base = os.environ.get("SUITE_PORT_BASE")
    offset = DEFAULT_PORTS[service] - DEFAULT_PORTS["gateway"]
    return int(base) + offset if base else DEFAULT_PORTS[service]


def peer_url(service: str, path: str = "") -> str:
    """The URL of a peer on this machine, from suite_port (SUITE_PEER_HOST names another host)."""
    return f"http://{os.environ.get('SUITE_PEER_HOST', '127.0.0.1')}:{suite_port(service)}{path}"


def with_derived(values: Any, derived: dict[str, Any]) -> Any:
    """A before-validator's values with each of `derived` filled in where the settings left it unset."""
    if not isinstance(values, dict):
        return values
    return {**{k: v for k, v in derived.items() if k not in values}, **values}


def parse_jwks(text: str) -> dict[str, Any]:
    """A JWKS document's keys by `kid`; ValueError unless it is one whose every key is RSA and has a kid."""
    try:
        keys = jwt.PyJWKSet.from_json(text).keys
    except (jwt.PyJWKSetError, jwt.InvalidKeyError, ValueError, TypeError) as exc:
        raise ValueError(f"not a JWKS of RSA keys: {exc}") from None
    if any(not key.key_id or key.key_type != "RSA" for key in keys):
        raise ValueError("every key of the JWKS needs its kid and kty RSA")
    return {str(key.key_id): key.key for key in keys}


class BaseServiceSettings(BaseSettings):
    """Every field can be set as <PREFIX>_<NAME> in the environment (e.g. PROFILE_DATABASE_URL)."""

    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    environment: str = "development"
    host: str = "127.0.0.1"
    port: int = 8000
    log_level: str = "INFO"
    database_url: str = "sqlite:///data/service.db"
    jwt_algorithm: str = "HS256"
    jwt_secret: str = DEV_JWT_SECRET
    jwt_public_key: str = ""  # PEM, for RS256 in production: the bank's identity provider's key
    # RS256: the identity provider's keys as a JWKS ({"keys": [{"kid": ..., "kty": "RSA", ...}]}), inline
    # or in a file; a token's header `kid` picks one, so keys rotate without downtime (docs/operations.md).
    jwt_jwks: str = ""
    jwt_jwks_file: str = ""
    # Every token must name this suite as its audience and this issuer, and live at most this long.
    jwt_audience: str = DEFAULT_JWT_AUDIENCE
    jwt_issuer: str = DEFAULT_JWT_ISSUER
    jwt_max_lifetime_seconds: int = 86_400
    # RS256: the public halves of the suite's own services' consumer keys, {"<service>-consumer": PEM};
    # a token signed with one (header kid = that name) is that service's system token and nothing else.
    # (A JSON string, not a dict field: settings are frozen and hashable.)
    jwt_service_keys: str = ""

    @field_validator("jwt_service_keys")
    @classmethod
    def _service_keys_are_an_object_of_pems(cls, value: str) -> str:
        if value.strip():
            parsed = json.loads(value)
            if not isinstance(parsed, dict) or not all(isinstance(v, str) for v in parsed.values()):
                raise ValueError('jwt_service_keys must be a JSON object {"<service>-consumer": "<PEM>"}')
        return value

    def service_keys(self) -> dict[str, str]:
        return json.loads(self.jwt_service_keys) if self.jwt_service_keys.strip() else {}

    @field_validator("jwt_jwks")
    @classmethod
    def _jwks_is_a_key_set(cls, value: str) -> str:
        if value.strip():
            parse_jwks(value)
        return value

    def jwks(self) -> dict[str, Any]:
        """The RS256 keys of JWT_JWKS and JWT_JWKS_FILE by `kid` (PyJWT key objects)."""
        found: dict[str, Any] = {}
        for text in (self.jwt_jwks, Path(self.jwt_jwks_file).read_text() if self.jwt_jwks_file else ""):
            if text.strip():
                found.update(parse_jwks(text))
        return found

    jwt_leeway_seconds: int = 30
    max_page_size: int = 200
    max_body_bytes: int = 1_048_576  # a larger request body is 413 (services/common/limits.py)
    request_timeout_seconds: float = 60.0  # unanswered for longer: 504 (above a feed's 30 s long poll)
    # Below the app, in the server (services/common/connection_limits.py): a request head, or a stalled
    # body, not in within this is 408 and closed; past the connection limit the oldest idle connection
    # is closed, or the new one is 503 when none is idle (0: half the soft open-files limit, <= 10,000).
    header_timeout_seconds: float = Field(default=10.0, gt=0)
    connection_limit: int = Field(default=0, ge=0)

    @model_validator(mode="before")
    @classmethod
    def _suite_wide_defaults(cls, values: Any) -> Any:
        # The secret, the token binding and the connection limits may be given once for the whole
        # suite (SUITE_JWT_SECRET, SUITE_JWT_AUDIENCE, SUITE_JWT_ISSUER, SUITE_HEADER_TIMEOUT_SECONDS,
        # SUITE_CONNECTION_LIMIT); a service's own wins.
        suite = {name: os.environ.get(f"SUITE_{name.upper()}") for name in SUITE_WIDE}
        values = with_derived(values, {name: value for name, value in suite.items() if value})
        # The process's own port follows SUITE_PORT_BASE like its peers' (the prefix names the service).
        service = str(cls.model_config.get("env_prefix") or "").rstrip("_").lower()
        if service in DEFAULT_PORTS:
            values = with_derived(values, {"port": suite_port(service)})
        return values

    @model_validator(mode="after")
    def _refuse_unknown_settings(self) -> "BaseServiceSettings":
        # A misspelt or retired variable under this service's own prefix would otherwise be ignored
        # silently (the service then runs on a default nobody chose): stop at start and name it.
        prefix = str(self.model_config.get("env_prefix") or "").upper()
        if not prefix:
            return self
        known = {name.upper() for name in type(self).model_fields}
        unknown = sorted(
            key for key in os.environ if key.upper().startswith(prefix) and key.upper()[len(prefix) :] not in known
        )
        if unknown:
            raise ValueError(f"unknown settings {', '.join(unknown)}: {type(self).__name__} has no such field")
        return self

    @property
    def is_development(self) -> bool:
        return self.environment in {"development", "test"}

    @model_validator(mode="after")
    def _refuse_placeholder_secrets(self) -> "BaseServiceSettings":
        if self.is_development:
            return self
        bad = [name for name in self.secret_fields() if getattr(self, name) in PLACEHOLDERS]
        if self.jwt_algorithm == "RS256":
            bad = [b for b in bad if b != "jwt_secret"]
            if not self.jwt_public_key and not (self.jwt_jwks or self.jwt_jwks_file):
                bad.append("jwt_public_key (or jwt_jwks)")
        if bad:
            raise ValueError(f"placeholder or empty secrets outside development: {', '.join(sorted(bad))}")
        return self

    def secret_fields(self) -> list[str]:
        return ["jwt_secret"]


class FeedConsumerSettings(BaseSettings):
    """The settings of a service that consumes event feeds, one name for each across services.
    Mixed into a service's settings class; the feed URLs themselves are the service's own fields,
    named `<owner>_feed_url`: one left unset is the owner's feed at its suite_port ("" turns it off)."""

    @model_validator(mode="before")
    @classmethod
    def _derive_feed_urls(cls, values: Any) -> Any:
        owners = [name.removesuffix("_feed_url") for name in cls.model_fields if name.endswith("_feed_url")]
        return with_derived(values, {f"{o}_feed_url": peer_url(o, "/v1/events") for o in owners})

    feed_batch_size: int = 500
    # RS256: the PEM private key this service signs its consumers' system tokens with; the feed owners
    # trust its public half in their JWT_SERVICE_KEYS under "<service>-consumer" (docs/operations.md).
    consumer_signing_key: str = ""
    consumer_key_version: str = ""  # set when rotating: the tokens' kid becomes "<service>-consumer.<version>"
    feed_wait_seconds: float = 20.0  # long poll: how long the feed may hold an empty answer (0: short polls)
    feed_idle_seconds: float = 1.0  # short polls: the pause after an empty one; also the first retry delay
    consumer_max_lag: int = 10_000  # readiness fails beyond this many unapplied events
    consumer_max_silence_seconds: float = 60.0  # readiness fails when no poll has succeeded for this long


class PersonalDataSettings(BaseSettings):
    """The settings of a service that keeps personal data encrypted (services.common.pii)."""

    pii_keys: str = DEV_PII_KEY  # "kid:<base64>,..."; the first encrypts, all decrypt (rotation)
    reveal_roles: str = "supervisor,admin"  # who may read full personal data, each read logged

    @property
    def reveal_role_set(self) -> frozenset[str]:
        return frozenset(r.strip() for r in self.reveal_roles.split(",") if r.strip())


class EventTransportSettings(BaseSettings):
    """NATS JetStream as the event transport beside the HTTP feeds (docs/events.md, "Events on NATS
    JetStream"). Without `nats_url` nothing touches a broker: the HTTP feeds are the default and the
    fallback. The URL, prefix and partition count are suite-wide (SUITE_NATS_URL, ...): relays and
    consumers must agree on them."""

    nats_url: str = ""  # nats://[user:password@]host:4222[,nats://...]; empty: no broker
    nats_relay: bool = True  # with nats_url: relay this service's outbox to its stream (one replica at a time)
    nats_subject_prefix: str = Field(default="suite", pattern=r"^[a-z0-9_-]{1,32}$")
    nats_partitions: int = Field(default=8, ge=1, le=256)  # of each stream, by customer (crc32 of subject_id)
    nats_dedup_window_seconds: float = Field(default=600.0, gt=0)  # JetStream drops a repeated event id within it
    nats_stream_max_age_days: float = Field(default=7.0, gt=0)  # events older than this leave the stream
    nats_stream_replicas: int = Field(default=1, ge=1, le=5)  # 3 on the 3-node cluster (deploy/k8s/nats)
    nats_lease_seconds: float = Field(default=10.0, ge=1)  # a dead replica's relay or partitions move after this
    nats_relay_batch: int = Field(default=500, ge=1, le=10_000)
    # Feeds (owners' names, comma-separated) this service consumes from JetStream instead of HTTP,
    # e.g. LOYALTY_JETSTREAM_FEEDS=profile; needs nats_url.
    jetstream_feeds: str = ""

    @model_validator(mode="after")
    def _jetstream_feeds_need_a_broker(self) -> "EventTransportSettings":
        if self.jetstream_feeds.strip() and not self.nats_url:
            raise ValueError("jetstream_feeds needs nats_url (SUITE_NATS_URL or <SERVICE>_NATS_URL)")
        return self

    def jetstream_feed_names(self) -> set[str]:
        return {name.strip() for name in self.jetstream_feeds.split(",") if name.strip()}


class JobSettings(BaseSettings):
    """The settings of a service that runs scheduled jobs (services.common.jobs); each job's schedule is
    the service's own field, `job_<name>_schedule`."""

    jobs_in_process: bool = True  # false where Kubernetes CronJobs run them (both together are safe too)
    jobs_zone: str = "Asia/Shanghai"  # cron schedules are read in this zone
    jobs_tick_seconds: float = 15.0  # how often the in-process runner looks for a due window


class ApprovalSettings(BaseSettings):
    """The settings of a service with actions under dual control (services.common.approvals): how long
    a request waits for a checker, and when the job that marks lapsed requests expired runs. Which
    actions are under it are the service's own `dual_control_<action>` fields."""

    approval_ttl_hours: int = Field(default=72, ge=1, le=720)
    job_approvals_expiry_schedule: str = "*/15 * * * *"
