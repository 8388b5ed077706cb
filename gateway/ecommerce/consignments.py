"""Rows in file order -> one `ConsignmentResult` per consignment, streaming.

`ConsignmentAssembler` takes parsed rows (`Row` or `RowProblems`, from `parse_row`) with their
positions, in file order, and hands back each consignment once its last row has been seen: push rows
with `add` (it returns the consignment the row closed, if any) and call `finish` at the end, or wrap
an iterator with `assemble`. It holds one consignment at a time, so memory is bounded by
`LvcPolicy.max_items_per_consignment` rows, whatever the file's size.

Decisions:

- **Adjacency.** The rows of one consignment must be adjacent: a consignment ends at the first row
  with another ``consignment_ref``. A reference that reappears later opens a *new* consignment with
  the same reference; it is treated as a duplicate, not merged and not flagged here. Flagging it
  would mean remembering every reference of the file (memory growing with the file), and could not
  undo the first part anyway (already handed on, streaming). ``consignment_ref`` is unique per
  submitter across files, so the store's unique key refuses the second part as a duplicate, exactly
  like a reference lodged yesterday.
- **A row without a usable reference** (missing, too long) stands alone as its own refused result:
  the assembler does not guess which consignment it belongs to.
- **Consistency.** Consignment-level columns (`CONSIGNMENT_COLUMNS`) must agree with the
  consignment's first readable row (``lvc.inconsistent``, one problem per disagreeing column, at the
  disagreeing row). Messages name the column and the first row, never the values (one of them is
  ``buyer_id_ref``).
- **Threshold.** The total value (the sum of the items' values, in the consignment's one currency)
  converted with `LvcPolicy.rates_to_hkd` must not be over `LvcPolicy.threshold_hkd`
  (``lvc.threshold``, at ``/<first position>``), else the consignment must be lodged as a full trade
  declaration (``hk.tdec``). A currency without a rate is ``lvc.currency-rate``. The consignment's
  currency is the first readable one; the readable values in it are summed even on refused rows
  (`RowProblems.value`), which gives a lower bound of the total when some are unreadable, so an
  excess is reported at once with the other problems ("at least ...").
- **All or nothing.** A consignment with any problem in any row is refused as a whole, listing every
  problem of every row (in file order, then the consignment's own).

==================  ================================================================================
code                meaning
==================  ================================================================================
lvc.inconsistent    a consignment-level column differs from the consignment's first row
lvc.threshold       the total value in HKD is over the policy's threshold: lodge ``hk.tdec`` instead
lvc.currency-rate   the policy has no rate to HKD for the consignment's currency
lvc.too-many-items  more rows than `LvcPolicy.max_items_per_consignment` (at the first row over)
==================  ================================================================================
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from operator import attrgetter

from gateway.documents.problems import Problem
from gateway.ecommerce.columns import CONSIGNMENT_COLUMNS
from gateway.ecommerce.policy import FULL_DECLARATION, LvcPolicy
from gateway.ecommerce.rows import Row, RowProblems

__all__ = ["Consignment", "ConsignmentAssembler", "ConsignmentResult", "assemble"]

_header_of = attrgetter(*CONSIGNMENT_COLUMNS)


@dataclass(frozen=True, slots=True)
class Consignment:
    """An accepted consignment: its rows, which agree on every consignment-level column."""

    rows: tuple[Row, ...]

    @property
    def consignment_ref(self) -> str:
        return self.rows[0].consignment_ref

    @property
    def currency(self) -> str:
        return self.rows[0].currency

    @property
    def total_value(self) -> Decimal:
        """The sum of the items' values, in `currency`."""
        return sum((row.value for row in self.rows), Decimal(0))


@dataclass(frozen=True, slots=True)
class ConsignmentResult:
    """One consignment's outcome: accepted (`consignment` set) or refused (`problems` non-empty).

    `first_position`/`last_position` are the positions (CSV lines, JSON indexes) of its first and
    last rows; `row_count` how many rows it had. `consignment_ref` is None for a lone row without a
    usable reference.
    """

    consignment_ref: str | None
    first_position: int
    last_position: int
    row_count: int
    consignment: Consignment | None = None
    problems: tuple[Problem, ...] = ()

    @property
    def accepted(self) -> bool:
        return self.consignment is not None


