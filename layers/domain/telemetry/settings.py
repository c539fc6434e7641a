"""Runtime settings from the environment, validated once at cold start."""

from __future__ import annotations

import os
from functools import cache
from typing import Literal

from pydantic import BaseModel, Field


class Settings(BaseModel):
    definitions_table: str = Field(min_length=1)
    readings_table: str = ""
    readings_queue_url: str = ""
    reading_store: Literal["dynamodb", "timestream"] = "dynamodb"
    timestream_database: str = ""
    timestream_table: str = ""
    #: seconds a warm container may reuse definitions it has read
    definitions_cache_ttl: float = 30.0

    @classmethod
    def from_env(cls) -> Settings:
        env = os.environ
        return cls(
            definitions_table=env.get("DEFINITIONS_TABLE", ""),
            readings_table=env.get("READINGS_TABLE", ""),
            readings_queue_url=env.get("READINGS_QUEUE_URL", ""),
            reading_store=env.get("READING_STORE", "dynamodb") or "dynamodb",  # type: ignore[arg-type]
            timestream_database=env.get("TIMESTREAM_DATABASE", ""),
            timestream_table=env.get("TIMESTREAM_TABLE", ""),
            definitions_cache_ttl=float(env.get("DEFINITIONS_CACHE_TTL", "30")),
        )


@cache
def settings() -> Settings:
    return Settings.from_env()
