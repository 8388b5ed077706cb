"""Request and response bodies of `/v1/webhooks` (pydantic models)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from gateway.store.webhooks import DeliveryStatus
from gateway.webhooks.destinations import MAX_URL_LENGTH

__all__ = ["AttemptView", "DeliveryList", "DeliveryView", "WebhookCreate", "WebhookList", "WebhookView"]


class WebhookCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(
        max_length=MAX_URL_LENGTH,
        description="http(s) URL that receives each status change as a signed POST; no credentials, "
        "no fragment, and (unless the gateway allows private hosts) a public host.",
        examples=["https://hooks.example.com/tsw"],
    )
    description: str | None = Field(default=None, max_length=500)


class WebhookView(BaseModel):
    id: str
    url: str
    description: str | None = None
    created_at: datetime
    active: bool
    deactivated_at: datetime | None = None


class WebhookList(BaseModel):
    items: list[WebhookView]


class AttemptView(BaseModel):
    at: datetime
    status_code: int | None = Field(default=None, description="The endpoint's HTTP status, if it answered.")
    error: str | None = Field(default=None, description="Why the attempt failed, in short.")
    duration_ms: int


class DeliveryView(BaseModel):
    id: int
    event_id: str = Field(description="The `id` in the body and the `tsw-event-id` header, same on retries.")
    declaration_id: str
    sequence: int = Field(description="The status-history id of the change delivered.")
    status: DeliveryStatus
    attempts: int
    created_at: datetime
    next_attempt_at: datetime | None = Field(default=None, description="Not before then, while pending.")
    last_response_code: int | None = None
    last_error: str | None = None
    delivered_at: datetime | None = None
    attempt_log: list[AttemptView] = Field(description="Every attempt, oldest first.")


class DeliveryList(BaseModel):
    items: list[DeliveryView]
    next_cursor: str | None = Field(default=None, description="Pass as `cursor` for the next page.")
