"""`LvcPolicy`: what makes a consignment low-value enough for the e-commerce fast path.

A consignment whose total value, converted to Hong Kong dollars, is over `threshold_hkd` is refused
from the fast path (``lvc.threshold``): it must be lodged as a full trade declaration, ``hk.tdec``.
"Over" is strict: a consignment worth exactly the threshold is still low-value.

The policy is configuration: build it in the composition root (from settings) and pass it down.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from types import MappingProxyType

__all__ = ["DEFAULT_RATES_TO_HKD", "FULL_DECLARATION", "LvcPolicy"]

FULL_DECLARATION = "hk.tdec"
"""The document type a consignment over the threshold must be lodged as instead."""

DEFAULT_RATES_TO_HKD: Mapping[str, Decimal] = MappingProxyType(
    {
        "HKD": Decimal("1"),
        "USD": Decimal("7.8"),
        "CNY": Decimal("1.08"),
        "EUR": Decimal("8.4"),
        "GBP": Decimal("9.9"),
        "JPY": Decimal("0.052"),
        "MOP": Decimal("0.97"),
        "TWD": Decimal("0.24"),
        "KRW": Decimal("0.0057"),
        "SGD": Decimal("5.8"),
        "AUD": Decimal("5.1"),
    }
)
"""Illustrative HKD value of one unit of each currency, NOT official rates: configure the real table
(e.g. Customs' published rates, updated periodically) wherever the policy is built."""


@dataclass(frozen=True, slots=True)
class LvcPolicy:
    """The low-value limits. All defaults are illustrative and meant to be configured.

    - `threshold_hkd`: the largest total value (in HKD) of a fast-path consignment; default HK$5,000.
    - `rates_to_hkd`: currency -> HKD per unit; a currency missing here is refused
      (``lvc.currency-rate``) rather than guessed.
    - `max_items_per_consignment`: line items (rows) of one consignment; more is refused
      (``lvc.too-many-items``). It also bounds the memory one consignment takes while assembled.
    """

    threshold_hkd: Decimal = Decimal(5000)
    rates_to_hkd: Mapping[str, Decimal] = field(default_factory=lambda: DEFAULT_RATES_TO_HKD)
    max_items_per_consignment: int = 100

    def __post_init__(self) -> None:
        rates = MappingProxyType({code: Decimal(rate) for code, rate in self.rates_to_hkd.items()})
        if any(not rate.is_finite() or rate <= 0 for rate in rates.values()):
            raise ValueError("every rate to HKD must be a positive number")
        if not self.threshold_hkd.is_finite() or self.threshold_hkd < 0:
            raise ValueError("threshold_hkd must be a non-negative number")
        if self.max_items_per_consignment < 1:
            raise ValueError("max_items_per_consignment must be at least 1")
        object.__setattr__(self, "rates_to_hkd", rates)  # a private, read-only copy

    def __reduce__(self) -> tuple[type[LvcPolicy], tuple[Decimal, dict[str, Decimal], int]]:
        """Picklable (for the batch reader's process) although its rates are a read-only mapping."""
        return (LvcPolicy, (self.threshold_hkd, dict(self.rates_to_hkd), self.max_items_per_consignment))

    def to_hkd(self, amount: Decimal, currency: str) -> Decimal | None:
        """`amount` of `currency` in HKD, or None when the policy has no rate for it."""
        rate = self.rates_to_hkd.get(currency)
        return None if rate is None else amount * rate
