"""Located validation problems: what every refused document is told, all at once.

A `Problem` names one thing wrong with a document: a stable machine-readable `code`
(e.g. ``xsd.invalid``, ``codelist.country``), a `path` into the document (an XPath for XML,
a JSON Pointer for JSON) and a human `message`. Validators collect every problem they find
and raise `DocumentInvalid` once, so the trader fixes everything in one round trip.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

__all__ = ["Problem"]


@dataclass(frozen=True, slots=True)
class Problem:
    code: str
    path: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return asdict(self)
