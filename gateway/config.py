"""Configuration: one pydantic-settings `Settings`, read from `TSW_*` environment variables.

Built once in an entrypoint (`tsw serve`, `tsw up`, a test fixture) and passed down; nothing reads
the environment anywhere else.
"""

from __future__ import annotations

import os
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

__all__ = ["REPO_ROOT", "Settings"]

#: The checkout this package runs from (editable install); holds `schemas/` and `deploy/`.
REPO_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TSW_", extra="ignore")

    data_dir: Path = Field(default=Path("var"), description="Keys, SQLite database, local broker data.")
    database_url: str | None = Field(
        default=None, description="SQLAlchemy async URL; default sqlite+aiosqlite in data_dir."
    )
    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    schema_packs: Annotated[list[Path], NoDecode] = Field(
        default_factory=list, description="Extra schema-pack directories, joined by os.pathsep."
    )
    builtin_packs_dir: Path = Field(
        default=REPO_ROOT / "schemas", description="The project's own schema packs (hk.tdec, hk.aci.road)."
    )
    kafka_cache_dir: Path = Field(
        default=REPO_ROOT / ".cache" / "kafka", description="Where Maven puts the Kafka jars."
    )
    max_body_bytes: int = 10 * 1024 * 1024
    sqlite_synchronous: Literal["FULL", "NORMAL"] = Field(
        default="FULL", description="FULL: a 202 survives power loss; NORMAL: only a process crash."
    )
    database_timeout_ms: int = Field(
        default=5_000,
        gt=0,
        description="How long one database operation waits for the database before the request is answered "
        "503: SQLite's busy timeout (the write lock held elsewhere); PostgreSQL's connect timeout and wait "
        "for a pooled connection. Keep it well under request_timeout_ms.",
    )
    kafka_max_message_bytes: int = Field(
        default=16 * 1024 * 1024,
        description="Largest routed record; must exceed max_body_bytes plus headers.",
    )
    messaging: Literal["inline", "process", "off"] = Field(
        default="process",
        description="Where the outbox relay and the agency-response consumer run: in the gateway's "
        "event loop, in a process of their own (started and supervised by `tsw serve`, on a second "
        "core), or not at all.",
    )
    response_group_id: str = Field(
        default="tsw-gateway-responses", description="Consumer group of the agency-response consumer."
    )
    response_offset_reset: Literal["earliest", "latest"] = Field(
        default="earliest", description="Where a new response consumer group starts reading."
    )
    relay_batch_size: int = 500
    relay_idle_poll_ms: int = Field(
        default=250,
        gt=0,
        description="How often an idle outbox relay looks for new events anyway; each commit wakes it "
        "at once (`gateway.doorbell`), so this only bounds the delay of a missed wake-up.",
    )
    audit_checkpoint_every: int = Field(
        default=1000, gt=0, description="Audit entries between two signed checkpoints, at most."
    )
    audit_checkpoint_every_s: float = Field(
        default=10.0,
        gt=0,
        description="Seconds between two signed audit checkpoints, at most (if any entry).",
    )
    kafka_request_timeout_ms: int = 10_000
    topic_partitions: int = 3
    topic_replication_factor: int = 1
    event_source: str = "urn:tsw:gateway"
    webhook_timeout_ms: int = Field(
        default=10_000, gt=0, description="Deadline of one webhook attempt: resolve, connect, send, answer."
    )
    webhook_max_attempts: int = Field(default=12, ge=1, description="Attempts before a delivery fails.")
    webhook_max_age_s: int = Field(
        default=86_400, gt=0, description="A delivery not made within this time of its creation fails."
    )
    webhook_backoff_base_ms: int = Field(default=2_000, gt=0, description="Wait after the first failure.")
    webhook_backoff_max_ms: int = Field(
        default=3_600_000, gt=0, description="Longest wait between attempts (Retry-After included)."
    )
    webhook_poll_ms: int = Field(
        default=250, gt=0, description="How often new status changes are fanned out to deliveries."
    )
    webhook_concurrency: int = Field(default=16, gt=0, description="Attempts in flight at once.")
    webhook_per_endpoint_concurrency: int = Field(
        default=2, gt=0, description="Attempts in flight at once for one subscription."
    )
    webhook_max_per_client: int = Field(default=10, gt=0, description="Active subscriptions per client.")
    webhook_allow_private_hosts: bool = Field(
        default=False,
        description="Allow callback URLs on loopback, private, link-local and reserved addresses (tests, "
        "closed networks). Off: such URLs are refused at registration and before every attempt.",
    )
    lvc_threshold_hkd: Decimal = Field(
        default=Decimal(5000), ge=0, description="Largest total value (HKD) of a fast-path consignment."
    )
    lvc_rates_to_hkd: dict[str, Decimal] | None = Field(
        default=None,
        description='HKD per unit of each currency, as JSON (e.g. {"USD": "7.8"}); default: an '
        "illustrative table (gateway.ecommerce.policy). A currency without a rate is refused.",
    )
    ecommerce_max_rows: int = Field(
        default=10_000, gt=0, description="Rows (line items) in one POST /v1/ecommerce/consignments."
    )
    ecommerce_max_body_bytes: int = Field(default=32 * 1024 * 1024, gt=0)
    lodgement_max_consignments: int = Field(
        default=1000, gt=0, description="Consignments per lodgement, i.e. per routed bulk event."
    )
    batch_max_upload_bytes: int = Field(default=4 * 1024**3, gt=0)
    batch_chunk_records: int = Field(
        default=1000, gt=0, description="Records per batch transaction (and resume step)."
    )
    rate_limit_per_s: float = Field(
        default=200.0, ge=0, description="Requests per second per client, sustained (0: no limit)."
    )
    rate_limit_burst: int = Field(default=400, gt=0, description="Requests a client may send at once.")
    bulk_rate_limit_per_s: float = Field(
        default=50.0,
        ge=0,
        description="The same for /v1/ecommerce and /v1/batches (each request is many records).",
    )
    bulk_rate_limit_burst: int = Field(default=100, gt=0)
    request_timeout_ms: int = Field(
        default=30_000, gt=0, description="Deadline to start answering a request (503 problem after it)."
    )
    upload_timeout_ms: int = Field(
        default=3_600_000, gt=0, description="The deadline for POST /v1/batches, which streams a whole file."
    )
    api_key_cache_s: float = Field(
        default=5.0,
        ge=0,
        description="How long a checked API key is cached; bounds how late another "
        "process's revocation or rotation is seen.",
    )

    @field_validator("schema_packs", mode="before")
    @classmethod
    def _split_paths(cls, value: object) -> object:
        if isinstance(value, str):
            return [Path(part) for part in value.split(os.pathsep) if part.strip()]
        return value

    @property
    def keys_dir(self) -> Path:
        return self.data_dir / "keys"

    @property
    def batch_spool_dir(self) -> Path:
        return self.data_dir / "batches"

    @property
    def kafka_data_dir(self) -> Path:
        return self.data_dir / "kafka"

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'tsw.db').resolve()}"
