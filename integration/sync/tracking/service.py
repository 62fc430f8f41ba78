"""The configured tracking service's connector, one per process, and which parcels it tracks."""

from __future__ import annotations

from sqlalchemy.orm import Session

from connectors.tracking.base import TrackingService
from connectors.tracking.seventeen_track import NAME as SEVENTEEN_TRACK
from connectors.tracking.seventeen_track.connector import SeventeenTrack
from connectors.tracking.seventeen_track.settings import SeventeenTrackSettings
from core.errors import PermanentError
from integration.base.config import Settings
from integration.kernel.runtime import Runtime
from integration.limits.choice import supplier_limiter
from integration.storage.models import Store, Supplier

SUPPLIER_SOURCE = "supplier"
SOURCES = (SUPPLIER_SOURCE, SEVENTEEN_TRACK)
SOURCE_SETTING = "tracking_source"
# Suppliers whose parcels come with no carrier events: a tracking service watches them.
KINDS_WITHOUT_CARRIER_EVENTS = frozenset({"csv"})


def configured(settings: Settings, service: str = SEVENTEEN_TRACK) -> bool:
    return service == SEVENTEEN_TRACK and bool(settings.tracking.seventeen_track_key)


def connector(runtime: Runtime, service: str = SEVENTEEN_TRACK) -> TrackingService:
    """This process's connector for `service` (its HTTP session reused across jobs)."""
    if not configured(runtime.settings, service):
        raise PermanentError(f"tracking service {service} is not configured "
                             "(tracking.seventeen_track_key)")

    def create(rt: Runtime) -> SeventeenTrack:
        tracking = rt.settings.tracking
        return SeventeenTrack(SeventeenTrackSettings(
            api_key=tracking.seventeen_track_key, base_url=tracking.seventeen_track_url,
            requests_per_second=tracking.requests_per_second), supplier_limiter(rt.settings))

    found: TrackingService = runtime.resource(f"tracking.{service}", create)
    return found


def source_for(settings: Settings, supplier: Supplier, store: Store | None) -> str:
    """Who tells DropTrack about this supplier's parcels for this store: the supplier's own
    setting, else the store's, else the configured service for suppliers without carrier
    events, else the supplier itself."""
    for holder in (supplier.settings or {}, (store.settings or {}) if store else {}):
        chosen = holder.get(SOURCE_SETTING)
        if chosen in SOURCES:
            return str(chosen)
    if supplier.kind in KINDS_WITHOUT_CARRIER_EVENTS:
        return settings.tracking.service
    return SUPPLIER_SOURCE


def set_source(session: Session, holder: Store | Supplier, source: str) -> None:
    if source not in SOURCES:
        raise ValueError(f"tracking source must be one of {', '.join(SOURCES)}")
    holder.settings = {**(holder.settings or {}), SOURCE_SETTING: source}
