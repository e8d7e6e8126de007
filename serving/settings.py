"""The service's settings, read from ``SPOTLIGHT_*`` environment variables when it starts.

- ``SPOTLIGHT_BUNDLE``: a bundle directory, or a serving root whose ``current`` link names one
  (default ``bundle``);
- ``SPOTLIGHT_RELOAD_SECONDS``: how often a serving root's ``current`` is checked (default 2;
  0 = never);
- ``SPOTLIGHT_MAX_ROWS``: the most rows ``/score`` takes per request (default 10000);
- ``SPOTLIGHT_MAX_BODY_BYTES``: the largest request body (default 64 MiB);
- ``SPOTLIGHT_MAX_HEADER_BYTES``: the largest request head, request line and headers
  (default 32 KiB; 431 beyond it);
- ``SPOTLIGHT_HEADER_TIMEOUT_SECONDS``: how long a request head may take to arrive (default
  10; 408 after it);
- ``SPOTLIGHT_BODY_TIMEOUT_SECONDS``: how long a request body may stall between two chunks
  (default 10; 408 after it);
- ``SPOTLIGHT_API_TOKEN``: when set (and not empty), every endpoint but ``/livez``,
  ``/readyz`` and ``/healthz`` needs ``Authorization: Bearer <token>``.

A value that breaks its bound stops the service at start with pydantic's message naming the
variable, rather than surfacing on the first request.
"""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_MAX_ROWS = 10_000
DEFAULT_MAX_BYTES = 64 * 1024 * 1024
DEFAULT_MAX_HEADER_BYTES = 32 * 1024


class ServeSettings(BaseSettings):
    """The ``SPOTLIGHT_*`` settings (see the module docstring)."""

    model_config = SettingsConfigDict(env_prefix="SPOTLIGHT_", extra="ignore", frozen=True)

    bundle: str = Field("bundle", min_length=1)
    reload_seconds: float = Field(2.0, ge=0)
    max_rows: int = Field(DEFAULT_MAX_ROWS, ge=1)
    max_body_bytes: int = Field(DEFAULT_MAX_BYTES, ge=1)
    max_header_bytes: int = Field(DEFAULT_MAX_HEADER_BYTES, ge=1024)
    header_timeout_seconds: float = Field(10.0, gt=0)
    body_timeout_seconds: float = Field(10.0, gt=0)
    api_token: str = ""
