"""Configuration: `config.toml` plus `DROPTRACK_*` environment overrides, validated at start.

Every key is documented in `config.example.toml`. Environment variables name a section and a
key joined by underscores, e.g. `DROPTRACK_DATABASE_URL` or `DROPTRACK_DISPATCHER_THREADS`.
Lists (encryption keys) are comma-separated in the environment.
"""

from __future__ import annotations

import ipaddress
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from cryptography.fernet import Fernet
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

ENV_PREFIX = "DROPTRACK_"
DEFAULT_CONFIG_FILE = "config.toml"
DEFAULT_DATABASE_URL = "sqlite:///droptrack.db"
# DROPTRACK_* variables that are not settings: the config file's path, and the flag the
# `droptrack worker` command sets for its Dramatiq processes.
INTERNAL_VARIABLES = frozenset({ENV_PREFIX + "CONFIG", ENV_PREFIX + "WORKER_PROCESS"})


class ConfigError(Exception):
    """The configuration cannot be used; the message names the key and the reason."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AppSettings(_Section):
    mode: Literal["production", "demo"] = "production"
    public_url: str = "http://127.0.0.1:8080"

    @field_validator("public_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")


class ServerSettings(_Section):
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=1, le=65535)
    threads: int = Field(default=8, ge=1, le=256)
    connection_limit: int = Field(default=1000, ge=10, le=60_000)
    request_read_seconds: float = Field(default=10.0, gt=0, le=600)
    idle_seconds: int = Field(default=30, ge=1, le=3600)
    max_header_bytes: int = Field(default=64 * 1024, ge=4096, le=1024 * 1024)
    # Reverse proxies in front of DropTrack (networks, e.g. ["127.0.0.1/32", "10.0.0.0/8"]),
    # or how many there are; the client is then read from X-Forwarded-For.
    trusted_proxies: list[str] = Field(default_factory=list)
    proxy_hops: int = Field(default=0, ge=0, le=10)

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for entry in value:
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise ValueError(f"{entry!r} is not an IP network (e.g. 10.0.0.0/8)") from None
        return value


class DatabaseSettings(_Section):
    url: str = DEFAULT_DATABASE_URL
    sqlite_busy_timeout_ms: int = Field(default=10_000, ge=0)
    pool_size: int = Field(default=10, ge=1)

    @field_validator("url")
    @classmethod
    def _supported_backend(cls, value: str) -> str:
        if value.startswith("postgres://"):
            value = "postgresql://" + value.removeprefix("postgres://")
        if value.startswith("postgresql://"):
            value = "postgresql+psycopg://" + value.removeprefix("postgresql://")
        if not value.startswith(("sqlite://", "postgresql+psycopg://")):
            raise ValueError("must be a sqlite:/// or postgresql:// URL")
        return value


class SecuritySettings(_Section):
    secret_key: str = ""
    encryption_keys: list[str] = Field(default_factory=list)
    allow_loopback_http: bool = False
    # Spreadsheet suppliers' folders must lie inside this folder ("" = the folder DropTrack
    # is started in); DropTrack writes order files there and reads tracking files.
    csv_root: str = ""

    @field_validator("secret_key")
    @classmethod
    def _long_enough(cls, value: str) -> str:
        if value and len(value) < 32:
            raise ValueError("must be at least 32 characters (run `droptrack init` for one)")
        return value

    @field_validator("encryption_keys")
    @classmethod
    def _fernet_keys(cls, value: list[str]) -> list[str]:
        for position, key in enumerate(value, start=1):
            try:
                Fernet(key.encode("ascii"))
            except (ValueError, UnicodeEncodeError):
                raise ValueError(
                    f"key {position} is not a Fernet key (make one with `droptrack keys generate`)"
                ) from None
        return value


class WebhookSettings(_Section):
    max_body_bytes: int = Field(default=2 * 1024 * 1024, ge=1024)


class DispatcherSettings(_Section):
    enabled: bool = True
    threads: int = Field(default=4, ge=1, le=64)
    poll_interval_seconds: float = Field(default=0.5, gt=0)
    # Budget-aware dispatch (core/budget.py): a job whose store's API budget cannot pay for
    # its first call now is handed back, due when it can, and the thread takes other work;
    # work of stores without a budget (WooCommerce) comes last. false = the old way: the
    # thread sleeps in the limiter until the budget has refilled (kept for comparison).
    budget_aware: bool = True
    lease_seconds: float = Field(default=120.0, gt=0)
    max_attempts: int = Field(default=8, ge=1)
    backoff_base_seconds: float = Field(default=2.0, gt=0)
    backoff_max_seconds: float = Field(default=3600.0, gt=0)
    # A remote (store or supplier) failing this many times in a row is down (its circuit
    # opens): jobs that used up their attempts against it wait instead of giving up, retrying
    # at most circuit_max_open_seconds apart; the first success closes it.
    circuit_failures: int = Field(default=3, ge=1)
    circuit_max_open_seconds: float = Field(default=900.0, gt=0)


class SchedulerSettings(_Section):
    enabled: bool = True
    tracking_sweep_minutes: float = Field(default=5.0, gt=0)
    unshipped_check_hours: float = Field(default=6.0, gt=0)
    csv_interval_minutes: float = Field(default=15.0, gt=0)
    retention_interval_minutes: int = Field(default=60, ge=1)
    retention_days: int = Field(default=30, ge=1)


class WorkerSettings(_Section):
    """Scaled-out mode: `droptrack scheduler` queues outbox jobs on Redis for `droptrack worker`."""

    redis_url: str = "redis://127.0.0.1:6379/0"
    queue_grace_seconds: float = Field(default=60.0, gt=0)
    sweep_interval_seconds: float = Field(default=1.0, gt=0)
    threads: int = Field(default=4, ge=1, le=64)
    standby_poll_seconds: float = Field(default=2.0, gt=0)
    # Shopify budgets and supplier request rates shared through Redis (redis_url): "auto" in
    # `droptrack worker` processes only, "redis" always, "process" never.
    rate_limits: Literal["auto", "redis", "process"] = "auto"
    # Jobs committed by web (gunicorn) and worker processes are queued at once instead of at
    # the scheduler's next sweep: a worker sends its follow-ups itself, a web process NOTIFYs
    # the scheduler (PostgreSQL). The sweep still sends any message that got lost, after
    # queue_grace_seconds.
    send_at_commit: bool = True


class AlertSettings(_Section):
    no_tracking_days: int = Field(default=5, ge=1)
    # A parcel is stuck when it has had no carrier scan for this long AND has been on its way
    # longer than its route usually takes (the supplier's learned delivery window to that
    # country, integration/engine/eta.py): a slow route is not a stuck parcel.
    stuck_in_transit_days: int = Field(default=7, ge=1)
    sweep_interval_minutes: int = Field(default=30, ge=1)
    # Order alerts wait this long before the owner is e-mailed; one that resolves itself in
    # the meantime never e-mails.
    email_grace_hours: float = Field(default=12.0, ge=0)
    # "digest": one e-mail a day with what is new; "each": one e-mail per alert.
    owner_emails: Literal["digest", "each"] = "digest"


class EmailSettings(_Section):
    """Outgoing e-mail (SMTP). Disabled until a host is set: messages then wait as jobs."""

    smtp_host: str = ""
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_username: str = ""
    smtp_password: str = ""
    security: Literal["starttls", "tls", "none"] = "starttls"
    from_address: str = "DropTrack <droptrack@localhost>"
    owner_address: str = ""
    timeout_seconds: float = Field(default=20.0, gt=0)


class ShopifySettings(_Section):
    """The Shopify app DropTrack runs as (Partner dashboard > Apps > client credentials)."""

    client_id: str = ""
    client_secret: str = ""
    api_version: str = "2026-07"
    scopes: str = "read_orders,write_merchant_managed_fulfillment_orders,write_fulfillments"
    # Tests and the demo only (needs loopback HTTP allowed): the sandbox serving every shop
    # under <admin_base_url>/shops/<shop>. Empty in production: always https://<shop>.
    admin_base_url: str = ""
    # Shops that may install DropTrack from Shopify without the owner (self-hosted: nobody
    # else's shop should connect). Any other shop is connected only when the owner, signed in,
    # starts or approves it (the Stores page); a stranger's attempt is refused and reported.
    allowed_shops: list[str] = Field(default_factory=list)


class WooCommerceSettings(_Section):
    app_name: str = "DropTrack"
    reconcile_interval_minutes: float = Field(default=15.0, gt=0)
    webhook_health_interval_minutes: float = Field(default=30.0, gt=0)
    status_flush_interval_minutes: float = Field(default=5.0, gt=0)
    status_lookback_hours: int = Field(default=72, ge=1)
    connect_request_minutes: int = Field(default=60, ge=1)


class TrackingSettings(_Section):
    """Tracking services (17TRACK, AfterShip, DHL): which one watches parcels, keys, budgets."""

    # The service parcels go to when their supplier sends no carrier events (spreadsheet
    # suppliers) and no store or supplier setting says otherwise.
    service: Literal["17track", "aftership", "dhl", "supplier"] = "17track"
    # The 17TRACK API key (`17token`); it also signs 17TRACK's pushes. Empty: 17TRACK is off.
    seventeen_track_key: str = ""
    seventeen_track_url: str = "https://api.17track.net/track/v2.2"
    requests_per_second: float = Field(default=3.0, gt=0)
    # AfterShip (`as-api-key`) and the secret its webhooks are signed with. Empty: off.
    aftership_key: str = ""
    aftership_webhook_secret: str = ""
    aftership_url: str = "https://api.aftership.com/tracking/2026-07"
    # DHL Unified Tracking (`DHL-API-Key`): pull only, a daily call budget reset at 00:00 GMT.
    dhl_key: str = ""
    dhl_url: str = "https://api-eu.dhl.com/track"
    dhl_daily_calls: int = Field(default=250, ge=1)
    dhl_requests_per_second: float = Field(default=1.0, gt=0)
    # DHL has no push: parcels are polled this often (hours; a quarter of it when busy).
    dhl_poll_hours: float = Field(default=8.0, gt=0)
    sweep_minutes: float = Field(default=5.0, gt=0)
    # Owner alert when fewer credits than this remain.
    quota_alert_below: int = Field(default=10, ge=0)
    # Fallback poll when no push came for this long (hours), by status; push is the rule.
    poll_after_hours: float = Field(default=48.0, gt=0)


class AdminSettings(_Section):
    """The dashboard, the JSON API and the customer's tracking page."""

    session_hours: int = Field(default=12, ge=1)
    cookie_samesite: Literal["Lax", "Strict", "None"] = "Lax"
    login_max_failures: int = Field(default=5, ge=1)
    login_lockout_minutes: int = Field(default=15, ge=1)
    # Failed sign-ins from one address, whatever the e-mails, before it is paused.
    login_address_max_failures: int = Field(default=20, ge=1)
    # One account guessed from many addresses: after login_max_failures failures in a row,
    # each attempt waits twice as long as the last, from this many seconds up to
    # login_lockout_minutes. A browser that signed in to the account before is not slowed.
    login_backoff_seconds: float = Field(default=30.0, gt=0)
    tracking_lookups_per_window: int = Field(default=20, ge=1)
    tracking_window_minutes: int = Field(default=10, ge=1)
    eta_min_days: int = Field(default=7, ge=0)
    eta_max_days: int = Field(default=15, ge=1)
    frame_ancestors: list[str] = Field(
        default_factory=lambda: ["https://admin.shopify.com", "https://*.myshopify.com"])
    page_size: int = Field(default=50, ge=5, le=500)


