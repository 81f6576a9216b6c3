"""The safety nets: the sweep's judgement of which hubs are behind the store, and the prune.

The sweep is the safety net for lost wake-ups (a publish that failed, a process that died
between its commit and its publish, a commit whose outcome its client never learnt because the
database went away at that moment). It reads the latest event id per (tenant, user) among the
events since ``since`` and wakes every hub that delivered less, or whose last read failed.

``sweep_since`` chooses ``since``: normally the sweep window before now, but never later than
the window before the last sweep that succeeded — an event committed just before a database
outage stays visible to the first sweep after it, however long the outage lasted.

``prune_expired`` keeps the store to its retention, in short transactions.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta

from app.db import SessionFactory, transaction
from app.realtime import store
from app.realtime.hub import ChannelHub

log = logging.getLogger("app.realtime")

Maxima = dict[tuple[uuid.UUID, uuid.UUID | None], int]


def sweep_since(now: datetime, *, window: timedelta, last_success: datetime | None, oldest: datetime) -> datetime:
    """Where the sweep's look-back starts (see the module docstring); never before ``oldest``."""
    since = now - window
    if last_success is not None:
        since = min(since, last_success - window)
    return max(since, oldest)


def wake_behind(hubs: Iterable[ChannelHub], maxima: Maxima) -> None:
    """Wake the hubs whose channel's latest event is newer than what they delivered, or that are behind."""
    tenant_latest: dict[uuid.UUID, int] = {}
    for (tenant_id, _user_id), newest in maxima.items():
        tenant_latest[tenant_id] = max(tenant_latest.get(tenant_id, 0), newest)
    for hub in hubs:
        channel = hub.channel
        if channel.user_id is None:  # the admin channel: its tenant's latest, users' and tenant-wide
            latest = tenant_latest.get(channel.tenant_id, 0)
        else:
            latest = maxima.get((channel.tenant_id, channel.user_id), 0)
        if hub.behind or latest > hub.last_seen:
            hub.wake()


async def prune_expired(sessions: SessionFactory, *, before: datetime) -> int:
    """Delete the events that occurred before ``before``, a batch per transaction; how many."""
    total = 0
    while True:
        async with transaction(sessions) as session:
            deleted = await store.prune(session, before=before)
        total += deleted
        if deleted < store.PRUNE_BATCH:
            break
    if total:
        log.info("pruned %d realtime event(s) older than %s", total, before.isoformat())
    return total
