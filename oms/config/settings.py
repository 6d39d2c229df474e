"""Settings, read once from `OMS_*` environment variables."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, ValidationInfo, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from domain.endpoints import DEFAULT_ALLOWED_HOSTS
from domain.payment import FraudThresholds
from domain.returns import ConcessionTerms
from oms.config.auth import Principal, parse_api_keys


class Settings(BaseSettings):
    # Inputs are left out of validation errors: keys (OMS_API_KEYS, OMS_PAYLOAD_KEY) are secrets.
    model_config = SettingsConfigDict(env_prefix="OMS_", extra="ignore", hide_input_in_errors=True)

    api_host: str = "127.0.0.1"
    api_port: int = Field(8000, ge=1, le=65535)
    api_url: str | None = None  # how others (the simulated carrier) reach the API
    api_key: SecretStr | None = None  # the key `oms orders`, `oms hold`, ... send to the API
    temporal_port: int = Field(7233, ge=1, le=65535)
    ui_port: int = Field(8233, ge=1, le=65535)
    temporal_address: str | None = None
    temporal_namespace: str = "default"
    task_queue: str = "orders"
    data_dir: Path = Path(".data")
    database_url: SecretStr | None = None  # may carry a password: see resolved_database_url
    carrier_delay_s: float = Field(5.0, ge=0)
    # "simulated": `oms run` starts the sandbox carrier as a process of its own
    # (adapters.carrier_simulator), which posts to the API's webhook with a carrier key.
    carrier: str = "simulated"
    api_keys: SecretStr = SecretStr("")
    # Request limits (api/middleware/request_guard.py) and uvicorn's, where the API is served
    # (api/serve.py).
    api_max_body_bytes: int = Field(64 * 1024, ge=1024)
    api_body_timeout_s: float = Field(30.0, gt=0)
    api_timeout_keep_alive_s: int = Field(5, ge=1)
    api_limit_concurrency: int | None = Field(1000, gt=0)
    codec_max_body_bytes: int = Field(4 * 1024 * 1024, ge=1024)
    fraud_review_score: int = Field(60, ge=0, le=100)
    fraud_block_score: int = Field(90, ge=0, le=100)
    flaky_failures: int = Field(2, ge=0, le=10)
    # Fault drills (`make chaos`): the share of gateway calls that fail before reaching it,
    # and of those whose reply is lost after the work was done.
    gateway_fault_rate: float = Field(0.0, ge=0, le=1)
    gateway_lost_reply_rate: float = Field(0.0, ge=0, le=1)
    review_sla_s: int = Field(48 * 3600, gt=0)
    pickup_window_s: int = Field(3 * 24 * 3600, gt=0)
    # After delivery: returns, rewards (see domain.returns.ConcessionTerms).
    return_window_s: int = Field(30 * 24 * 3600, gt=0)
    return_auto_approve_below_minor: int = Field(10_000, ge=0)
    return_receipt_window_s: int = Field(14 * 24 * 3600, gt=0)
    reward_points_per_unit: int = Field(1, ge=0)
    continue_as_new_after_events: int | None = Field(None, gt=0)
    # Worker Versioning: off in the embedded run; on, each order stays on its starting build.
    worker_versioning: bool = False
    worker_deployment: str = "temporal-oms"
    worker_build_id: str = "dev"
    # Observability: the worker's Prometheus endpoint (off unless a port is set), the log
    # format of the API and worker processes ("text" or "json"), OpenTelemetry tracing.
    worker_metrics_port: int | None = Field(None, ge=1, le=65535)
    worker_metrics_host: str = "127.0.0.1"
    log_format: Literal["text", "json"] = "text"
    otel_tracing: bool = False
    # Worker tuning; None keeps the Temporal SDK's default (see workers.main.worker_tuning).
    # The workflow cache (0: none) is for the orders being worked on, not every open order:
    # an order spends most of its life waiting days for the carrier or the return window,
    # and a cached one costs the worker about 175 KB (`make bench`), so the SDK's 1000 would
    # hold 175 MB of orders doing nothing. An order evicted meanwhile replays its short
    # history on its next task (a few milliseconds). Raise it when more orders than this
    # are being placed and booked at once (`temporal_sticky_cache_miss` keeps climbing).
    worker_max_cached_workflows: int = Field(256, ge=0)
    worker_max_concurrent_workflow_tasks: int | None = Field(None, gt=0)
    worker_max_concurrent_activities: int | None = Field(None, gt=0)
    worker_workflow_task_pollers: int | None = Field(None, gt=0)
    worker_activity_task_pollers: int | None = Field(None, gt=0)
    # Worker processes `oms run` starts on the task queue. One process runs its Python on one
    # core at a time (the GIL), so a machine with cores to spare can run more; on two cores
    # shared with the server and the API, two were slower than one (`make bench`).
    worker_processes: int = Field(1, ge=1, le=64)
    # Payload encryption (oms/config/codec.py): the current key (`base64` or `id:base64` of
    # 32 bytes), older keys kept for decoding only, and the API's codec endpoint for the Web UI.
    payload_key: SecretStr | None = None
    payload_old_keys: SecretStr | None = None
    codec_cors_origins: str | None = None  # default: the dev server's Web UI on ui_port
    codec_require_key: bool = True
    # Hosts (names or IPs, comma separated) that flow steps may call (domain/endpoints.py):
    # the shop's own services, loopback only unless told.
    call_allowed_hosts: str = ",".join(DEFAULT_ALLOWED_HOSTS)
    # The event broker (oms/broker.py). Unset: `oms run` starts one on a free port and tells
    # the other processes its URL. Credentials, if the server asks for them, go here.
    nats_url: str | None = None
    nats_user: str | None = None
    nats_password: SecretStr | None = None
    # The journal's relay (oms/relay.py): its Prometheus endpoint (off unless a port is set),
    # and how long its lease lasts unrenewed before a standby relay takes over.
    relay_metrics_port: int | None = Field(None, ge=1, le=65535)
    relay_metrics_host: str = "127.0.0.1"
    relay_lease_s: float = Field(10.0, ge=1)
    # `oms intake` (oms/intake.py): deliveries of a message that keeps failing for now before
    # it is dead-lettered, how long one may take before JetStream delivers it again, and its
    # Prometheus endpoint (off unless a port is set).
    intake_max_deliver: int = Field(5, ge=1, le=100)
    intake_ack_wait_s: float = Field(60.0, ge=5)
    intake_metrics_port: int | None = Field(None, ge=1, le=65535)
    intake_metrics_host: str = "127.0.0.1"

    @field_validator("api_keys")
    @classmethod
    def _keys_parse(cls, value: SecretStr) -> SecretStr:
        parse_api_keys(value.get_secret_value())
        return value

    @field_validator("payload_key", "payload_old_keys")
    @classmethod
    def _payload_keys_parse(cls, value: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
        from oms.config.codec import parse_key, parse_keys

        if value is not None and value.get_secret_value().strip():
            if info.field_name == "payload_key":
                parse_key(value.get_secret_value())
            else:
                parse_keys(value.get_secret_value())
        return value

    @property
    def resolved_codec_cors_origins(self) -> list[str]:
        if self.codec_cors_origins is not None:
            return [o.strip() for o in self.codec_cors_origins.split(",") if o.strip()]
        return [f"http://127.0.0.1:{self.ui_port}", f"http://localhost:{self.ui_port}"]

    @property
    def nats_options(self) -> dict[str, str]:
        """The connection's credentials, for `oms.broker.connect`."""
        if self.nats_user is None:
            return {}
        password = self.nats_password.get_secret_value() if self.nats_password else ""
        return {"user": self.nats_user, "password": password}

    @property
    def allowed_call_hosts(self) -> list[str]:
        return [host.strip() for host in self.call_allowed_hosts.split(",") if host.strip()]

    @property
    def concessions(self) -> ConcessionTerms:
        return ConcessionTerms(
            return_window_s=self.return_window_s,
            return_auto_approve_below_minor=self.return_auto_approve_below_minor,
            return_receipt_window_s=self.return_receipt_window_s,
            reward_points_per_unit=self.reward_points_per_unit,
            continue_as_new_after_events=self.continue_as_new_after_events,
        )

    @model_validator(mode="after")
    def _fraud_thresholds_in_order(self) -> Settings:
        self.fraud  # noqa: B018 - refused here, at startup, rather than at the first order
        return self

    @property
    def fraud(self) -> FraudThresholds:
        return FraudThresholds(
            review_score=self.fraud_review_score, block_score=self.fraud_block_score
        )

    @property
    def resolved_temporal_address(self) -> str:
        return self.temporal_address or f"127.0.0.1:{self.temporal_port}"

    @property
    def resolved_database_url(self) -> str:
        if self.database_url is not None and self.database_url.get_secret_value():
            return self.database_url.get_secret_value()
        return f"sqlite:///{(self.data_dir / 'oms.db').resolve()}"

    @property
    def resolved_api_url(self) -> str:
        return self.api_url or f"http://127.0.0.1:{self.api_port}"

    @property
    def principals(self) -> dict[str, Principal]:
        return parse_api_keys(self.api_keys.get_secret_value())


@lru_cache
def get_settings() -> Settings:
    return Settings()
