from __future__ import annotations

from pathlib import Path

import pytest

from gateway.documents.packs import discover_packs, load_pack
from gateway.errors import PackError
from tests.conftest import WCO_DIR

SCHEMA = '{"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object"}'


def write_pack(directory: Path, manifest: str) -> Path:
    directory.mkdir(parents=True)
    (directory / "pack.toml").write_text(manifest)
    (directory / "s.json").write_text(SCHEMA)
    return directory


def test_reads_the_flat_reference_manifest_as_it_is() -> None:
    pack = load_pack(WCO_DIR)

    assert pack.id == "wco.dec-dms"
    assert pack.routes == ("customs",)
    assert len(pack.forms) == 1
    form = pack.forms[0]
    assert form.format == "xml"
    assert form.key == "{urn:wco:datamodel:WCO:DocumentMetaData-DMS:2}MetaData"
    assert form.schema_path.name == "MetaData_with_Declaration.xsd"


def test_reads_a_pack_with_several_forms_and_rules(tmp_path: Path) -> None:
    directory = write_pack(
        tmp_path / "p",
        'id = "x.doc"\ntitle = "X"\nroutes = ["customs", "tid"]\nrules = "x"\n'
        '[[forms]]\nformat = "json"\nmatch = "x.doc"\nschema = "s.json"\n',
    )

    pack = load_pack(directory)

    assert pack.rules == "x"
    assert [(f.format, f.key) for f in pack.forms] == [("json", "x.doc")]


@pytest.mark.parametrize(
    ("manifest", "complaint"),
    [
        ('title = "no id"\nroutes = ["customs"]\nformat = "json"\nmatch = "a"\nschema = "s.json"', "'id'"),
        ('id = "a"\nroutes = ["nasa"]\nformat = "json"\nmatch = "a"\nschema = "s.json"', "routes"),
        ('id = "a"\nroutes = []\nformat = "json"\nmatch = "a"\nschema = "s.json"', "routes"),
        ('id = "a"\nroutes = ["customs"]\nformat = "yaml"\nmatch = "a"\nschema = "s.json"', "format"),
        ('id = "a"\nroutes = ["customs"]\nformat = "json"\nschema = "s.json"', "'match'"),
        (
            'id = "a"\nroutes = ["customs"]\nformat = "json"\nmatch = "a"\nschema = "missing.json"',
            "does not exist",
        ),
        ('id = "a" routes', "cannot read"),
    ],
)
def test_malformed_manifests_are_refused_with_the_reason(
    tmp_path: Path, manifest: str, complaint: str
) -> None:
    directory = write_pack(tmp_path / "p", manifest)

    with pytest.raises(PackError, match=complaint):
        load_pack(directory)


def test_discovers_a_directory_of_packs_and_refuses_duplicate_ids(tmp_path: Path) -> None:
    body = 'id = "same"\nroutes = ["customs"]\nformat = "json"\nmatch = "{m}"\nschema = "s.json"\n'
    write_pack(tmp_path / "all" / "one", body.format(m="one"))
    write_pack(tmp_path / "all" / "two", body.format(m="two").replace('"same"', '"other"'))
    write_pack(tmp_path / "dup", body.format(m="three"))

    assert [p.id for p in discover_packs([tmp_path / "all"])] == ["same", "other"]
    with pytest.raises(PackError, match="defined twice"):
        discover_packs([tmp_path / "all", tmp_path / "dup"])
    with pytest.raises(PackError, match="does not exist"):
        discover_packs([tmp_path / "nowhere"])
