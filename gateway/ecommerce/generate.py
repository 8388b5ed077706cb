"""Realistic ``hk.ecom.lvc`` test files, streamed: for demos, tests and benchmarks.

`generate_consignments(count, invalid_rate=..., seed=...)` yields `GeneratedConsignment`s one at a
time (1 to 3 line items each; memory does not grow with `count`), and `encode(consignments, fmt)`
turns them into the bytes of a file, one chunk per consignment:

- ``csv``: the rows under a header of every column (RFC 4180, CRLF line ends);
- ``json``: one JSON array of rows (decimals as JSON numbers where they are numbers);
- ``jsonl``: one canonical consignment document per line (``documentType`` included; decimals as
  strings), as `gateway.ecommerce.document` writes it: for a valid consignment the line is exactly
  `document_bytes` of what the validator accepts.

Each consignment is invalid with probability `invalid_rate`, through ONE realistic defect
(`Defect`): a bad HS code, an unknown unit, a value over the threshold (a phone or a laptop in the
parcel), a bad country or currency code, a missing field, a bad number (decimal comma, a free-gift
zero, a refund), a bad transport mode, or (CSV/JSON rows only; a document cannot express it) a
consignment-level column that differs between two rows. A defect in a consignment-level column is
made on every row, so the rows stay consistent apart from that defect. `GeneratedConsignment.defect`
says which code the validator must answer (``lvc.*``; a canonical document may instead be refused
by the JSON Schema first).

The same `seed`, `count`, `invalid_rate` and `document_form` give the same consignments, byte for
byte. References are ``LVC-<seed>-<n>`` (the seed's last 12 digits): another seed, other references.
"""

from __future__ import annotations

import csv
import io
import itertools
import random
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from typing import Any

import orjson

from gateway.ecommerce import catalogue
from gateway.ecommerce.catalogue import Goods, Seller
from gateway.ecommerce.columns import COLUMNS, CONSIGNMENT_COLUMNS, DECIMAL_COLUMNS, ITEM_COLUMNS
from gateway.ecommerce.document import DOCUMENT_TYPE, decimal_text
from gateway.ecommerce.policy import LvcPolicy

__all__ = ["Defect", "FileFormat", "GeneratedConsignment", "encode", "generate_consignments"]

_CENT = Decimal("0.01")
_GRAM = Decimal("0.001")
_MAX_VALID_ITEM_HKD = 1500  # 3 items stay under the HK$5,000 default threshold
_DEFECT_WEIGHTS: tuple[tuple[str, int], ...] = (
    ("hs-code", 14),
    ("unit", 12),
    ("threshold", 16),
    ("country", 10),
    ("currency", 8),
    ("missing", 14),
    ("number", 12),
    ("transport-mode", 6),
    ("inconsistent", 8),
)


class FileFormat(StrEnum):
    CSV = "csv"
    JSON = "json"
    JSONL = "jsonl"


@dataclass(frozen=True, slots=True)
class Defect:
    """What was broken: the defect's kind and the problem code the validator answers."""

    kind: str
    code: str


@dataclass(frozen=True, slots=True)
class GeneratedConsignment:
    """One consignment's rows (column -> text; a missing column is absent) and its defect, if any."""

    rows: tuple[dict[str, str], ...]
    defect: Defect | None = None

    def __repr__(self) -> str:  # rows hold buyer_id_ref: never in a repr
        return f"GeneratedConsignment(ref={self.rows[0].get('consignment_ref')!r}, defect={self.defect!r})"


