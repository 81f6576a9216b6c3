"""Levels from cumulative XP thresholds: pure arithmetic, no database."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass

from app.tenancy.models import DEFAULT_LEVEL_THRESHOLDS, Tenant


@dataclass(frozen=True)
class LevelProgress:
    """A level and the XP bounds around it: ``current_level_xp`` is where the level starts,
    ``next_level_xp`` where the next one starts (None at the top level)."""

    level: int
    current_level_xp: int
    next_level_xp: int | None


def thresholds_of(tenant: Tenant) -> list[int]:
    """The tenant's cumulative level thresholds, or the defaults."""
    return list(tenant.level_thresholds or DEFAULT_LEVEL_THRESHOLDS)


def level_for(thresholds: Sequence[int], xp: int) -> int:
    """The level reached with ``xp`` cumulative XP: level 1 at 0 XP, level n at ``thresholds[n-1]``."""
    return max(1, bisect_right(thresholds, xp))


def level_progress(thresholds: Sequence[int], xp: int) -> LevelProgress:
    """The level reached with ``xp`` and the XP at which it and the next level start."""
    level = level_for(thresholds, xp)
    current = thresholds[level - 1] if thresholds else 0
    following = thresholds[level] if level < len(thresholds) else None
    return LevelProgress(level=level, current_level_xp=current, next_level_xp=following)
