"""The demo's folder (./var/demo): secrets, database, simulated time, and DropTrack's settings.

Nothing here reads a config.toml: the demo runs the same on a fresh clone and next to a real
installation. Secrets are generated once per fresh demo and kept (mode 600) so `--resume` can
decrypt the credentials stored in the database.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import tempfile
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from integration.base.config import Settings
from integration.security.crypto import generate_key
from sandboxes.seventeen_track import DEFAULT_API_KEY as SEVENTEEN_TRACK_KEY

DEFAULT_DIR = Path("var") / "demo"
STATE_FILE = "demo.json"
OWNER_EMAIL = "owner@demo.droptrack.test"
SUPPLIER_API_KEY = "sk_demo_reference_supplier"
TRACKING_KEY = SEVENTEEN_TRACK_KEY  # the 17TRACK sandbox's `17token` (it signs pushes too)


@dataclass
class DemoSecrets:
    """Everything that must survive a restart for `--resume`."""

    secret_key: str
    encryption_key: str
    owner_password: str
    shopify_client_id: str
    shopify_client_secret: str
    simulated_now: str  # ISO 8601: where simulated time stood when the demo last stopped

    @classmethod
    def fresh(cls, start: datetime) -> DemoSecrets:
        return cls(secret_key=secrets.token_urlsafe(48), encryption_key=generate_key(),
                   owner_password="demo-" + secrets.token_urlsafe(9),
                   shopify_client_id="droptrack-demo-" + secrets.token_hex(6),
                   shopify_client_secret="shpss_" + secrets.token_hex(16),
                   simulated_now=start.isoformat())


class Workspace:
    def __init__(self, root: Path = DEFAULT_DIR) -> None:
        self.root = root.resolve()

    @property
    def database(self) -> Path:
        return self.root / "droptrack.db"

    @property
    def state_file(self) -> Path:
        return self.root / STATE_FILE

    @property
    def ca_file(self) -> Path:
        return self.root / "woocommerce-sandbox-ca.pem"

    @property
    def log_file(self) -> Path:
        return self.root / "droptrack.log"

    @property
    def mail_folder(self) -> Path:
        return self.root / "mail"

    @property
    def csv_outbox(self) -> Path:
        return self.root / "csv-supplier" / "orders"

    @property
    def csv_inbox(self) -> Path:
        return self.root / "csv-supplier" / "tracking"

    def exists(self) -> bool:
        return self.state_file.is_file() and self.database.is_file()

    def wipe(self) -> None:
        if self.root.exists():
            shutil.rmtree(self.root)

    def prepare(self) -> None:
        for folder in (self.root, self.csv_outbox, self.csv_inbox):
            folder.mkdir(parents=True, exist_ok=True)

    def load(self) -> DemoSecrets:
        data: dict[str, Any] = json.loads(self.state_file.read_text(encoding="utf-8"))
        return DemoSecrets(**{key: str(data[key]) for key in DemoSecrets.__dataclass_fields__})

    def save(self, state: DemoSecrets) -> None:
        handle, temporary = tempfile.mkstemp(dir=self.root, prefix=f".{STATE_FILE}.")
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            json.dump(asdict(state), stream, indent=2)
        os.chmod(temporary, 0o600)
        os.replace(temporary, self.state_file)


def simulated_start() -> datetime:
    """A fresh demo starts at the top of the current hour (real date, readable times)."""
    return datetime.now(UTC).replace(minute=0, second=0, microsecond=0)


def demo_settings(workspace: Workspace, state: DemoSecrets, *, port: int, speed: float,
                  shopify_admin_url: str, smtp_port: int, tracking_url: str = "") -> Settings:
    """DropTrack's settings for the demo: demo mode, SQLite in the workspace, loopback only.

    Durations DropTrack measures on its (simulated) clock but that a person experiences in real
    time (a login session, a job's lease) are stretched by `speed`; the scheduler's sweeps are
    retimed by the demo itself (see run.retime_scheduler).
    """
    stretch = max(speed, 1.0)
    return Settings.model_validate({
        "app": {"mode": "demo", "public_url": f"http://127.0.0.1:{port}"},
        "server": {"host": "127.0.0.1", "port": port, "threads": 8},
        "database": {"url": f"sqlite:///{workspace.database}"},
        "security": {"secret_key": state.secret_key, "encryption_keys": [state.encryption_key],
                     "allow_loopback_http": True, "csv_root": str(workspace.root)},
        "dispatcher": {"threads": 4, "poll_interval_seconds": 0.2,
                       "lease_seconds": 120 * stretch, "backoff_base_seconds": 2 * stretch,
                       "backoff_max_seconds": 60 * stretch},
        "scheduler": {"unshipped_check_hours": 6.0, "tracking_sweep_minutes": 1.0,
                      "csv_interval_minutes": 1.0},
        "email": {"smtp_host": "127.0.0.1", "smtp_port": smtp_port, "security": "none",
                  "from_address": "Demo Outfitters <shop@demo.droptrack.test>",
                  "owner_address": OWNER_EMAIL},
        "alerts": {"no_tracking_days": 5, "stuck_in_transit_days": 4},
        "shopify": {"client_id": state.shopify_client_id,
                    "client_secret": state.shopify_client_secret,
                    "admin_base_url": shopify_admin_url},
        "woocommerce": {"app_name": "DropTrack (demo)",
                        "connect_request_minutes": int(60 * stretch)},
        "admin": {"session_hours": int(12 * stretch),
                  "tracking_window_minutes": 1},
        "logging": {"level": "INFO", "format": "text"},
        # The spreadsheet supplier's parcels are followed by the 17TRACK sandbox.
        "tracking": {"service": "17track", "seventeen_track_key": TRACKING_KEY,
                     "seventeen_track_url": tracking_url, "sweep_minutes": 1.0}
        if tracking_url else {},
    })


def simulated_time(state: DemoSecrets) -> datetime:
    moment = datetime.fromisoformat(state.simulated_now)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
