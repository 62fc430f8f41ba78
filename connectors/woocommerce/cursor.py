"""A reconciliation cursor over WooCommerce's changed orders that cannot skip or repeat one.

`orderby=modified` sorts by `date_modified`, which has one-second resolution, with no
tie-break: orders modified in the same second come in a different order on every request
(HPOS on MariaDB/MySQL), so page numbers over it lose some orders and repeat others. The
cursor never pages over a tie:

- "after t": `modified_after=t` (strictly later), sorted by modified. Every order of a second
  before the page's last one is complete on the page (sorting puts them all first); the orders
  of the last second are set aside, unless the page is the end of the list;
- "in second t": that second alone (`modified_after=t-1s`, `modified_before=t+1s`), sorted by
  id, which is unique and stable; ids up to `after_id` are done. The offset starts a few
  orders early and only ids above `after_id` are taken, so orders of that second modified
  again meanwhile (they leave the second, and come back later in time) cannot push an unseen
  order past the offset; when even the overlap is gone the offset steps back.

Pure: the connector runs the requests it describes.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

SECOND = timedelta(seconds=1)
OVERLAP = 5  # orders of the tied second read again to notice ones that moved away


def wc_time(moment: datetime) -> str:
    """A GMT time as `modified_after`/`modified_before` take it (with dates_are_gmt=true)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")


def to_second(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(microsecond=0)


@dataclass(frozen=True)
class Cursor:
    second: datetime  # "after": strictly after it; "in": this second only
    phase: str = "after"  # "after" | "in"
    after_id: int = 0  # "in": ids up to this one are done
    done: int = 0  # "in": how many orders of the second up to after_id were read

    def encode(self) -> str:
        return json.dumps({"t": self.second.isoformat(), "p": self.phase, "id": self.after_id,
                           "n": self.done}, separators=(",", ":"))

    @classmethod
    def decode(cls, raw: str | None, since: datetime) -> Cursor:
        if raw:
            try:
                data = json.loads(raw)
                return cls(second=datetime.fromisoformat(data["t"]), phase=str(data["p"]),
                           after_id=int(data["id"]), done=int(data["n"]))
            except (ValueError, KeyError, TypeError):
                pass
        return cls(second=to_second(since))

    def params(self, per_page: int) -> dict[str, str | int]:
        if self.phase == "in":
            return {"modified_after": wc_time(self.second - SECOND),
                    "modified_before": wc_time(self.second + SECOND),
                    "dates_are_gmt": "true", "orderby": "id", "order": "asc",
                    "per_page": per_page, "offset": max(0, self.done - OVERLAP)}
        return {"modified_after": wc_time(self.second), "dates_are_gmt": "true",
                "orderby": "modified", "order": "asc", "per_page": per_page}


@dataclass(frozen=True)
class Step:
    take: list[int]  # indexes of the page's entries to hand to the reconciler
    next: Cursor | None  # None: no more changed orders


def advance(cursor: Cursor, entries: Sequence[tuple[int, datetime]], per_page: int) -> Step:
    """What to take from a page of (id, modified) and where to continue."""
    full = len(entries) >= per_page
    if cursor.phase == "in":
        offset = max(0, cursor.done - OVERLAP)
        ids = [order_id for order_id, _ in entries]
        if offset > 0 and (not ids or min(ids) > cursor.after_id):
            # The overlap moved away too: step back so no unseen order is passed over.
            back = Cursor(cursor.second, "in", cursor.after_id, max(0, offset - per_page))
            return Step([], back)
        take = [index for index, order_id in enumerate(ids) if order_id > cursor.after_id]
        if not full:
            return Step(take, Cursor(cursor.second))  # the second is done: carry on after it
        last = max(ids)
        return Step(take, Cursor(cursor.second, "in", last, offset + len(ids)))
    if not entries:
        return Step([], None)
    if not full:
        return Step(list(range(len(entries))), None)
    last_second = max(to_second(modified) for _, modified in entries)
    take = [index for index, (_, modified) in enumerate(entries)
            if to_second(modified) < last_second]
    return Step(take, Cursor(last_second, "in"))


def entry_key(entry: Mapping[str, object]) -> int | None:
    raw = entry.get("id")
    return raw if isinstance(raw, int) else None