class LoggingSettings(_Section):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    format: Literal["text", "json"] = "text"


class MetricsSettings(_Section):
    # Bearer token for GET /metrics from other machines; loopback scrapes need none.
    token: str = ""


class Settings(_Section):
    app: AppSettings = Field(default_factory=AppSettings)
    server: ServerSettings = Field(default_factory=ServerSettings)
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    security: SecuritySettings = Field(default_factory=SecuritySettings)
    webhooks: WebhookSettings = Field(default_factory=WebhookSettings)
    dispatcher: DispatcherSettings = Field(default_factory=DispatcherSettings)
    scheduler: SchedulerSettings = Field(default_factory=SchedulerSettings)
    alerts: AlertSettings = Field(default_factory=AlertSettings)
    workers: WorkerSettings = Field(default_factory=WorkerSettings)
    email: EmailSettings = Field(default_factory=EmailSettings)
    shopify: ShopifySettings = Field(default_factory=ShopifySettings)
    woocommerce: WooCommerceSettings = Field(default_factory=WooCommerceSettings)
    tracking: TrackingSettings = Field(default_factory=TrackingSettings)
    admin: AdminSettings = Field(default_factory=AdminSettings)
    logging: LoggingSettings = Field(default_factory=LoggingSettings)
    metrics: MetricsSettings = Field(default_factory=MetricsSettings)

    @property
    def demo(self) -> bool:
        return self.app.mode == "demo"

    @property
    def loopback_http_allowed(self) -> bool:
        """Plain http to 127.0.0.1 (the sandboxes): demo mode or an explicit opt-in only."""
        return self.demo or self.security.allow_loopback_http


