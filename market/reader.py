"""Find and read one contract table from a market directory, with its columns typed.

Accepted layouts per table (exactly one may be present): ``<name>.parquet`` (a file),
``<name>/`` or ``<name>.parquet/`` (a directory of Parquet files, hive partitions allowed;
partition columns become extra columns) and ``<name>.csv`` (header row). Column types are
normalised here, so every layout yields the same frame: string -> pandas ``str``,
date -> ``datetime64[ns]``, float -> ``float64``, int -> ``int64``, bool -> ``bool``.
A value that cannot take its column's type is a contract violation naming its rows.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds

from market.contract import ColumnSpec, TableSpec
from market.errors import MarketDataError

_TRUE = {"true", "t", "1", "yes", "y"}
_FALSE = {"false", "f", "0", "no", "n"}


def locate_table(market_dir: Path, spec: TableSpec) -> Path | None:
    """Path of the table's file or directory, None if absent; refuses two layouts at once."""
    candidates = [
        market_dir / f"{spec.name}.parquet",
        market_dir / spec.name,
        market_dir / f"{spec.name}.csv",
    ]
    found = [p for p in candidates if p.exists()]
    if len(found) > 1:
        names = ", ".join(p.name for p in found)
        raise MarketDataError(spec.name, None, "exactly one layout per table", detail=f"found {names}")
    return found[0] if found else None


def read_table(market_dir: Path, spec: TableSpec) -> pd.DataFrame | None:
    """Read and type one table; None when an optional table is absent."""
    path = locate_table(market_dir, spec)
    if path is None:
        if spec.required:
            raise MarketDataError(
                spec.name, None, "required table present",
                detail=f"no {spec.name}.parquet, {spec.name}/ or {spec.name}.csv in {market_dir}",
            )
        return None
    return read_table_at(path, spec)


def read_table_at(path: Path, spec: TableSpec) -> pd.DataFrame:
    """Read and type one table from its file or directory (one part of a partitioned market)."""
    return type_columns(_read_raw(path, spec), spec)


def parquet_files(root: Path, spec: TableSpec) -> list[Path]:
    """The data files of a table directory, sorted: ``*.parquet`` and files without a suffix
    (Spark's ``part-00000``). Other files (a README, checksums, hidden or ``_``-prefixed files and
    folders) are ignored, as the contract says. Linked directories are followed, but a link back
    into a directory already walked (a loop) is refused, naming it."""
    files: list[Path] = []
    seen: set[str] = set()
    for folder, subfolders, names in os.walk(root, followlinks=True):
        real = os.path.realpath(folder)
        if real in seen:
            raise MarketDataError(spec.name, None, "readable table",
                                  detail=f"{folder} links back to {real}, already read: a symbolic-link loop")
        seen.add(real)
        subfolders[:] = sorted(d for d in subfolders if not d.startswith((".", "_")))
        files += [Path(folder) / n for n in names
                  if (n.endswith(".parquet") or "." not in n) and not n.startswith((".", "_"))]
    return sorted(files)


