"""Agency adapters: each reads its agency's routed declarations from Kafka, checks the gateway's
signature, translates the document into a TradeSummary, delivers it to the agency's back-end over
HTTP and publishes the agency's answer on `tsw.responses`.

Bulk events of the e-commerce fast path (many `hk.ecom.lvc` consignments in one signed record, see
`gateway.contracts.bulk`) take the same road: the signature is checked the same way, the whole bulk
goes to the back-end in one `POST /v1/bulk-submissions`, and one bulk answer comes back. A consignment
the agency cannot decide is left out of that answer and logged, without holding back the others
(`adapters.bulk_responder`). A buyer's identity reference (`buyer_id_ref`) is sent to customs only and
is never logged (`adapters.translate.disclosure`).

Entry points: `python -m adapters run --agency <id>` (`adapters.cli`), or `AgencyAdapter` built from
`AdapterSettings` (`adapters.worker`, `adapters.config`). The pieces, one concept each:

- `adapters.translate`: document -> TradeSummary (hk.tdec, hk.aci.road, wco.dec-dms, hk.ecom.lvc), and
  what each agency may see of it (`adapters.translate.disclosure`);
- `adapters.jwks`: the gateway's JWKS, refreshed on an unknown kid;
- `adapters.delivery`, `adapters.retry`, `adapters.circuit`: HTTP delivery, backoff, circuit breaker;
  `adapters.bulk_delivery`: the bulk request and answer bodies;
- `adapters.decisions`: the agency's decision -> the gateway's `AgencyStatus`;
- `adapters.dedupe`: the durable record of handled event ids;
- `adapters.records`: the response and dead-letter records;
- `adapters.inbound`, `adapters.handler`, `adapters.routed`, `adapters.kafka`, `adapters.worker`: the
  consuming side, record by record; `adapters.bulk_responder`: answering a bulk event.

The package imports only `gateway.contracts` from the gateway, plus the public signature helpers
(`gateway.documents.signing.verify_detached`, `gateway.documents.receipts.load_jwks`) and the errors
they raise (`gateway.errors.SignatureInvalid`, `ServiceUnavailable`).
"""

from adapters.config import AdapterSettings
from adapters.worker import AgencyAdapter

__all__ = ["AdapterSettings", "AgencyAdapter"]