SECTIONS: dict[str, type[_Section]] = {
    name: field.annotation  # type: ignore[misc]
    for name, field in Settings.model_fields.items()
}


def _env_overrides(environ: Mapping[str, str]) -> dict[str, dict[str, Any]]:
    """Map `DROPTRACK_<SECTION>_<KEY>` variables onto the nested settings structure."""
    overrides: dict[str, dict[str, Any]] = {}
    for name, value in environ.items():
        if not name.startswith(ENV_PREFIX) or name in INTERNAL_VARIABLES:
            continue
        rest = name.removeprefix(ENV_PREFIX).lower()
        for section, model in SECTIONS.items():
            key = rest.removeprefix(section + "_")
            if rest.startswith(section + "_") and key in model.model_fields:
                annotation = str(model.model_fields[key].annotation)
                parsed: Any = value
                if annotation.startswith("list"):
                    parsed = [part.strip() for part in value.split(",") if part.strip()]
                overrides.setdefault(section, {})[key] = parsed
                break
        else:
            raise ConfigError(f"{name}: unknown setting (see config.example.toml)")
    return overrides


def _merge(base: dict[str, Any], overrides: dict[str, dict[str, Any]]) -> dict[str, Any]:
    merged = {section: dict(values) for section, values in base.items()}
    for section, values in overrides.items():
        existing = merged.get(section, {})
        if not isinstance(existing, dict):
            raise ConfigError(f"{section}: must be a table")
        merged[section] = {**existing, **values}
    return merged