def _read_raw(path: Path, spec: TableSpec) -> pd.DataFrame:
    try:
        if path.suffix == ".csv" and path.is_file():
            strings = {c.name: "str" for c in spec.columns if c.kind in ("string", "date", "bool")}
            return pd.read_csv(path, dtype=strings, keep_default_na=True)
        if path.is_dir():
            files = parquet_files(path, spec)
            if not files:
                raise MarketDataError(spec.name, None, "readable table", detail=f"{path} holds no Parquet files")
            table = ds.dataset([str(f) for f in files], format="parquet", partitioning="hive",
                               partition_base_dir=str(path), exclude_invalid_files=False).to_table()
        else:
            table = ds.dataset(path, format="parquet").to_table()
        return _arrow_to_pandas(table)
    except MarketDataError:
        raise
    except (OSError, ValueError, pa.ArrowException, UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise MarketDataError(spec.name, None, "readable table", detail=f"{path}: {exc}") from None


def _arrow_to_pandas(table: pa.Table) -> pd.DataFrame:
    """Arrow -> pandas keeping dates as datetimes and dictionary columns as plain values."""
    columns = {}
    for name, col in zip(table.column_names, table.columns, strict=False):
        if pa.types.is_dictionary(col.type):
            col = col.cast(col.type.value_type)
        if pa.types.is_date(col.type):
            col = col.cast(pa.timestamp("ns"))
        columns[name] = col.to_pandas()
    return pd.DataFrame(columns)


def type_columns(raw: pd.DataFrame, spec: TableSpec) -> pd.DataFrame:
    """Check presence and types of the contract columns; fill absent optional ones."""
    df = raw.reset_index(drop=True)
    missing = [c.name for c in spec.columns if c.required and c.name not in df.columns]
    if missing:
        raise MarketDataError(spec.name, missing[0], "required column present",
                              detail=f"missing column(s): {', '.join(missing)}")
    out = {}
    for col in spec.columns:
        if col.name in df.columns:
            out[col.name] = _coerce(df, col, spec)
        else:
            out[col.name] = _fill(col, len(df))
    extras = [c for c in df.columns if c not in out]
    typed = pd.DataFrame(out)
    for name in extras:
        typed[name] = df[name].to_numpy()
    return typed


def _fill(col: ColumnSpec, n: int) -> pd.Series:
    if col.kind == "bool":
        return pd.Series(np.full(n, bool(col.default)), dtype=bool)
    if col.kind == "float":
        return pd.Series(np.full(n, np.nan), dtype="float64")
    if col.kind == "date":
        return pd.Series(pd.NaT, index=range(n), dtype="datetime64[ns]")
    return pd.Series(pd.NA, index=range(n), dtype="str")


def rows_at(df: pd.DataFrame, spec: TableSpec, index: np.ndarray) -> list[tuple[str, str]]:
    """The first few ``(symbol, date)`` pairs at row positions ``index``, as text for messages."""
    sym = df["symbol"] if "symbol" in df.columns else pd.Series("-", index=df.index)
    dcol = df[spec.row_date] if spec.row_date and spec.row_date in df.columns else pd.Series("-", index=df.index)
    return [(str(sym.iloc[i]) if pd.notna(sym.iloc[i]) else "-", _date_text(dcol.iloc[i]))
            for i in index[: MarketDataError.MAX_ROWS]]


def _offending_rows(df: pd.DataFrame, mask: np.ndarray, spec: TableSpec) -> list[tuple[str, str]]:
    return rows_at(df, spec, np.flatnonzero(mask))


def _date_text(value: object) -> str:
    if value is None or value is pd.NaT or (isinstance(value, float) and np.isnan(value)):
        return "-"
    if isinstance(value, pd.Timestamp):
        return value.strftime("%Y-%m-%d")
    return str(value)[:10]


def _type_error(df: pd.DataFrame, mask: np.ndarray, col: ColumnSpec, spec: TableSpec, detail: str = "") -> MarketDataError:
    return MarketDataError(spec.name, col.name, f"type {col.kind}", _offending_rows(df, mask, spec),
                           count=int(mask.sum()), detail=detail)


def _coerce(df: pd.DataFrame, col: ColumnSpec, spec: TableSpec) -> pd.Series:
    s = df[col.name]
    present = s.notna().to_numpy()
    kind = col.kind
    if kind == "string":
        if pd.api.types.is_numeric_dtype(s.dtype) or pd.api.types.is_bool_dtype(s.dtype) or pd.api.types.is_datetime64_any_dtype(s.dtype):
            raise _type_error(df, present, col, spec, detail=f"found {s.dtype}")
        if pd.api.types.infer_dtype(s, skipna=True) not in ("string", "empty"):
            bad = present & ~np.array([isinstance(v, str) for v in s], dtype=bool)
            raise _type_error(df, bad, col, spec, detail="non-text values")
        return s.astype("str").where(present, pd.NA).astype("str")
    if kind == "date":
        if isinstance(s.dtype, pd.DatetimeTZDtype):
            raise _type_error(df, present, col, spec, detail="timezone-aware; expected calendar dates")
        if pd.api.types.is_numeric_dtype(s.dtype) or pd.api.types.is_bool_dtype(s.dtype):
            raise _type_error(df, present, col, spec, detail=f"found {s.dtype}")
        if pd.api.types.is_datetime64_dtype(s.dtype):
            out = s.astype("datetime64[ns]")
        else:
            out = pd.to_datetime(s, errors="coerce", format="ISO8601")
            if isinstance(out.dtype, pd.DatetimeTZDtype):
                raise _type_error(df, present, col, spec, detail="timezone-aware; expected calendar dates")
            out = out.astype("datetime64[ns]")
        bad = present & out.isna().to_numpy()
        if bad.any():
            raise _type_error(df, bad, col, spec, detail="not a date (expected YYYY-MM-DD)")
        timed = present & (out != out.dt.normalize()).to_numpy()
        if timed.any():
            raise _type_error(df, timed, col, spec, detail="has a time of day; expected calendar dates")
        return out
    if kind in ("float", "int"):
        if pd.api.types.is_bool_dtype(s.dtype) or pd.api.types.is_datetime64_any_dtype(s.dtype):
            raise _type_error(df, present, col, spec, detail=f"found {s.dtype}")
        out = pd.to_numeric(s, errors="coerce") if not pd.api.types.is_numeric_dtype(s.dtype) else s
        out = out.astype("float64")
        bad = present & out.isna().to_numpy()
        if bad.any():
            raise _type_error(df, bad, col, spec, detail="not a number")
        if kind == "int":
            values = out.to_numpy()
            frac = present & np.isfinite(values) & (values != np.round(values))
            if frac.any():
                raise _type_error(df, frac, col, spec, detail="not a whole number")
            if (~present).any():
                raise MarketDataError(spec.name, col.name, "not missing", _offending_rows(df, ~present, spec),
                                      count=int((~present).sum()))
            return out.astype("int64")
        return out
    # bool: no missing values allowed (the contract lets only numeric columns hold them)
    if not present.all():
        raise MarketDataError(spec.name, col.name, "not missing", _offending_rows(df, ~present, spec),
                              count=int((~present).sum()))
    if pd.api.types.is_bool_dtype(s.dtype):
        return s.astype(bool)
    text = s.astype("str").str.strip().str.lower()
    is_true = text.isin(_TRUE).to_numpy()
    is_false = text.isin(_FALSE).to_numpy()
    bad = ~(is_true | is_false)
    if bad.any():
        raise _type_error(df, bad, col, spec, detail="expected true/false")
    return pd.Series(is_true, index=s.index, dtype=bool)
