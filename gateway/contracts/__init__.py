"""Wire contracts shared by the gateway and the agency adapters: topics, agencies, statuses, events.

Everything here is public (see DESIGN.md, "Fixed interfaces"): extend it, never rename it.
"""

from gateway.contracts.agencies import AGENCIES, Agency
from gateway.contracts.events import EventHeaders, decode_headers, encode_headers
from gateway.contracts.statuses import TERMINAL_STATUSES, Status
from gateway.contracts.topics import RESPONSES_TOPIC, dlq_topic, route_topic

__all__ = [
    "AGENCIES",
    "RESPONSES_TOPIC",
    "TERMINAL_STATUSES",
    "Agency",
    "EventHeaders",
    "Status",
    "decode_headers",
    "dlq_topic",
    "encode_headers",
    "route_topic",
]
