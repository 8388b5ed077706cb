"""Response bodies of the HTTP API (pydantic models; FastAPI serialises them straight to JSON)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

__all__ = ["AgencyStatus", "DeclarationAccepted", "DeclarationList", "DeclarationView", "HistoryItem"]


class DeclarationAccepted(BaseModel):
    id: str
    status: str
    document_type: str
    receipt: str = Field(description="Compact JWS (EdDSA) over the receipt payload; verify with the JWKS.")


class AgencyStatus(BaseModel):
    status: str
    reference: str | None = None
    reason: str | None = None
    at: datetime | None = None


class HistoryItem(BaseModel):
    status: str
    at: datetime
    detail: str | None = None


class DeclarationView(BaseModel):
    id: str
    status: str
    document_type: str
    digest: str
    received_at: datetime
    updated_at: datetime
    receipt: str
    agencies: dict[str, AgencyStatus]
    history: list[HistoryItem]


class DeclarationSummary(BaseModel):
    id: str
    status: str
    document_type: str
    received_at: datetime
    updated_at: datetime


class DeclarationList(BaseModel):
    items: list[DeclarationSummary]
    next_cursor: str | None = Field(default=None, description="Pass as `cursor` for the next page.")
