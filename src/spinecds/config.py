"""Settings for every interface, read once from ``SPINECDS_*`` environment variables.

Embedded defaults serve a newcomer: a SQLite file under ``var/`` and the service on
loopback with JWT checks off. Anything reachable from another machine must verify
tokens, so ``auth=off`` is refused off loopback.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

__all__ = ["Settings", "get_settings", "is_loopback"]


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and ``localhost``: only this machine can connect."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class Settings(BaseSettings):
    """One place for configuration; each field is ``SPINECDS_<NAME>`` in the environment."""

    model_config = SettingsConfigDict(env_prefix="SPINECDS_", extra="ignore")

    database_url: str = Field(
        "sqlite:///var/spinecds.db",
        description="SQLAlchemy URL of the audit log; a SQLite path is relative to the "
        "working directory. PostgreSQL: postgresql+psycopg://user:pass@host/db",
    )
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    workers: int = Field(1, ge=1, le=64)
    public_url: str | None = Field(
        None,
        description="Base URL clients use to reach the service (the JWT audience). "
        "Default: http://<host>:<port>.",
    )
    auth: Literal["auto", "on", "off"] = Field(
        "auto", description="CDS Hooks JWT checks; auto = off on loopback only, on otherwise."
    )
    issuers_file: Path | None = Field(
        None, description="YAML list of trusted EHR issuers, each with a JWKS file or URL."
    )
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["*"],
        description="Origins allowed to call the CDS Hooks endpoints from a browser "
        "(comma-separated).",
    )
    fhir_timeout_s: float = Field(
        3.0, gt=0, le=30, description="Time budget for fetching missing prefetch data."
    )
    jwt_leeway_s: int = Field(30, ge=0, le=300, description="Clock skew allowed on exp/iat.")

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return [origin.strip() for origin in value.split(",") if origin.strip()]
        return value

    @model_validator(mode="after")
    def _refuse_open_service(self) -> Settings:
        if self.auth == "off" and not is_loopback(self.host):
            raise ValueError(
                f"SPINECDS_AUTH=off is only allowed on loopback, not on host {self.host!r}: "
                "set SPINECDS_AUTH=on and SPINECDS_ISSUERS_FILE, or serve on 127.0.0.1"
            )
        if self.auth_enabled and self.issuers_file is None:
            raise ValueError(
                "JWT checks are on (SPINECDS_AUTH=on, or auto on a non-loopback host) but "
                "SPINECDS_ISSUERS_FILE is not set: give the YAML list of trusted issuers"
            )
        return self

    @property
    def auth_enabled(self) -> bool:
        return self.auth == "on" or (self.auth == "auto" and not is_loopback(self.host))

    @property
    def base_url(self) -> str:
        if self.public_url:
            return self.public_url.rstrip("/")
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process's settings, read from the environment once."""
    return Settings()