def generate_consignments(
    count: int,
    *,
    invalid_rate: float = 0.0,
    seed: int = 0,
    document_form: bool = False,
    policy: LvcPolicy | None = None,
) -> Iterator[GeneratedConsignment]:
    """`count` consignments, each invalid with probability `invalid_rate`.

    `document_form`: only defects a canonical document can carry (no inconsistent rows), for
    ``jsonl``. `policy` (rates, threshold) is what "over the threshold" is measured against.
    """
    builder = _Builder(random.Random(seed), seed=seed, policy=policy or LvcPolicy())
    kinds = [kind for kind, _ in _DEFECT_WEIGHTS if not (document_form and kind == "inconsistent")]
    weights = list(itertools.accumulate(weight for kind, weight in _DEFECT_WEIGHTS if kind in kinds))
    rng = builder.rng
    for number in range(1, count + 1):
        kind = rng.choices(kinds, cum_weights=weights)[0] if rng.random() < invalid_rate else None
        yield builder.consignment(number, kind)


def encode(consignments: Iterable[GeneratedConsignment], fmt: FileFormat) -> Iterator[bytes]:
    """The file's bytes, one chunk per consignment (the first also carries the CSV header or ``[``)."""
    if fmt is FileFormat.CSV:
        return _csv_chunks(consignments)
    if fmt is FileFormat.JSON:
        return _json_array_chunks(consignments)
    return (orjson.dumps(_document(item), option=orjson.OPT_SORT_KEYS) + b"\n" for item in consignments)


# ---- building one consignment ---------------------------------------------------------------------


