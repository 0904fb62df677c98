"""Service configuration: one pydantic-settings class, environment prefix ``DUOGUI_``."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from app.localdb import OWNER_ROLE, LocalCluster

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    """All settings of the service; every field can be set as ``DUOGUI_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="DUOGUI_", extra="ignore", populate_by_name=True)

    environment: Literal["development", "test", "production"] = "development"
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)

    # Database. ``DATABASE_URL`` (or ``DUOGUI_DATABASE_URL``) is the owner connection used for
    # migrations; the service's pool switches to the unprivileged ``app_role`` on every connection.
    database_url: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("DUOGUI_DATABASE_URL", "DATABASE_URL")
    )
    app_database_url: SecretStr | None = None
    app_role: str = Field(default="duogui_app", pattern=r"^[a-z_][a-z0-9_]{0,62}$")
    db_name: str = Field(default="duogui", pattern=r"^[a-z_][a-z0-9_]{0,62}$")
    data_dir: Path = PROJECT_ROOT / ".data"
    files_dir: Path | None = Field(
        default=None,
        description="Stored files (uploaded materials, attachments); default <data_dir>/files. Backed up.",
    )
    local_pg_port: int = Field(default=54329, ge=1024, le=65535)

    pool_min_size: int = Field(default=1, ge=0)
    pool_max_size: int = Field(default=10, ge=1)
    pool_timeout_s: float = Field(default=5.0, gt=0, description="Longest wait for a free connection.")
    pool_queue_limit: int = Field(
        default=100, ge=0, description="Most requests waiting for a connection; more get a 503 at once."
    )
    heavy_capacity: int = Field(
        default=2, ge=1, description="Costly requests (layer diffs, exports) running at once; others wait."
    )
    statement_timeout_ms: int = Field(default=30_000, ge=100)

    # Accounts.
    # The lock-out, password and idle-session rules are the security administrator's policy, kept in the
    # database (auth.security_policy), not here.
    token_ttl_minutes: int = Field(default=480, ge=1)
    audit_seal_interval_s: float = Field(
        default=5.0, ge=0, description="Seconds between sealings of new audit rows into the chain (0: off)."
    )
    basic_cache_seconds: int = Field(
        default=300, ge=0, le=3600, description="How long a verified HTTP Basic password is remembered."
    )
    usage_flush_seconds: float = Field(
        default=60, gt=0, description="How often service accounts' usage counters are written."
    )

    demo_scale: Literal["none", "small", "district", "full"] = Field(
        default="district", description="Demo district loaded by the first `duogui setup` (none: skip)."
    )
    tile_cache_mb: int = Field(default=256, ge=0, description="In-process tile cache (0 disables it).")
    check_memory_mb: int = Field(
        default=2048,
        ge=0,
        description="Largest in-memory copy of the pre-evaluation check index (0: read the database).",
    )
    max_upload_mb: int = Field(
        default=512, ge=1, description="Largest file upload accepted (layer files; caps every other kind)."
    )
    # Footprint files and spreadsheets are small: a tighter limit keeps a mistaken upload cheap to refuse.
    max_footprint_upload_mb: int = Field(
        default=50, ge=1, description="Largest footprint file accepted for pre-evaluation."
    )
    max_sheet_upload_mb: int = Field(
        default=10, ge=1, description="Largest spreadsheet accepted (ledger import, bulk update)."
    )
    max_body_mb: int = Field(
        default=10, ge=1, description="Largest request body other than a file upload (JSON, forms)."
    )

    # Materials store (材料库): application materials, decision documents, demolition agreements.
    materials_max_bytes: int = Field(
        default=100 * 1024 * 1024, ge=1, description="Largest material file accepted, in bytes (100 MiB)."
    )
    materials_store: Literal["local", "s3"] = Field(
        default="local",
        description="Where material files live: local (content-addressed under files_dir) or s3.",
    )
    materials_s3_endpoint: str | None = Field(
        default=None, description="S3-compatible endpoint URL, e.g. https://oss.example.gov.cn (s3 only)."
    )
    materials_s3_bucket: str | None = Field(default=None, description="Bucket of the material files (s3).")
    materials_s3_region: str = Field(default="us-east-1", description="Signing region of the S3 store.")
    materials_s3_access_key: SecretStr | None = Field(default=None, description="S3 access key id.")
    materials_s3_secret_key: SecretStr | None = Field(default=None, description="S3 secret access key.")
    materials_s3_prefix: str = Field(
        default="materials/", description="Key prefix of the material files inside the bucket (s3)."
    )
    window_contact_phone: str = Field(
        default="0755-12345",
        min_length=1,
        max_length=50,
        description="The one window's telephone printed on receipts (default: the 12345 service hotline).",
    )

    web_dir: Path = PROJECT_ROOT / "web"
    glyph_dir: Path = Field(
        default=PROJECT_ROOT / "build" / "glyphs",
        description="Cache of the map's glyph ranges, built from the bundled font by set-up (git-ignored).",
    )

    @model_validator(mode="after")
    def _pool_bounds(self) -> Settings:
        if self.pool_min_size > self.pool_max_size:
            raise ValueError("pool_min_size must not exceed pool_max_size")
        return self

    @model_validator(mode="after")
    def _s3_complete(self) -> Settings:
        if self.materials_store == "s3":
            missing = [
                name for name in ("materials_s3_endpoint", "materials_s3_bucket") if not getattr(self, name)
            ]
            if missing:
                raise ValueError(f"materials_store=s3 needs {', '.join(missing)}")
        return self

    @property
    def stored_files_dir(self) -> Path:
        """Where stored files live (``files_dir``, or ``files`` under the data directory)."""
        return self.files_dir or self.data_dir / "files"

    @property
    def raster_dir(self) -> Path:
        """Where raster layer versions live (their paths in the database are relative to ``data_dir``)."""
        return self.data_dir / "rasters"

    @cached_property
    def owner_dsn(self) -> str:
        """Connection string of the database owner (migrations, set-up)."""
        if self.database_url is not None:
            return normalise_dsn(self.database_url.get_secret_value())
        return LocalCluster(self.data_dir, self.local_pg_port).dsn(user=OWNER_ROLE, dbname=self.db_name)

    @cached_property
    def app_dsn(self) -> str:
        """Connection string the service pool uses."""
        if self.app_database_url is not None:
            return normalise_dsn(self.app_database_url.get_secret_value())
        if self.database_url is not None:
            return self.owner_dsn
        return LocalCluster(self.data_dir, self.local_pg_port).dsn(user=self.app_role, dbname=self.db_name)


def normalise_dsn(url: str) -> str:
    """Accept SQLAlchemy-style URLs (``postgresql+psycopg://``) and return a libpq one."""
    for prefix in ("postgresql+psycopg://", "postgresql+psycopg2://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql://" + url[len(prefix) :]
    return url
