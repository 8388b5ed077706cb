"""What each agency may see of a TradeSummary: data minimisation, by document type.

One rule so far. In an ``hk.ecom.lvc`` summary, ``trader.id`` is ``buyer_id_ref``: a private buyer's
identity reference (personal data under the Personal Data (Privacy) Ordinance, Cap. 486, whose data
protection principle 1 allows collecting only what the purpose needs, and principle 3 using it only for
that purpose). The decision:

- **customs receives it**: customs identifies the importer of record for risk assessment and
  enforcement (repeat buyers splitting an order into many parcels to stay under a threshold, known
  offenders), which needs a stable identity;
- **logistics does not** (nor would ``tid`` or ``censtatd``, which are not routed e-commerce
  consignments): releasing and delivering a parcel needs the consignee's name and address, not their
  identity document. ``trader.id`` is null in what they are sent.

The gateway's signed routed event still carries the whole document (the signature covers its exact
bytes, so an adapter cannot cut it); this rule governs what leaves the adapter for the agency's
back-end. Nothing in the adapters logs a summary or a document, so ``buyer_id_ref`` never reaches a log.
"""

from __future__ import annotations

from collections.abc import Mapping

from adapters.translate.summary import TradeSummary

__all__ = ["TRADER_ID_RECIPIENTS", "disclose"]

#: Document types whose ``trader.id`` is personal data -> the agencies that may receive it.
TRADER_ID_RECIPIENTS: Mapping[str, frozenset[str]] = {"hk.ecom.lvc": frozenset({"customs"})}


def disclose(summary: TradeSummary, *, document_type: str, agency: str | None) -> TradeSummary:
    """`summary` as `agency` may see it (`agency` None: the whole summary, for tests and tools)."""
    recipients = TRADER_ID_RECIPIENTS.get(document_type)
    if agency is None or recipients is None or agency in recipients or summary["trader"]["id"] is None:
        return summary
    return {**summary, "trader": {"name": summary["trader"]["name"], "id": None}}
