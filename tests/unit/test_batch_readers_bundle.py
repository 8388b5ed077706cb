"""XML bundle reader: streamed with a hardened iterparse, each wrapped document standalone."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from lxml import etree

from gateway.batches.readers import (
    BUNDLE_NAMESPACE,
    MEDIA_XML,
    BatchFileError,
    RawRecord,
    ReaderLimits,
    open_reader,
)
from gateway.config import REPO_ROOT
from gateway.documents.xml_form import CompiledXsd, parse_xml

SCHEMAS = REPO_ROOT / "schemas"
EXAMPLES = sorted((SCHEMAS / "hk.tdec" / "examples" / "valid").glob("*.xml")) + sorted(
    (SCHEMAS / "hk.aci.road" / "examples" / "valid").glob("*.xml")
)
XSDS = {
    "{urn:hk:tsw:tdec:1}TradeDeclaration": SCHEMAS / "hk.tdec" / "tdec.xsd",
    "{urn:hk:tsw:aci-road:1}RoadCargoInformation": SCHEMAS / "hk.aci.road" / "aci-road.xsd",
}
OPEN = (
    f'<b:Bundle xmlns:b="{BUNDLE_NAMESPACE}" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'.encode()
)
CLOSE = b"</b:Bundle>"


def document(body: bytes, ref: str | None = None) -> bytes:
    attribute = f' ref="{ref}"'.encode() if ref is not None else b""
    return b"<b:Document" + attribute + b">" + body + b"</b:Document>"


def bundle(*parts: bytes) -> bytes:
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + OPEN + b"\n".join(parts) + CLOSE


def example(path: Path) -> bytes:
    text = path.read_bytes()
    return text.split(b"?>", 1)[1] if text.startswith(b"<?xml") else text


def read(data: bytes, **kwargs: object) -> list[RawRecord]:
    return list(open_reader("bundle", io.BytesIO(data), **kwargs))  # type: ignore[arg-type]


def outline(records: list[RawRecord]) -> list[tuple[int, str | None, str | None]]:
    return [(r.position, r.ref, r.error.code if r.error else None) for r in records]


def test_every_shipped_xml_example_comes_out_standalone_and_schema_valid() -> None:
    assert len(EXAMPLES) >= 5
    data = bundle(*(document(example(path), ref=path.name) for path in EXAMPLES))
    records = read(data)
    assert [(r.position, r.ref) for r in records] == [(i, p.name) for i, p in enumerate(EXAMPLES, 1)]
    schemas = {root: CompiledXsd(path) for root, path in XSDS.items()}
    for record, path in zip(records, EXAMPLES, strict=True):
        assert record.media_type == MEDIA_XML and record.body is not None
        root = parse_xml(record.body)  # the project's hardened parser takes it as it is
        assert schemas[str(root.tag)].problems(root) == []
        original = etree.fromstring(path.read_bytes())
        assert etree.tostring(root, method="c14n2") == etree.tostring(original, method="c14n2")


def test_namespaces_in_scope_travel_with_the_document() -> None:
    data = bundle(
        document(b'<x:Doc xmlns:x="urn:x" xsi:type="x:Special"><x:a/></x:Doc>', ref="qname"),
        document(b"<Plain><b/></Plain>"),
        f'<Document xmlns="{BUNDLE_NAMESPACE}"><Inner xmlns="urn:inner"><c/></Inner></Document>'.encode(),
    )
    first, second, third = read(data)
    assert first.body is not None and second.body is not None and third.body is not None
    qname = parse_xml(first.body)
    assert qname.nsmap["xsi"] == "http://www.w3.org/2001/XMLSchema-instance"  # xsi:type still resolves
    assert qname.tag == "{urn:x}Doc" and qname[0].tag == "{urn:x}a"
    assert parse_xml(second.body).tag == "Plain"
    inner = parse_xml(third.body)
    assert (inner.tag, inner[0].tag) == ("{urn:inner}Inner", "{urn:inner}c")


def test_valid_and_invalid_entries_mixed_have_exact_positions_and_codes() -> None:
    data = bundle(
        document(b"<A/>", ref="one"),  # 1
        b"<b:Other/>",  # 2: not a Document
        document(b"<A/><B/>", ref="two"),  # 3: two elements
        document(b"text<A/>", ref="text"),  # 4: text beside it
        document(b"", ref="empty"),  # 5: nothing
        document(b"<!-- a note --><?pi x?>\n  <C/>\n", ref="commented"),  # 6: comments and PIs dropped
        document(b"<D/>", ref=""),  # 7: an empty ref
        document(b"<E/>", ref="r" * 257),  # 8: a ref over 256 characters
        document(b"<F>" + b"f" * 300 + b"</F>", ref="big"),  # 9: over max_entry_bytes
        document(b"<G/>"),  # 10: no ref
    )
    records = read(data, limits=ReaderLimits(max_entry_bytes=200))
    assert outline(records) == [
        (1, "one", None),
        (2, None, "batch.bundle.entry"),
        (3, "two", "batch.bundle.entry"),
        (4, "text", "batch.bundle.entry"),
        (5, "empty", "batch.bundle.entry"),
        (6, "commented", None),
        (7, None, "batch.bundle.entry"),
        (8, None, "batch.bundle.entry"),
        (9, "big", "batch.entry_too_large"),
        (10, None, None),
    ]
    scope = b' xmlns:b="urn:hk:tsw:bundle:1" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"'
    assert [r.body for r in records if r.ok] == [
        b"<A" + scope + b"/>",
        b"<C" + scope + b"/>",
        b"<G" + scope + b"/>",
    ]
    assert records[1].error is not None
    assert records[1].error.message == (
        f"bundle entry 2: a {{{BUNDLE_NAMESPACE}}}Other element, not a {{{BUNDLE_NAMESPACE}}}Document"
    )


def test_a_huge_document_is_refused_while_streaming_and_the_next_one_reads() -> None:
    big = b"<Big>" + b"<item>0123456789</item>" * 20_000 + b"</Big>"  # about 460 KB
    data = bundle(document(big, ref="big"), document(b"<Small/>", ref="small"))
    records = read(data, limits=ReaderLimits(max_entry_bytes=100_000))
    assert outline(records) == [(1, "big", "batch.entry_too_large"), (2, "small", None)]


@pytest.mark.parametrize("start_after", range(6))
def test_resume_after_any_position_yields_exactly_the_rest(start_after: int) -> None:
    data = bundle(*(document(f"<D{i}/>".encode(), ref=f"r{i}") for i in range(1, 5)), b"<b:Other/>")
    full = read(data)
    assert len(full) == 5
    assert read(data, start_after=start_after) == [r for r in full if r.position > start_after]


def _split_across_reads(declaration: bytes) -> bytes:
    """A bundle whose `declaration` straddles a boundary between two of the parser's reads.

    lxml reads 32 KiB at a time: 64 KiB - 4 puts the first 4 bytes in the second read, the rest in
    the third.
    """
    head = bundle(document(b"<A/>")).replace(CLOSE, b"")
    padding = b" " * (64 * 1024 - 4 - len(head) - len(b"<b:Document><B>"))
    data = head + padding + b"<b:Document><B>" + declaration + b"</B></b:Document>" + CLOSE
    assert data.index(declaration) == 64 * 1024 - 4
    return data


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>
<b:Bundle xmlns:b="urn:hk:tsw:bundle:1"><b:Document><A>&lol2;</A></b:Document></b:Bundle>"""
UTF16_LAUGHS = (
    BILLION_LAUGHS.replace(b'version="1.0"?>', b'version="1.0" encoding="UTF-16"?>').decode().encode("utf-16")
)
EXTERNAL = b"""<?xml version="1.0"?>
<!DOCTYPE b:Bundle SYSTEM "file:///etc/passwd">
<b:Bundle xmlns:b="urn:hk:tsw:bundle:1"><b:Document><A/></b:Document></b:Bundle>"""


