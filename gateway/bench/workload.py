"""What `tsw bench clearance` submits: one document of one schema pack, checked before anything starts.

By default the WCO DEC-DMS reference pack (`routes = ["customs"]`), which lives beside the checkout in
`../shared/reference/wco-dms/` and is not part of the repository, and its import sample
`TT_IM001b` (HS 8510, origin outside every sanctions list, no controlled or inspected chapter), which
the customs simulator clears whatever its seed. The document is validated here, with the pack's own
schema, so a wrong `--document` fails in a second rather than after the stack has started.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from gateway.config import REPO_ROOT
from gateway.documents.packs import SchemaPack, load_pack
from gateway.documents.validator import DocumentValidator, media_format
from gateway.errors import GatewayError

__all__ = ["DEFAULT_DOCUMENT", "DEFAULT_PACK_DIR", "BenchSetupError", "Workload", "load_workload"]

DEFAULT_PACK_DIR = REPO_ROOT.parent / "shared" / "reference" / "wco-dms"
#: Relative to the pack directory.
DEFAULT_DOCUMENT = Path("samples/declarations/TT_IM001b__TT_IM001b.xml")


class BenchSetupError(GatewayError):
    """A benchmark cannot start: its pack or document is missing or not valid."""


@dataclass(frozen=True, slots=True)
class Workload:
    pack: SchemaPack
    path: Path
    body: bytes
    content_type: str

    @property
    def routes(self) -> tuple[str, ...]:
        return self.pack.routes


def load_workload(pack_dir: Path | None, document: Path | None) -> Workload:
    """The pack in `pack_dir` (default `DEFAULT_PACK_DIR`) and `document` (default its sample)."""
    directory = pack_dir or DEFAULT_PACK_DIR
    if not (directory / "pack.toml").is_file():
        hint = "" if pack_dir else " (the WCO reference data is not beside this checkout)"
        raise BenchSetupError(f"no schema pack at {directory}{hint}: give one with --pack DIR")
    pack = load_pack(directory.resolve())
    path = document or directory / DEFAULT_DOCUMENT
    if not path.is_file():
        raise BenchSetupError(f"no document at {path}: give one with --document FILE")
    workload = Workload(pack, path, path.read_bytes(), _content_type(path))
    _check(workload)
    return workload


def _content_type(path: Path) -> str:
    return "application/json" if path.suffix.lower() == ".json" else "application/xml"


def _check(workload: Workload) -> None:
    try:
        DocumentValidator([workload.pack]).validate(workload.body, media_format(workload.content_type))
    except GatewayError as exc:
        raise BenchSetupError(f"{workload.path} is not a valid {workload.pack.id} document: {exc}") from exc
