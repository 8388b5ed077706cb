"""From `hk.ecom.lvc` rows (a JSON array, or CSV records) to consignments ready to lodge.

Rows are checked one by one (`gateway.ecommerce.rows`), grouped into consignments
(`gateway.ecommerce.consignments`: adjacent rows sharing a `consignment_ref`) and turned into
`ConsignmentInput`s: the canonical document bytes of an accepted consignment, or every problem of a
refused one. A CSV record the reader could not read (bad encoding, wrong field count) counts as a
refused row of the consignment it sits in. Streaming: one consignment in memory at a time.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from gateway.batches.readers.records import RawRecord
from gateway.documents.problems import Problem
from gateway.ecommerce.consignments import ConsignmentResult, assemble
from gateway.ecommerce.document import document_bytes
from gateway.ecommerce.policy import LvcPolicy
from gateway.ecommerce.rows import Row, RowParser, RowProblems
from gateway.lodgements import ConsignmentInput

__all__ = ["Assembled", "from_csv_records", "from_json_rows"]

Assembled = tuple[ConsignmentInput, int]  # the consignment, and the position of its last row


def from_json_rows(rows: Iterable[object], *, policy: LvcPolicy) -> Iterator[Assembled]:
    """Consignments of a JSON array of row objects; positions are 0-based array indexes."""
    parser = RowParser.shared()

    def parsed() -> Iterator[tuple[int, Row | RowProblems]]:
        for index, row in enumerate(rows):
            if isinstance(row, dict):
                yield index, parser(row, index)
            else:
                problem = Problem(code="lvc.type", path=f"/{index}", message="a row must be a JSON object")
                yield index, RowProblems(consignment_ref=None, problems=(problem,))

    return _inputs(assemble(parsed(), policy))


def from_csv_records(records: Iterable[RawRecord], *, policy: LvcPolicy) -> Iterator[Assembled]:
    """Consignments of CSV records; positions are the physical lines the rows start on."""
    parser = RowParser.shared()

    def parsed() -> Iterator[tuple[int, Row | RowProblems]]:
        for record in records:
            if record.row is not None:
                yield record.position, parser(record.row, record.position)
            else:
                problem = record.error or Problem(code="batch.record", path="/", message="unreadable row")
                located = Problem(
                    code=problem.code,
                    path=f"/{record.position}{problem.path.rstrip('/')}",
                    message=problem.message,
                )
                yield record.position, RowProblems(consignment_ref=None, problems=(located,))

    return _inputs(assemble(parsed(), policy))


def _inputs(results: Iterable[ConsignmentResult]) -> Iterator[Assembled]:
    for result in results:
        document = document_bytes(result.consignment) if result.consignment is not None else None
        yield (
            ConsignmentInput(
                reference=result.consignment_ref,
                position=result.first_position,
                document=document,
                problems=result.problems,
            ),
            result.last_position,
        )