@pytest.mark.parametrize(
    "data",
    [
        BILLION_LAUGHS,
        EXTERNAL,
        UTF16_LAUGHS,  # where a byte search cannot see it: caught from the parsed document information
        _split_across_reads(b'<!ENTITY x "y">'),
        _split_across_reads(b"<!DOCTYPE x>"),
    ],
    ids=["entities", "external", "utf16", "entity-across-reads", "doctype-across-reads"],
)
def test_doctype_and_entity_declarations_are_refused(data: bytes) -> None:
    with pytest.raises(BatchFileError) as caught:
        read(data)
    assert caught.value.code == "batch.bundle.unsafe"


def test_a_doctype_in_the_prolog_is_refused_before_any_record() -> None:
    with pytest.raises(BatchFileError, match="DOCTYPE"):
        open_reader("bundle", io.BytesIO(BILLION_LAUGHS))


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"<Bundle><Document><A/></Document></Bundle>", "batch.bundle.root"),  # no namespace
        (b'<x:Bundle xmlns:x="urn:other"/>', "batch.bundle.root"),
        (b"", "batch.bundle.malformed"),
        (b"   \n", "batch.bundle.malformed"),
        (b"not xml at all", "batch.bundle.malformed"),
        (b"\x00\x01\x02", "batch.bundle.malformed"),
    ],
)
def test_a_wrong_root_or_no_xml_is_refused_at_once(data: bytes, code: str) -> None:
    with pytest.raises(BatchFileError) as caught:
        open_reader("bundle", io.BytesIO(data))
    assert caught.value.code == code


def test_a_bundle_that_breaks_later_keeps_the_records_before_the_break() -> None:
    data = bundle(document(b"<A/>", ref="a"), document(b"<B/>", ref="b")).replace(CLOSE, b"") + (
        b"<b:Document><C></b:Document>"
    )
    stream = open_reader("bundle", io.BytesIO(data))
    seen = []
    with pytest.raises(BatchFileError) as caught:
        for record in stream:
            seen.append(record)
    assert outline(seen) == [(1, "a", None), (2, "b", None)]
    assert caught.value.code == "batch.bundle.malformed"
    assert "line" in caught.value.message


def test_a_truncated_bundle_is_malformed_after_its_complete_documents() -> None:
    data = bundle(document(b"<A/>"), document(b"<B/>"))[:-20]
    records: list[RawRecord] = []
    with pytest.raises(BatchFileError, match="not well-formed"):
        records.extend(open_reader("bundle", io.BytesIO(data)))
    assert [r.position for r in records] == [1]


def test_the_envelope_schema_accepts_what_the_reader_reads_and_refuses_what_it_refuses() -> None:
    schema = etree.XMLSchema(etree.parse(str(SCHEMAS / "bundle" / "bundle.xsd")))
    good = bundle(*(document(example(path), ref=path.name) for path in EXAMPLES[:2]), document(b"<X/>"))
    assert schema.validate(etree.fromstring(good)), schema.error_log
    for bad_entry in (b"<b:Other/>", document(b"<A/><B/>"), document(b""), document(b"<A/>", ref="")):
        assert not schema.validate(etree.fromstring(bundle(bad_entry)))
        assert not read(bundle(bad_entry))[0].ok
    assert schema.validate(etree.fromstring(bundle()))
    assert read(bundle()) == []
