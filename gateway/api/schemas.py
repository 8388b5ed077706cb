"""Response bodies of the HTTP API (pydantic models; FastAPI serialises them straight to JSON)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "AgencyStatus",
    "AmendmentAccepted",
    "CancellationAccepted",
    "CancellationRequest",
    "DeclarationAccepted",
    "DeclarationList",
    "DeclarationView",
    "HistoryItem",
    "ProblemDetails",
    "ProblemItem",
    "SignedByView",
    "VersionItem",
]


class ProblemItem(BaseModel):
    """One thing wrong, located: a stable `code`, a `path` (XPath, JSON Pointer, or where in the
    request) and a human `message`."""

    code: str
    path: str
    message: str


class ProblemDetails(BaseModel):
    """Every error answer (`application/problem+json`, RFC 9457); members past these may follow."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(description="URI of the problem type, e.g. https://tsw.example/problems/not-found")
    title: str
    status: int = Field(ge=400, le=599)
    detail: str | None = None
    errors: list[ProblemItem] | None = Field(
        default=None, description="Every problem found (a refused document, an invalid request)."
    )
    document_type: str | None = Field(default=None, description="For a refused document: its type.")


class DeclarationAccepted(BaseModel):
    id: str
    status: str
    document_type: str
    receipt: str = Field(description="Compact JWS (EdDSA) over the receipt payload; verify with the JWKS.")


class AmendmentAccepted(BaseModel):
    id: str
    version: int = Field(description="The new version's number (the first submission is version 1).")
    status: str
    document_type: str
    receipt: str = Field(description="Compact JWS over the receipt payload (with `action` and `version`).")


class CancellationRequest(BaseModel):
    reason: str | None = Field(default=None, max_length=500, description="Why, for the agencies.")


class CancellationAccepted(BaseModel):
    id: str
    version: int
    status: str
    receipt: str = Field(description="Compact JWS over the receipt payload (with `action` and `version`).")


class SignedByView(BaseModel):
    """The submitter's key that signed the body (`TSW-Signature`), as verified on receipt."""

    kid: str
    alg: str = Field(description="EdDSA, Ed25519 or ES256")


class VersionItem(BaseModel):
    version: int
    digest: str
    received_at: datetime
    receipt: str
    signed_by: SignedByView | None = Field(default=None, description="When this version was signed.")


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
    version: int = Field(description="The current version: 1, then 2, 3… after amendments.")
    digest: str = Field(description="Digest of the first submission's body (see `versions` for the rest).")
    received_at: datetime
    updated_at: datetime
    receipt: str | None = Field(
        description="The submission's receipt; for a fast-path consignment, its lodgement's receipt."
    )
    reference: str | None = Field(default=None, description="The submitter's own reference, if any.")
    lodgement_id: str | None = Field(default=None, description="The fast-path lodgement it came in.")
    submitted_by: str = Field(description="Client id of the submitter: the trader, or the forwarder.")
    on_behalf_of: str | None = Field(
        default=None, description="Client id of the trader a forwarder lodged it for (who reads it too)."
    )
    signed_by: SignedByView | None = Field(
        default=None, description="The key that signed the first submission's body, if it was signed."
    )
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
