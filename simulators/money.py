"""Converting declared values to Hong Kong dollars with a small, configurable rate table.

The default rates are indicative (HKD per one unit of the currency, rounded, mid-2020s; the USD rate is
the middle of the Linked Exchange Rate band 7.75-7.85). They make the simulators' thresholds and
charges plausible; they are not for real charges. Override the whole table with `TSW_SIM_HKD_RATES`
(JSON object, e.g. `{"HKD": "1", "USD": "7.8"}`).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from simulators.contract import Money, decimal_of

__all__ = ["DEFAULT_HKD_RATES", "to_hkd"]

DEFAULT_HKD_RATES: Mapping[str, Decimal] = {
    code: Decimal(rate)
    for code, rate in {
        "HKD": "1",
        "USD": "7.8",
        "CNY": "1.08",
        "MOP": "0.97",
        "EUR": "8.5",
        "GBP": "9.9",
        "JPY": "0.052",
        "KRW": "0.0056",
        "TWD": "0.24",
        "SGD": "5.8",
        "AUD": "5.1",
        "NZD": "4.6",
        "CAD": "5.7",
        "CHF": "8.8",
        "THB": "0.22",
        "MYR": "1.7",
        "IDR": "0.00049",
        "PHP": "0.14",
        "VND": "0.00031",
        "INR": "0.093",
    }.items()
}


def to_hkd(money: Money, rates: Mapping[str, Decimal]) -> Decimal | None:
    """`money` in HKD, or None when its currency is not in `rates`."""
    rate = rates.get(money.currency)
    if rate is None:
        return None
    return decimal_of(money.amount) * rate
