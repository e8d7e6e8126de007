"""Market data: read, validate and load directories that follow docs/data-contract.md,
join point-in-time tables, and simulate a contract-valid market with known ground truth."""

from market.asof import asof_join
from market.contract import TABLES, ColumnSpec, TableSpec
from market.errors import InvalidMarketError, MarketDataError
from market.load import Market, derive_basics, load_market, read_tables, validate_market

__all__ = [
    "TABLES", "ColumnSpec", "TableSpec", "InvalidMarketError", "MarketDataError", "Market",
    "asof_join", "derive_basics", "load_market", "read_tables", "validate_market",
]
