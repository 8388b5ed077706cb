"""Countries under comprehensive sanctions, as the simulators' default screening list.

The default (`KP` North Korea, `IR` Iran, `SY` Syria, `CU` Cuba) is a demonstration list, not legal
advice: each agency's list is configurable (`TSW_SIM_CUSTOMS_SANCTIONED_ORIGINS`,
`TSW_SIM_TID_SANCTIONED_COUNTRIES`).
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["SANCTIONED_COUNTRIES", "sanctioned_among"]

SANCTIONED_COUNTRIES: frozenset[str] = frozenset({"KP", "IR", "SY", "CU"})


def sanctioned_among(
    countries: Iterable[tuple[str, str]], sanctioned: frozenset[str]
) -> list[tuple[str, str]]:
    """The `(country, pointer)` pairs whose country is in `sanctioned`, in input order."""
    return [(country, pointer) for country, pointer in countries if country in sanctioned]
