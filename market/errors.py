"""The errors every market-data problem becomes: they name table, column, rule and rows."""

from __future__ import annotations

from collections.abc import Sequence


class MarketDataError(Exception):
    """A market directory breaks one contract rule or cannot be read.

    ``rows`` holds up to five offending ``(symbol, date)`` pairs (date as ISO text, or ``"-"``
    where a row has no usable date); ``count`` is how many rows break the rule in total.
    ``table`` is a contract table name, or the directory itself for directory-level problems.
    """

    MAX_ROWS = 5

    def __init__(
        self,
        table: str,
        column: str | None,
        rule: str,
        rows: Sequence[tuple[str, str]] = (),
        count: int | None = None,
        detail: str = "",
    ) -> None:
        self.table = table
        self.column = column
        self.rule = rule
        self.rows = list(rows)[: self.MAX_ROWS]
        self.count = len(rows) if count is None else count
        self.detail = detail
        super().__init__(self.message)

    def __reduce__(self) -> tuple[type, tuple[object, ...]]:
        """Pickled whole (a Dask worker's error reaches the client with its rows)."""
        return type(self), (self.table, self.column, self.rule, self.rows, self.count, self.detail)

    @property
    def where(self) -> str:
        """Where the rule broke: ``table.column``, or the table alone."""
        return f"{self.table}.{self.column}" if self.column else self.table

    @property
    def message(self) -> str:
        """One line: where, the rule, how many rows, the detail and the first offending (symbol, date) pairs."""
        text = f"{self.where}: rule '{self.rule}' violated"
        if self.count:
            text += f" in {self.count} row{'s' if self.count != 1 else ''}"
        if self.detail:
            text += f" ({self.detail})"
        if self.rows:
            shown = ", ".join(f"({s}, {d})" for s, d in self.rows)
            more = f" and {self.count - len(self.rows)} more" if self.count > len(self.rows) else ""
            text += f"; e.g. (symbol, date): {shown}{more}"
        return text


class InvalidMarketError(Exception):
    """A market directory breaks one or more contract rules; ``problems`` lists each one."""

    def __init__(self, source: str, problems: Sequence[MarketDataError]) -> None:
        self.source = source
        self.problems = list(problems)
        lines = [f"{source}: {len(self.problems)} contract violation(s)"]
        lines += [f"  - {p.message}" for p in self.problems]
        super().__init__("\n".join(lines))

    def __reduce__(self) -> tuple[type, tuple[object, ...]]:
        """Pickled whole (a Dask worker's error reaches the client with every problem)."""
        return type(self), (self.source, self.problems)
