"""Configuration of one agency adapter: a pydantic-settings `AdapterSettings` (env prefix `TSW_ADAPTER_`).

Built once in the entrypoint (`python -m adapters run`, a test) and passed down; nothing else reads the
environment. Defaults that depend on the agency (back-end URL, consumer group, data directory) are
filled in after validation:

- ``backend_url``: ``http://127.0.0.1:9101`` (customs), ``9102`` (tid), ``9103`` (censtatd),
  ``9104`` (logistics): where the local simulators listen;
- ``group_id``: ``tsw-adapter-<agency>``: one consumer group per agency;
- ``data_dir``: ``$TSW_DATA_DIR/adapters/<agency>`` (``TSW_DATA_DIR`` defaults to ``./var``), which
  holds the dedupe store ``dedupe.sqlite3``.

``kafka_bootstrap_servers`` reads ``TSW_ADAPTER_KAFKA_BOOTSTRAP_SERVERS``, then the gateway's own
``TSW_KAFKA_BOOTSTRAP_SERVERS``, then ``127.0.0.1:9092``. The JWKS comes from ``jwks_file`` when set,
otherwise from ``jwks_url`` (the gateway's ``/.well-known/jwks.json``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from gateway.contracts.agencies import Agency

__all__ = ["DEFAULT_BACKEND_PORTS", "AdapterSettings"]

#: Where each agency's back-end (simulator) listens by default, on 127.0.0.1.
DEFAULT_BACKEND_PORTS: dict[Agency, int] = {
    Agency.CUSTOMS: 9101,
    Agency.TID: 9102,
    Agency.CENSTATD: 9103,
    Agency.LOGISTICS: 9104,
}


class AdapterSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TSW_ADAPTER_", extra="ignore", populate_by_name=True)

    agency: Agency
    kafka_bootstrap_servers: str = Field(
        default="127.0.0.1:9092",
        validation_alias=AliasChoices(
            "kafka_bootstrap_servers", "TSW_ADAPTER_KAFKA_BOOTSTRAP_SERVERS", "TSW_KAFKA_BOOTSTRAP_SERVERS"
        ),
    )
    backend_url: str | None = Field(default=None, description="Agency back-end base URL.")
    jwks_url: str = "http://127.0.0.1:8000/.well-known/jwks.json"
    jwks_file: Path | None = Field(default=None, description="Read the JWKS from this file instead.")
    jwks_min_refresh_interval_s: float = Field(
        default=10.0, ge=0, description="At most one JWKS refetch (on an unknown kid) per interval."
    )
    group_id: str | None = Field(default=None, description="Consumer group; tsw-adapter-<agency>.")
    data_dir: Path | None = Field(default=None, description="Dedupe store directory.")
    dedupe_retention_days: float = Field(default=30.0, gt=0)

    request_timeout_s: float = Field(default=10.0, gt=0, description="Read/write/pool timeout.")
    connect_timeout_s: float = Field(default=3.0, gt=0)
    retry_base_backoff_s: float = Field(default=0.2, gt=0)
    retry_max_backoff_s: float = Field(default=30.0, gt=0)
    retry_after_max_s: float = Field(default=300.0, gt=0, description="Cap on an honoured Retry-After.")
    circuit_failure_threshold: int = Field(default=5, ge=1)
    circuit_cooldown_s: float = Field(default=10.0, gt=0)

    kafka_request_timeout_ms: int = Field(default=10_000, gt=0)
    kafka_session_timeout_ms: int = Field(default=10_000, ge=6_000)
    kafka_max_poll_interval_ms: int = Field(default=300_000, gt=0)
    max_poll_records: int = Field(default=100, ge=1)
    max_in_flight: int = Field(
        default=32, ge=1, description="Deliveries to the back-end at once (different declarations)."
    )
    max_message_bytes: int = Field(default=16 * 1024 * 1024, gt=0)
    auto_offset_reset: Literal["earliest", "latest"] = "earliest"
    topic_partitions: int = Field(default=3, ge=1, description="For topics the adapter has to create.")
    topic_replication_factor: int = Field(default=1, ge=1)
    stop_grace_s: float = Field(default=5.0, ge=0, description="How long stop() lets a record finish.")

    @model_validator(mode="after")
    def _agency_defaults(self) -> AdapterSettings:
        if self.backend_url is None:
            self.backend_url = f"http://127.0.0.1:{DEFAULT_BACKEND_PORTS[self.agency]}"
        if self.group_id is None:
            self.group_id = f"tsw-adapter-{self.agency.value}"
        if self.data_dir is None:
            self.data_dir = Path(os.environ.get("TSW_DATA_DIR", "var")) / "adapters" / self.agency.value
        if self.retry_max_backoff_s < self.retry_base_backoff_s:
            raise ValueError("retry_max_backoff_s must be at least retry_base_backoff_s")
        return self

    @property
    def jwks_source(self) -> str:
        """The file path or URL the JWKS is loaded from."""
        return str(self.jwks_file) if self.jwks_file is not None else self.jwks_url

    @property
    def effective_backend_url(self) -> str:
        assert self.backend_url is not None  # filled in by the validator
        return self.backend_url

    @property
    def effective_group_id(self) -> str:
        assert self.group_id is not None
        return self.group_id

    @property
    def effective_data_dir(self) -> Path:
        assert self.data_dir is not None
        return self.data_dir

    @property
    def source(self) -> str:
        """`ce_source` of the responses this adapter publishes."""
        return f"urn:tsw:adapter:{self.agency.value}"
