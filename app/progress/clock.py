"""Local days: which timezone applies, what day it is there, and how many days passed."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from app.errors import DomainError, ErrorCode
from app.modelbase import utcnow
from app.tenancy.credentials import valid_timezone

DEFAULT_TIMEZONE = "UTC"


def resolve_timezone(
    *,
    argument: str | None = None,
    token_timezone: str | None = None,
    user_timezone: str | None = None,
    tenant_timezone: str | None = None,
) -> str:
    """The first of: the argument, the token's zone, the user's, the tenant's, UTC.

    An unknown zone given as the argument is ``BAD_USER_INPUT`` on ``["timezone"]``; stored
    ones that no longer resolve are skipped.
    """
    if argument is not None:
        if not valid_timezone(argument):
            raise DomainError(ErrorCode.BAD_USER_INPUT, "timezone is not a known IANA timezone", field=["timezone"])
        return argument
    for candidate in (token_timezone, user_timezone, tenant_timezone):
        if candidate and valid_timezone(candidate):
            return candidate
    return DEFAULT_TIMEZONE


def local_date(timezone: str, at: datetime | None = None) -> date:
    """The day it is in ``timezone`` at the instant ``at`` (now by default)."""
    return (at or utcnow()).astimezone(ZoneInfo(timezone)).date()


def viewer_local_date(
    *,
    requested: date | None = None,
    argument: str | None = None,
    token_timezone: str | None = None,
    user_timezone: str | None = None,
    tenant_timezone: str | None = None,
    at: datetime | None = None,
) -> date:
    """The viewer's day: ``requested`` when given, else today in the first zone of the chain
    (see :func:`resolve_timezone`; an unknown ``argument`` is refused even with ``requested``)."""
    zone = resolve_timezone(
        argument=argument, token_timezone=token_timezone, user_timezone=user_timezone, tenant_timezone=tenant_timezone
    )
    return requested if requested is not None else local_date(zone, at)


def whole_local_days(start: datetime, end: datetime, timezone: str) -> int:
    """Whole days from ``start`` to ``end`` as the local wall clock counts them.

    Noon to noon the next day is one day even across a DST change (23 or 25 real hours);
    anything short of a full local day counts as none.
    """
    zone = ZoneInfo(timezone)
    wall_start = start.astimezone(zone).replace(tzinfo=None)
    wall_end = end.astimezone(zone).replace(tzinfo=None)
    return max(0, (wall_end - wall_start).days)
