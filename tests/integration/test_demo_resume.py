"""`droptrack demo --resume` tells the truth: it keeps the same stores (on whatever ports
they get) and the same REST supplier, never hands out a
tracking number (or supplier order id) of the first run again, and prints only what happens
after it started, not the first run's events as new."""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from core.wording import owner_label

pytestmark = [pytest.mark.slow, pytest.mark.skipif(
    os.environ.get("TEST_DATABASE_BACKEND") == "postgresql",
    reason="the demo always runs on its own SQLite: tested in the SQLite pass")]


def run_demo(cwd: Path, *extra: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DROPTRACK_")}
    done = subprocess.run(
        [sys.executable, "-m", "integration.cli", "demo", "--port", "0", "--speed", "28800",
         "--orders-per-minute", "30", "--duration", "12", *extra],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout


def rows(database: Path, sql: str, *params: object) -> list[tuple[object, ...]]:
    connection = sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=10)
    try:
        return connection.execute(sql, params).fetchall()
    finally:
        connection.close()


def test_resume_keeps_the_supplier_and_prints_only_news(tmp_path: Path) -> None:
    database = tmp_path / "var" / "demo" / "droptrack.db"
    run_demo(tmp_path)
    first_orders = {str(number): owner_label(str(status), str(reason) if reason else None)
                    for number, status, reason in rows(
                        database, "SELECT number, status, reason FROM orders")}
    first_parcels = rows(database, "SELECT COUNT(*) FROM shipments")[0][0]
    assert first_orders and first_parcels

    output = run_demo(tmp_path, "--resume")
    assert "Resuming the demo" in output
    # The first run's orders are history: no "DropTrack: <store> <number> -> ..." line for them
    # unless their status changed after the restart (then the line is news).
    for number, described in re.findall(r"DropTrack: \S+ (\S+) -> (.*)", output):
        if number in first_orders:
            assert not described.startswith(first_orders[number]), (number, described)

    platforms = sorted(str(r[0]) for r in rows(database, "SELECT platform FROM stores"))
    assert platforms == ["shopify", "woocommerce"]  # reconnected, not added again
    suppliers = rows(database, "SELECT id, name, active FROM suppliers WHERE kind = 'rest'")
    assert len(suppliers) == 1 and suppliers[0][2] in (1, True), suppliers
    numbers = [str(r[0]) for r in rows(database, "SELECT tracking_number FROM shipments "
                                                 "WHERE tracking_number != ''")]
    assert len(numbers) == len(set(numbers)), "a tracking number was handed out twice"
    # The kept REST supplier never hands out an order id twice (CJ and AliExpress are new
    # suppliers in each run: their sandboxes' ids may repeat under another supplier).
    ids = [str(r[0]) for r in rows(database, "SELECT external_id FROM bindings WHERE kind = "
                                             "'supplier_order' AND owner_type = 'supplier' "
                                             "AND owner_id = ?", suppliers[0][0])]
    assert ids and len(ids) == len(set(ids))
