"""What a service function receives as ``ctx``: the request's caller, database session and
settings."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from ngnserver.core.callers import Caller
from ngnserver.core.sealing import PasswordSealer

if TYPE_CHECKING:
    from ngnserver.config import Settings


@dataclass
class RequestContext:
    caller: Caller
    session: Session
    settings: Settings
    sealer: PasswordSealer
    backend: str = "sqlite"  # the database's kind, for the status report
