"""The tracking services' connectors, one per process and service, and which parcels each
tracks (per store and per supplier)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from connectors.tracking import aftership, dhl, seventeen_track
from connectors.tracking.aftership import mapper as aftership_mapper
from connectors.tracking.aftership.connector import AfterShip
from connectors.tracking.aftership.settings import AfterShipSettings
from connectors.tracking.base import PushUpdate, TrackingService
from connectors.tracking.dhl.connector import Dhl
from connectors.tracking.dhl.settings import DhlSettings
from connectors.tracking.seventeen_track import mapper as seventeen_track_mapper
from connectors.tracking.seventeen_track.connector import SeventeenTrack
from connectors.tracking.seventeen_track.settings import SeventeenTrackSettings
from core.errors import PermanentError
from integration.accounts.supplier_kinds import kind_of
from integration.base.config import Settings, TrackingSettings
from integration.kernel.runtime import Runtime
from integration.limits.choice import supplier_limiter
from integration.storage.models import Store, Supplier

SEVENTEEN_TRACK, AFTERSHIP, DHL = seventeen_track.NAME, aftership.NAME, dhl.NAME
SUPPLIER_SOURCE = "supplier"
SERVICES = (SEVENTEEN_TRACK, AFTERSHIP, DHL)
SOURCES = (SUPPLIER_SOURCE, *SERVICES)
SOURCE_SETTING = "tracking_source"
# The setting that switches each service on (its key).
KEY_SETTINGS = {SEVENTEEN_TRACK: "seventeen_track_key", AFTERSHIP: "aftership_key",
                DHL: "dhl_key"}
# How each service's verified pushes are read (DHL never pushes).
PUSH_PARSERS: dict[str, Callable[[bytes], PushUpdate | None]] = {
    SEVENTEEN_TRACK: seventeen_track_mapper.parse_push,
    AFTERSHIP: aftership_mapper.parse_push,
}


def configured(settings: Settings, service: str = SEVENTEEN_TRACK) -> bool:
    key = KEY_SETTINGS.get(service)
    return bool(key and getattr(settings.tracking, key))


def _seventeen_track(rt: Runtime, tracking: TrackingSettings) -> TrackingService:
    return SeventeenTrack(SeventeenTrackSettings(
        api_key=tracking.seventeen_track_key, base_url=tracking.seventeen_track_url,
        requests_per_second=tracking.requests_per_second), supplier_limiter(rt.settings))


def _aftership(rt: Runtime, tracking: TrackingSettings) -> TrackingService:
    return AfterShip(AfterShipSettings(
        api_key=tracking.aftership_key, webhook_secret=tracking.aftership_webhook_secret,
        base_url=tracking.aftership_url), supplier_limiter(rt.settings))


def _dhl(rt: Runtime, tracking: TrackingSettings) -> TrackingService:
    return Dhl(DhlSettings(api_key=tracking.dhl_key, base_url=tracking.dhl_url,
                           daily_calls=tracking.dhl_daily_calls,
                           requests_per_second=tracking.dhl_requests_per_second),
               supplier_limiter(rt.settings), now=rt.clock.now)


FACTORIES: dict[str, Callable[[Runtime, TrackingSettings], TrackingService]] = {
    SEVENTEEN_TRACK: _seventeen_track, AFTERSHIP: _aftership, DHL: _dhl}


def connector(runtime: Runtime, service: str = SEVENTEEN_TRACK) -> TrackingService:
    """This process's connector for `service` (its HTTP session reused across jobs)."""
    if not configured(runtime.settings, service):
        raise PermanentError(f"tracking service {service} is not configured "
                             f"(tracking.{KEY_SETTINGS.get(service, service + '_key')})")

    def create(rt: Runtime) -> TrackingService:
        return FACTORIES[service](rt, rt.settings.tracking)

    found: TrackingService = runtime.resource(f"tracking.{service}", create)
    return found


def source_for(settings: Settings, supplier: Supplier, store: Store | None) -> str:
    """Who tells DropTrack about this supplier's parcels for this store: the supplier's own
    setting, else the store's, else the configured service for suppliers without carrier
    events, else the supplier itself."""
    return decided_source(settings, supplier, store)[0]


def decided_source(settings: Settings, supplier: Supplier | None,
                   store: Store | None) -> tuple[str, str]:
    """(source, why): why is "supplier setting", "store setting", "default for spreadsheet
    suppliers" or "the supplier's own events"."""
    for holder, why in ((supplier, "supplier setting"), (store, "store setting")):
        chosen = (holder.settings or {}).get(SOURCE_SETTING) if holder is not None else None
        if chosen in SOURCES:
            return str(chosen), why
    if supplier is not None and not kind_of(supplier.kind).carrier_events:
        return settings.tracking.service, "default for suppliers without carrier events"
    return SUPPLIER_SOURCE, "the supplier's own carrier events"


def set_source(session: Session, holder: Store | Supplier, source: str | None) -> None:
    """Choose the holder's tracking source; None clears it (back to the default)."""
    settings = dict(holder.settings or {})
    if source is None:
        settings.pop(SOURCE_SETTING, None)
    elif source not in SOURCES:
        raise ValueError(f"tracking source must be one of {', '.join(SOURCES)}")
    else:
        settings[SOURCE_SETTING] = source
    holder.settings = settings


SOURCE_LABELS = {SUPPLIER_SOURCE: "the supplier's own carrier events",
                 SEVENTEEN_TRACK: "17TRACK", AFTERSHIP: "AfterShip", DHL: "DHL"}


def check_source(settings: Settings, source: str | None) -> None:
    """A source the owner may choose: a known one, and a service only once it is configured
    (a parcel sent to a service without its key would never be tracked). None: the default."""
    if source is None or source == SUPPLIER_SOURCE:
        return
    if source not in SOURCES:
        raise ValueError(f"the tracking source must be one of {', '.join(SOURCES)} "
                         "(or default)")
    if not configured(settings, source):
        raise ValueError(f"{SOURCE_LABELS[source]} is not configured yet: set "
                         f"[tracking] {KEY_SETTINGS[source]} first")


@dataclass(frozen=True)
class SourceChoice:
    """One store's or supplier's tracking source, as the owner sees and changes it."""

    kind: str  # "store" | "supplier"
    holder_id: int
    name: str
    chosen: str  # a source, or "default"
    decided: str  # what tracks its parcels now (for a store: its spreadsheet suppliers')
    why: str


def source_choices(session: Session, settings: Settings,
                   store_id: int | None = None) -> list[SourceChoice]:
    """Every store's and supplier's choice; with `store_id` only that store's (the embedded
    admin: a supplier's choice applies to every store, so it is not offered there)."""
    choices: list[SourceChoice] = []
    query = select(Store).order_by(Store.id)
    if store_id is not None:
        query = query.where(Store.id == store_id)
    for store in session.scalars(query):
        chosen = (store.settings or {}).get(SOURCE_SETTING)
        decided, why = decided_source(settings, None, store) if chosen in SOURCES else (
            settings.tracking.service, "default for suppliers without carrier events")
        choices.append(SourceChoice("store", store.id, store.name or store.domain,
                                    str(chosen) if chosen in SOURCES else "default",
                                    decided, why))
    if store_id is not None:
        return choices
    for supplier in session.scalars(select(Supplier).order_by(Supplier.id)):
        chosen = (supplier.settings or {}).get(SOURCE_SETTING)
        decided, why = decided_source(settings, supplier, None)
        choices.append(SourceChoice("supplier", supplier.id, supplier.name,
                                    str(chosen) if chosen in SOURCES else "default",
                                    decided, why))
    return choices