def _describe(error: ValidationError) -> str:
    lines = []
    for item in error.errors():
        key = ".".join(str(part) for part in item["loc"])
        reason = item["msg"]
        if item["type"] == "extra_forbidden":
            reason = "unknown setting (see config.example.toml)"
        lines.append(f"{key}: {reason}")
    return "; ".join(lines)


def resolve_config_path(explicit: str | os.PathLike[str] | None = None,
                        environ: Mapping[str, str] | None = None) -> Path | None:
    """The file to read: --config, then DROPTRACK_CONFIG, then ./config.toml when present."""
    environ = os.environ if environ is None else environ
    if explicit:
        return Path(explicit)
    if environ.get(ENV_PREFIX + "CONFIG"):
        return Path(environ[ENV_PREFIX + "CONFIG"])
    default = Path(DEFAULT_CONFIG_FILE)
    return default if default.exists() else None


def load_settings(path: str | os.PathLike[str] | None = None,
                  environ: Mapping[str, str] | None = None,
                  overrides: Mapping[str, Mapping[str, Any]] | None = None) -> Settings:
    """Read, merge and validate the configuration; raise ConfigError naming the bad key."""
    environ = os.environ if environ is None else environ
    config_path = resolve_config_path(path, environ)
    data: dict[str, Any] = {}
    if config_path is not None:
        try:
            with config_path.open("rb") as handle:
                data = tomllib.load(handle)
        except FileNotFoundError:
            raise ConfigError(f"config file {config_path}: not found") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {config_path}: invalid TOML ({exc})") from None
    data = _merge(data, _env_overrides(environ))
    if overrides:
        data = _merge(data, {section: dict(values) for section, values in overrides.items()})
    try:
        settings = Settings.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_describe(exc)) from None
    _require_secrets(settings)
    return settings


def _require_secrets(settings: Settings) -> None:
    if settings.demo:
        return
    if not settings.security.secret_key:
        raise ConfigError("security.secret_key: required outside demo mode "
                          "(run `droptrack init` to write a config.toml with fresh secrets)")
    if not settings.security.encryption_keys:
        raise ConfigError("security.encryption_keys: required outside demo mode "
                          "(run `droptrack init` to write a config.toml with fresh secrets)")
