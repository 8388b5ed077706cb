"""Schema packs: the document types the gateway accepts, read from `pack.toml` directories.

A pack directory holds a `pack.toml`. The original flat layout (see the WCO reference pack) names one
form at top level::

    id = "wco.dec-dms"; title = "..."; format = "xml"; root = "{ns}MetaData"
    schema = "schemas/declaration/MetaData_with_Declaration.xsd"; routes = ["customs"]

The extended layout lists several forms of one document type, plus an optional business-rule set::

    id = "hk.tdec"; title = "..."; routes = ["customs", "censtatd"]; rules = "hk.tdec"
    [[forms]]  format = "xml";  root = "{urn:hk:tsw:tdec:1}TradeDeclaration"; schema = "tdec.xsd"
    [[forms]]  format = "json"; match = "hk.tdec"; schema = "tdec.schema.json"

`discover_packs` accepts both a pack directory and a directory of pack directories.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from gateway.contracts.agencies import AGENCIES
from gateway.errors import PackError

__all__ = ["PackForm", "SchemaPack", "discover_packs", "load_pack"]

PACK_FILE = "pack.toml"
Format = Literal["xml", "json"]


@dataclass(frozen=True, slots=True)
class PackForm:
    """One serialisation of a document type: how to recognise it and which schema checks it."""

    format: Format
    key: str  # XML root QName "{ns}local", or the JSON `documentType` value
    schema_path: Path


@dataclass(frozen=True, slots=True)
class SchemaPack:
    id: str
    title: str
    routes: tuple[str, ...]
    forms: tuple[PackForm, ...]
    directory: Path
    rules: str | None = None


def load_pack(directory: Path) -> SchemaPack:
    manifest = directory / PACK_FILE
    try:
        data = tomllib.loads(manifest.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise PackError(f"{manifest}: cannot read: {exc}") from exc
    pack_id = _required_str(data, "id", manifest)
    routes = tuple(data.get("routes", ()))
    unknown = [route for route in routes if route not in AGENCIES]
    if not routes or unknown:
        raise PackError(f"{manifest}: routes must be agency ids from {sorted(AGENCIES)}, got {list(routes)}")
    raw_forms = data.get("forms") or [data]
    forms = tuple(_load_form(raw, directory, manifest) for raw in raw_forms)
    rules = data.get("rules")
    return SchemaPack(
        id=pack_id,
        title=str(data.get("title", pack_id)),
        routes=routes,
        forms=forms,
        directory=directory,
        rules=str(rules) if rules is not None else None,
    )


def discover_packs(directories: Iterable[Path]) -> list[SchemaPack]:
    """Every pack under the given directories, in a stable order; duplicate ids are an error."""
    packs: dict[str, SchemaPack] = {}
    for directory in directories:
        for pack_dir in _pack_dirs(directory):
            pack = load_pack(pack_dir)
            if pack.id in packs:
                raise PackError(
                    f"pack id {pack.id!r} defined twice: {packs[pack.id].directory} and {pack_dir}"
                )
            packs[pack.id] = pack
    return list(packs.values())


def _pack_dirs(directory: Path) -> list[Path]:
    if (directory / PACK_FILE).is_file():
        return [directory]
    if not directory.is_dir():
        raise PackError(f"schema pack directory {directory} does not exist")
    return sorted(child for child in directory.iterdir() if (child / PACK_FILE).is_file())


def _load_form(raw: Mapping[str, Any], directory: Path, manifest: Path) -> PackForm:
    fmt = raw.get("format")
    if fmt not in ("xml", "json"):
        raise PackError(f"{manifest}: format must be 'xml' or 'json', got {fmt!r}")
    key = _required_str(raw, "root" if fmt == "xml" else "match", manifest)
    schema_path = (directory / _required_str(raw, "schema", manifest)).resolve()
    if not schema_path.is_file():
        raise PackError(f"{manifest}: schema {schema_path} does not exist")
    return PackForm(format=fmt, key=key, schema_path=schema_path)


def _required_str(data: Mapping[str, Any], name: str, manifest: Path) -> str:
    value = data.get(name)
    if not isinstance(value, str) or not value:
        raise PackError(f"{manifest}: '{name}' must be a non-empty string")
    return value