class _Group:
    """The consignment being assembled."""

    __slots__ = (
        "count",
        "currency",
        "currency_position",
        "first_position",
        "header",
        "header_position",
        "last_position",
        "problems",
        "ref",
        "rows",
        "summed",
        "total",
    )

    def __init__(self, ref: str | None, position: int) -> None:
        self.ref = ref
        self.first_position = position
        self.last_position = position
        self.count = 0
        self.rows: list[Row] = []
        self.problems: list[Problem] = []
        self.header: tuple[str, ...] | None = None
        self.header_position = position
        self.currency: str | None = None  # the first readable one: the consignment's
        self.currency_position = position
        self.total = Decimal(0)  # of the readable values in that currency
        self.summed = 0

    def add(self, position: int, parsed: Row | RowProblems, max_items: int) -> None:
        self.count += 1
        self.last_position = position
        if self.count > max_items:
            if self.count == max_items + 1:
                message = f"a consignment may have at most {max_items} items (rows)"
                self.problems.append(Problem("lvc.too-many-items", f"/{position}", message))
            return
        self._add_value(position, parsed.value, parsed.currency)
        if type(parsed) is not Row:
            assert isinstance(parsed, RowProblems)
            self.problems.extend(parsed.problems)
            return
        if self.header is None:
            self.header = _header_of(parsed)
            self.header_position = position
        else:
            header = _header_of(parsed)
            if header != self.header:
                self._inconsistent(position, header)
        self.rows.append(parsed)

    def _add_value(self, position: int, value: Decimal | None, currency: str | None) -> None:
        if currency is not None and self.currency is None:
            self.currency = currency
            self.currency_position = position
        if value is not None and currency == self.currency:
            self.total += value
            self.summed += 1

    def _inconsistent(self, position: int, header: tuple[str, ...]) -> None:
        assert self.header is not None
        for column, value, first in zip(CONSIGNMENT_COLUMNS, header, self.header, strict=True):
            if value != first:
                message = (
                    f"{column} differs from the consignment's first row (/{self.header_position}): "
                    "consignment-level columns must be the same on every row of a consignment"
                )
                self.problems.append(Problem("lvc.inconsistent", f"/{position}/{column}", message))

    def close(self, policy: LvcPolicy) -> ConsignmentResult:
        if self.currency is not None:
            self._check_total(self.currency, policy)
        if self.problems:
            return self._result(problems=tuple(self.problems))
        return self._result(consignment=Consignment(tuple(self.rows)))

    def _result(
        self, *, consignment: Consignment | None = None, problems: tuple[Problem, ...] = ()
    ) -> ConsignmentResult:
        return ConsignmentResult(
            consignment_ref=self.ref,
            first_position=self.first_position,
            last_position=self.last_position,
            row_count=self.count,
            consignment=consignment,
            problems=problems,
        )

    def _check_total(self, currency: str, policy: LvcPolicy) -> None:
        total_hkd = policy.to_hkd(self.total, currency)
        if total_hkd is None:
            message = f"no rate to HKD is configured for {currency}, so the low-value limit cannot be checked"
            self.problems.append(Problem("lvc.currency-rate", f"/{self.currency_position}/currency", message))
        elif total_hkd > policy.threshold_hkd:
            partial = self.summed < self.count  # some values unreadable: the sum is a lower bound
            message = _over_threshold(self.total, currency, total_hkd, policy=policy, partial=partial)
            self.problems.append(Problem("lvc.threshold", f"/{self.first_position}", message))


def _over_threshold(
    total: Decimal, currency: str, total_hkd: Decimal, *, policy: LvcPolicy, partial: bool
) -> str:
    at_least = "at least " if partial else ""
    in_hkd = "" if currency == "HKD" else f" (HK${total_hkd:,.2f})"
    message = (
        f"the consignment's total value, {at_least}{total:,.2f} {currency}{in_hkd}, is over the "
        f"HK${policy.threshold_hkd:,} limit of the low-value e-commerce fast path: "
        f"lodge it as a full trade declaration ({FULL_DECLARATION}) instead"
    )
    return message


class ConsignmentAssembler:
    """Groups adjacent rows into consignments; see the module docstring for the rules.

    ``add`` each parsed row in file order; it returns the consignment that row closed (the previous
    one), if any. ``finish`` returns the last one. One assembler per file.
    """

    __slots__ = ("_group", "_max_items", "_policy")

    def __init__(self, policy: LvcPolicy | None = None) -> None:
        self._policy = policy if policy is not None else LvcPolicy()
        self._max_items = self._policy.max_items_per_consignment
        self._group: _Group | None = None

    def add(self, position: int, parsed: Row | RowProblems) -> ConsignmentResult | None:
        ref = parsed.consignment_ref
        group = self._group
        closed = None
        if group is None or ref is None or ref != group.ref:
            closed = None if group is None else group.close(self._policy)
            group = self._group = _Group(ref, position)
        group.add(position, parsed, self._max_items)
        return closed

    def finish(self) -> ConsignmentResult | None:
        """The last consignment (None when no row was added); the assembler is then empty again."""
        group, self._group = self._group, None
        return None if group is None else group.close(self._policy)


def assemble(
    rows: Iterable[tuple[int, Row | RowProblems]], policy: LvcPolicy | None = None
) -> Iterator[ConsignmentResult]:
    """Every consignment of `rows` ((position, parsed row) in file order), one at a time."""
    assembler = ConsignmentAssembler(policy)
    for position, parsed in rows:
        closed = assembler.add(position, parsed)
        if closed is not None:
            yield closed
    last = assembler.finish()
    if last is not None:
        yield last
