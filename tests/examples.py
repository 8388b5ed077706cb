"""The example documents shipped in the schema packs, and the WCO reference samples."""

from __future__ import annotations

from pathlib import Path

from gateway.config import REPO_ROOT
from tests.conftest import WCO_DIR

PACKS = REPO_ROOT / "schemas"


def examples(pack: str, kind: str = "valid", suffix: str = "") -> list[Path]:
    found = sorted(
        p for p in (PACKS / pack / "examples" / kind).glob(f"*{suffix}") if p.suffix in (".xml", ".json")
    )
    assert found, f"no {kind} {suffix or ''} examples in pack {pack}"
    return found


def content_type(path: Path) -> str:
    return "application/json" if path.suffix == ".json" else "application/xml"


def wco_samples() -> tuple[list[Path], Path]:
    """The 150 valid WCO DEC-DMS samples and the one invalid sample."""
    directory = WCO_DIR / "samples" / "declarations"
    invalid = directory / "example_submission_declaration_400.xml"
    valid = sorted(p for p in directory.glob("*.xml") if p != invalid)
    return valid, invalid
