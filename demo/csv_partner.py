"""Plays the spreadsheet supplier: picks up each order batch DropTrack writes, and a simulated
day or two later drops a tracking CSV into the supplier's inbox folder, as a person would."""

from __future__ import annotations

import csv
import io
import os
import random
import tempfile
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from connectors.suppliers.csv.settings import DEFAULT_ORDER_COLUMNS, DEFAULT_TRACKING_COLUMNS
from core.clock import Clock
from sandboxes.supplier.carriers import CarrierCode, carrier, new_tracking_number

PICKED_UP = "picked-up"
REPLY_AFTER_HOURS = (18.0, 40.0)
CARRIER_BY_COUNTRY = {"GB": CarrierCode.ROYAL_MAIL, "FR": CarrierCode.LA_POSTE,
                      "US": CarrierCode.USPS}


@dataclass
class _Reply:
    due_at: datetime
    name: str
    rows: list[dict[str, str]]


class CsvPartner:
    def __init__(self, outbox: Path, inbox: Path, clock: Clock,
                 seed: int | str = "droptrack-demo-csv") -> None:
        self.outbox = outbox
        self.inbox = inbox
        self.clock = clock
        self.rng = random.Random(seed)
        self._replies: list[_Reply] = []

    def tick(self) -> int:
        """Pick up new batches, send the replies that are due; returns replies sent."""
        self._pick_up()
        now = self.clock.now()
        due = [reply for reply in self._replies if reply.due_at <= now]
        self._replies = [reply for reply in self._replies if reply.due_at > now]
        for reply in due:
            self._send(reply)
        return len(due)

    def _pick_up(self) -> None:
        done = self.outbox / PICKED_UP
        for path in sorted(self.outbox.glob("*.csv")):
            text = path.read_text(encoding="utf-8-sig")
            done.mkdir(exist_ok=True)
            os.replace(path, done / path.name)
            rows = self._tracking_rows(text)
            if rows:
                hours = self.rng.uniform(*REPLY_AFTER_HOURS)
                self._replies.append(_Reply(self.clock.now() + timedelta(hours=hours),
                                            f"tracking-{path.stem}.csv", rows))

    def _tracking_rows(self, batch: str) -> list[dict[str, str]]:
        columns = DEFAULT_ORDER_COLUMNS
        seen: dict[str, dict[str, str]] = {}
        for row in csv.DictReader(io.StringIO(batch)):
            reference = (row.get(columns["reference"]) or "").strip()
            if not reference or reference in seen:
                continue  # one parcel per order, however many lines it has
            code = CARRIER_BY_COUNTRY.get((row.get(columns["country"]) or "").strip().upper(),
                                          CarrierCode.CHINA_POST)
            seen[reference] = {"reference": reference,
                               "tracking_number": new_tracking_number(code, self.rng),
                               "carrier": carrier(code).name}
        return list(seen.values())

    def _send(self, reply: _Reply) -> None:
        columns = DEFAULT_TRACKING_COLUMNS
        shipped = self.clock.now().strftime("%Y-%m-%dT%H:%M:%S")
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")
        writer.writerow([columns["reference"], columns["tracking_number"], columns["carrier"],
                         columns["shipped_at"]])
        for row in reply.rows:
            writer.writerow([row["reference"], row["tracking_number"], row["carrier"], shipped])
        self.inbox.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=self.inbox, prefix=".partial-")
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as stream:
            stream.write(buffer.getvalue())
        os.replace(temporary, self.inbox / reply.name)