class _Builder:
    __slots__ = ("max_item_hkd", "policy", "rng", "seed", "seller_weights", "sellers")

    def __init__(self, rng: random.Random, *, seed: int, policy: LvcPolicy) -> None:
        self.rng = rng
        self.seed = seed
        self.policy = policy
        self.sellers = [seller for seller, _ in catalogue.SELLERS]
        self.seller_weights = list(itertools.accumulate(weight for _, weight in catalogue.SELLERS))
        # three items of at most this stay under the threshold, whatever the policy says it is
        self.max_item_hkd = max(1, min(_MAX_VALID_ITEM_HKD, int(policy.threshold_hkd) // 3))

    def consignment(self, number: int, defect: str | None) -> GeneratedConsignment:
        rng = self.rng
        seller = rng.choices(self.sellers, cum_weights=self.seller_weights)[0]
        shop, category = rng.choice(seller.shops)
        header = self._header(number, seller, shop)
        currency = header["currency"]
        goods = catalogue.GOODS_BY_CATEGORY[category]
        items = 2 if defect == "inconsistent" else rng.choice((1, 1, 1, 2, 2, 3))
        rows = [{**header, **self._item(rng.choice(goods), currency, seller)} for _ in range(items)]
        if defect is None:
            return GeneratedConsignment(tuple(rows))
        return GeneratedConsignment(tuple(rows), self._break(defect, rows, seller))

    def _header(self, number: int, seller: Seller, shop: str) -> dict[str, str]:
        rng = self.rng
        platform = rng.choice(seller.platforms)
        mode = rng.choice(seller.transport_modes)
        destination = "HK" if seller.country != "HK" else "MO"
        return {
            "consignment_ref": f"LVC-{abs(self.seed) % 10**12}-{number:09d}",  # within 35 characters
            "platform": platform,
            "order_ref": f"{platform[:2].upper()}{rng.randrange(10**13, 10**14)}",
            "tracking_no": _tracking_no(rng, mode, seller.country),
            "seller_name": shop,
            "seller_country": seller.country,
            "buyer_name": f"{rng.choice(catalogue.BUYER_SURNAMES)} {rng.choice(catalogue.BUYER_GIVEN_NAMES)}",
            "buyer_id_ref": f"BID-{rng.getrandbits(48):012x}",
            "consignee_address": _address(rng, destination),
            "destination_country": destination,
            "transport_mode": mode,
            "currency": rng.choice(seller.currencies),
        }

    def _item(self, goods: Goods, currency: str, seller: Seller) -> dict[str, str]:
        rng = self.rng
        unit_hkd = min(rng.randint(*goods.unit_value_hkd), self.max_item_hkd)
        quantity = rng.randint(1, max(1, min(goods.max_quantity, self.max_item_hkd // unit_hkd)))
        grams = sum(rng.randint(*goods.unit_weight_g) for _ in range(quantity)) + rng.randint(20, 120)
        if seller.country == "HK":
            origin = rng.choice(("CN", "CN", "JP", "DK", "US"))
        else:  # most of what foreign shops sell is made in the mainland
            origin = seller.country if seller.country == "CN" or rng.random() < 0.6 else "CN"
        return {
            "description": goods.description,
            "hs_code": goods.hs_code,
            "quantity": str(quantity),
            "unit": goods.unit,
            "value": self._in_currency(Decimal(unit_hkd * quantity) - Decimal("0.1"), currency),  # 99.9
            "gross_weight_kg": decimal_text((Decimal(grams) / 1000).quantize(_GRAM)),
            "origin_country": origin,
        }

    def _in_currency(self, hkd: Decimal, currency: str) -> str:
        rate = self.policy.rates_to_hkd.get(currency, Decimal(1))
        return decimal_text((hkd / rate).quantize(_CENT, rounding=ROUND_HALF_UP))

    def _break(self, kind: str, rows: list[dict[str, str]], seller: Seller) -> Defect:
        rng = self.rng
        row = rng.choice(rows)
        if kind == "hs-code":
            row["hs_code"] = rng.choice(catalogue.BAD_HS_CODES)
            return Defect(kind, "lvc.hs-code")
        if kind == "unit":
            row["unit"] = rng.choice(catalogue.BAD_UNITS)
            return Defect(kind, "lvc.unit")
        if kind == "threshold":
            self._over_threshold(rows, seller)
            return Defect(kind, "lvc.threshold")
        if kind == "country":
            column = rng.choice(("seller_country", "origin_country", "destination_country"))
            _set(rows if column != "origin_country" else [row], column, rng.choice(catalogue.BAD_COUNTRIES))
            return Defect(kind, "lvc.country")
        if kind == "currency":
            _set(rows, "currency", rng.choice(catalogue.BAD_CURRENCIES))
            return Defect(kind, "lvc.currency")
        return self._break_more(kind, rows, row)

    def _break_more(self, kind: str, rows: list[dict[str, str]], row: dict[str, str]) -> Defect:
        rng = self.rng
        if kind == "missing":
            column = rng.choice(("tracking_no", "buyer_id_ref", "consignee_address", "hs_code", "value"))
            for target in rows if column in CONSIGNMENT_COLUMNS else [row]:
                del target[column]
            return Defect(kind, "lvc.required")
        if kind == "number":
            column, bad, code = rng.choice(_BAD_NUMBERS)
            row[column] = bad
            return Defect(kind, code)
        if kind == "transport-mode":
            _set(rows, "transport_mode", rng.choice(catalogue.BAD_TRANSPORT_MODES))
            return Defect(kind, "lvc.transport-mode")
        second = rows[1]  # "inconsistent": a split parcel, a retyped name, a second currency
        column = rng.choice(("tracking_no", "seller_name", "currency"))
        if column == "tracking_no":
            while second[column] == rows[0][column]:
                second[column] = _tracking_no(rng, second["transport_mode"], second["seller_country"])
        elif column == "seller_name":
            second[column] = second[column].upper()
        else:
            second[column] = "HKD" if second[column] != "HKD" else "USD"
        return Defect(kind, "lvc.inconsistent")

    def _over_threshold(self, rows: list[dict[str, str]], seller: Seller) -> None:
        goods = self.rng.choice(catalogue.EXPENSIVE_GOODS)
        threshold = int(self.policy.threshold_hkd)
        low, high = goods.unit_value_hkd
        hkd = self.rng.randint(max(low, threshold + 200), max(high, threshold + 400))
        item = self._item(goods, rows[0]["currency"], seller)
        item["value"] = self._in_currency(Decimal(hkd), rows[0]["currency"])
        rows[0].update(item)


def _classify(column: str, bad: str) -> tuple[str, str, str]:
    text = bad.lstrip("-")
    if not text.replace(".", "", 1).isdigit():
        return column, bad, "lvc.number"
    if bad.startswith("-") or Decimal(bad) == 0:
        return column, bad, "lvc.positive"
    return column, bad, "lvc.precision"


_BAD_NUMBERS = tuple(_classify(column, bad) for column, bad in catalogue.BAD_NUMBERS)


def _set(rows: Iterable[dict[str, str]], column: str, value: str) -> None:
    for row in rows:
        row[column] = value


def _address(rng: random.Random, country: str) -> str:
    if country == "MO":
        return rng.choice(catalogue.MACAO_ADDRESSES).format(block=f"{rng.randint(1, 28)}{rng.choice('ABCD')}")
    estate = rng.choice(catalogue.ADDRESSES).format(block=rng.randint(1, 12))
    return f"Flat {rng.randint(1, 32)}{rng.choice('ABCDEFGH')}, {rng.randint(1, 45)}/F, {estate}"


_S10_WEIGHTS = (8, 6, 4, 2, 3, 5, 9, 7)


def _tracking_no(rng: random.Random, mode: str, country: str) -> str:
    """A tracking number in the carrier's own format for the transport mode."""
    if mode == "post":  # UPU S10: service indicator, 8 digits, check digit, origin country
        serial = f"{rng.randrange(10**8):08d}"
        total = sum(int(digit) * weight for digit, weight in zip(serial, _S10_WEIGHTS, strict=True))
        check = 11 - total % 11
        check = 0 if check == 10 else 5 if check == 11 else check
        return f"{rng.choice(('RB', 'RR', 'LP', 'EE', 'CP'))}{serial}{check}{country}"
    if mode == "road":  # SF Express / JD Logistics waybills
        return rng.choice(("SF", "JDV")) + f"{rng.randrange(10**12, 10**13)}"
    if mode == "air":  # DHL Express / UPS
        return f"{rng.randrange(10**9, 10**10)}" if rng.random() < 0.6 else f"1Z{rng.getrandbits(64):016X}"
    return f"CNSEA{rng.randrange(10**10, 10**11)}"  # a sea consolidator's house bill


# ---- file formats ---------------------------------------------------------------------------------


def _csv_chunks(consignments: Iterable[GeneratedConsignment]) -> Iterator[bytes]:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, restval="")
    writer.writeheader()
    for consignment in consignments:
        writer.writerows(consignment.rows)
        yield buffer.getvalue().encode()
        buffer.seek(0)
        buffer.truncate()
    if buffer.tell():  # no consignment at all: the header alone
        yield buffer.getvalue().encode()


def _json_array_chunks(consignments: Iterable[GeneratedConsignment]) -> Iterator[bytes]:
    opening = b"[\n"
    for consignment in consignments:
        rows = (
            orjson.dumps({column: _json_value(column, row[column]) for column in row})
            for row in consignment.rows
        )
        yield opening + b",\n".join(rows)
        opening = b",\n"
    yield b"[]\n" if opening == b"[\n" else b"\n]\n"


def _json_value(column: str, text: str) -> Any:
    """Decimal columns as JSON numbers when they are plain decimals (a float holds them exactly)."""
    if column in DECIMAL_COLUMNS and text.replace(".", "", 1).isdigit():
        return float(text) if "." in text else int(text)
    return text


def _document(consignment: GeneratedConsignment) -> dict[str, Any]:
    """The canonical document of the rows (a consignment-level column taken from the first row)."""
    first = consignment.rows[0]
    document: dict[str, Any] = {"documentType": DOCUMENT_TYPE}
    document.update((column, first[column]) for column in CONSIGNMENT_COLUMNS if column in first)
    document["items"] = [
        {column: row[column] for column in ITEM_COLUMNS if column in row} for row in consignment.rows
    ]
    return document
