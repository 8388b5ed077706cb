"""`tsw generate ecommerce`: realistic, deterministic, streamed, and every defect really refused."""

from __future__ import annotations

import csv
import io
from collections import Counter
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from gateway.cli import app
from gateway.documents.packs import load_pack
from gateway.documents.validator import DocumentValidator
from gateway.ecommerce.columns import COLUMNS
from gateway.ecommerce.consignments import ConsignmentResult, assemble
from gateway.ecommerce.document import document_bytes
from gateway.ecommerce.generate import FileFormat, GeneratedConsignment, encode, generate_consignments
from gateway.ecommerce.rows import parse_row
from gateway.errors import DocumentInvalid
from tests.unit.test_ecommerce_document import PACK

COUNT = 3000
RATE = 0.25


def _file(consignments: list[GeneratedConsignment], fmt: FileFormat) -> bytes:
    return b"".join(encode(consignments, fmt))


def _from_csv(data: bytes) -> list[ConsignmentResult]:
    reader = csv.DictReader(io.StringIO(data.decode(), newline=""))
    assert tuple(reader.fieldnames or ()) == COLUMNS
    return list(assemble((reader.line_num, parse_row(row, reader.line_num)) for row in reader))


def _from_json(data: bytes) -> list[ConsignmentResult]:
    return list(assemble((index, parse_row(row, index)) for index, row in enumerate(orjson.loads(data))))


def _check_outcomes(generated: list[GeneratedConsignment], results: list[ConsignmentResult]) -> None:
    assert len(results) == len(generated)
    for consignment, result in zip(generated, results, strict=True):
        assert result.consignment_ref == consignment.rows[0]["consignment_ref"]
        assert result.row_count == len(consignment.rows)
        if consignment.defect is None:
            assert result.accepted, (consignment, result.problems)
        else:
            assert not result.accepted, consignment
            assert consignment.defect.code in {problem.code for problem in result.problems}, consignment


@pytest.fixture(scope="module")
def generated() -> list[GeneratedConsignment]:
    return list(generate_consignments(COUNT, invalid_rate=RATE, seed=20260419))


def test_counts_items_and_the_invalid_rate(generated: list[GeneratedConsignment]) -> None:
    assert len(generated) == COUNT
    assert {len(consignment.rows) for consignment in generated} == {1, 2, 3}
    invalid = sum(consignment.defect is not None for consignment in generated)
    assert abs(invalid / COUNT - RATE) < 0.04
    kinds = Counter(consignment.defect.kind for consignment in generated if consignment.defect)
    assert set(kinds) == {
        "hs-code",
        "unit",
        "threshold",
        "country",
        "currency",
        "missing",
        "number",
        "transport-mode",
        "inconsistent",
    }
    assert len({consignment.rows[0]["consignment_ref"] for consignment in generated}) == COUNT


def test_looks_like_parcels_into_hong_kong(generated: list[GeneratedConsignment]) -> None:
    valid = [consignment for consignment in generated if consignment.defect is None]
    rows = [row for consignment in valid for row in consignment.rows]
    assert Counter(row["currency"] for row in rows).keys() <= {"HKD", "CNY", "USD"}
    assert Counter(row["seller_country"] for row in rows).most_common(1)[0][0] == "CN"
    assert {row["destination_country"] for row in rows} <= {"HK", "MO"}
    assert {row["transport_mode"] for row in rows} == {"road", "air", "sea", "post"}
    assert len({row["hs_code"] for row in rows}) > 20


def test_same_seed_same_bytes_other_seed_other_bytes() -> None:
    def make(seed: int) -> bytes:
        return _file(list(generate_consignments(200, invalid_rate=0.3, seed=seed)), FileFormat.CSV)

    assert make(5) == make(5)
    assert make(5) != make(6)


def test_csv_every_valid_one_accepted_every_invalid_one_refused(
    generated: list[GeneratedConsignment],
) -> None:
    _check_outcomes(generated, _from_csv(_file(generated, FileFormat.CSV)))


def test_json_rows_give_the_same_outcomes(generated: list[GeneratedConsignment]) -> None:
    data = _file(generated, FileFormat.JSON)
    assert any(isinstance(row["value"], float) for row in orjson.loads(data))  # numbers as JSON numbers
    _check_outcomes(generated, _from_json(data))


def test_jsonl_documents_validate_through_the_pack_and_valid_lines_are_canonical_bytes() -> None:
    generated = list(generate_consignments(1500, invalid_rate=RATE, seed=7, document_form=True))
    assert not any(c.defect and c.defect.kind == "inconsistent" for c in generated)
    validator = DocumentValidator([load_pack(PACK)])
    lines = _file(generated, FileFormat.JSONL).splitlines()
    results = _from_csv(_file(generated, FileFormat.CSV))
    for consignment, line, result in zip(generated, lines, results, strict=True):
        if consignment.defect is None:
            validator.validate(line, "json")
            assert result.consignment is not None and document_bytes(result.consignment) == line
            continue
        with pytest.raises(DocumentInvalid) as caught:
            validator.validate(line, "json")
        codes = {problem.code for problem in caught.value.problems}
        assert consignment.defect.code in codes or all(code.startswith("schema.") for code in codes)


def test_empty_files_are_well_formed() -> None:
    assert _file([], FileFormat.CSV).decode().splitlines() == [",".join(COLUMNS)]
    assert orjson.loads(_file([], FileFormat.JSON)) == []
    assert _file([], FileFormat.JSONL) == b""


def test_generation_streams() -> None:
    stream = encode(generate_consignments(10**9, seed=1), FileFormat.JSONL)
    assert orjson.loads(next(stream))["documentType"] == "hk.ecom.lvc"


def test_repr_hides_buyer_id_ref(generated: list[GeneratedConsignment]) -> None:
    assert generated[0].rows[0]["buyer_id_ref"] not in repr(generated[0])


def test_cli_writes_a_file_with_progress_and_stdout_without(tmp_path: Path) -> None:
    runner = CliRunner()
    target = tmp_path / "lvc.csv"
    args = ["generate", "ecommerce", "--count", "300", "--invalid-rate", "0.2", "--seed", "9"]
    written = runner.invoke(app, [*args, "--output", str(target)])
    assert written.exit_code == 0, written.output
    expected = _file(list(generate_consignments(300, invalid_rate=0.2, seed=9)), FileFormat.CSV)
    assert target.read_bytes() == expected
    printed = runner.invoke(app, [*args, "--format", "jsonl"])
    assert printed.exit_code == 0
    assert len(printed.stdout_bytes.splitlines()) == 300
    unseeded = runner.invoke(app, ["generate", "ecommerce", "--count", "2", "--format", "json"])
    assert unseeded.exit_code == 0 and "seed " in unseeded.stderr
    assert len(orjson.loads(unseeded.stdout_bytes)) >= 2
