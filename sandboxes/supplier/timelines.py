"""Parcel life as a timeline fixed at order time: scenarios, carrier vocabularies, planning.

An order's whole future (when it is processed, when each parcel ships, every carrier scan with
its time) is planned once from a seeded random generator. What the API shows is the part of the
plan whose time the clock has passed, so accelerating the clock replays 15 days of parcel life
in milliseconds and the same seed always tells the same story.

Carrier events carry the carrier's raw status (a code or text in the carrier's own vocabulary,
ambiguous on purpose where real carriers are: UPU ``EMH`` covers every failed delivery, DHL
reports customs holds as ``transit``) plus the status and reason DropTrack would normalise it to.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from core.status import Reason, Status
from sandboxes.supplier.carriers import Carrier, CarrierCode, VocabularyFamily, carrier

__all__ = [
    "DEFAULT_SCENARIO_WEIGHTS",
    "Destination",
    "Milestone",
    "ParcelPlan",
    "PlannedEvent",
    "Scenario",
    "ShipmentPlan",
    "TrackingLeg",
    "pick_scenario",
    "plan_shipment",
]


class Scenario(StrEnum):
    NORMAL = "normal"
    READY_FOR_PICKUP = "ready_for_pickup"
    RECIPIENT_UNAVAILABLE = "undelivered_recipient_unavailable"
    INVALID_ADDRESS = "undelivered_invalid_address"
    REFUSED = "undelivered_refused"
    STUCK_IN_TRANSIT = "stuck_in_transit"
    NO_TRACKING = "no_tracking"
    LAST_MILE_CHANGE = "last_mile_change"
    DELAYED = "delayed"
    CUSTOMS = "customs"
    LOST = "lost"
    SPLIT_SHIPMENT = "split_shipment"


DEFAULT_SCENARIO_WEIGHTS: Mapping[Scenario, int] = {
    Scenario.NORMAL: 52,
    Scenario.READY_FOR_PICKUP: 6,
    Scenario.RECIPIENT_UNAVAILABLE: 4,
    Scenario.INVALID_ADDRESS: 3,
    Scenario.REFUSED: 2,
    Scenario.STUCK_IN_TRANSIT: 5,
    Scenario.NO_TRACKING: 4,
    Scenario.LAST_MILE_CHANGE: 9,
    Scenario.DELAYED: 5,
    Scenario.CUSTOMS: 4,
    Scenario.LOST: 2,
    Scenario.SPLIT_SHIPMENT: 4,
}
"""The default mix when neither a seed call nor a recipient marker chooses the scenario."""


class Milestone(StrEnum):
    LABEL_CREATED = "label_created"
    ACCEPTED = "accepted"
    ORIGIN_FACILITY = "origin_facility"
    DEPARTED_ORIGIN = "departed_origin"
    ARRIVED_DESTINATION = "arrived_destination"
    CUSTOMS_HELD = "customs_held"
    CUSTOMS_CLEARED = "customs_cleared"
    DESTINATION_FACILITY = "destination_facility"
    HANDED_OVER = "handed_over"
    OUT_FOR_DELIVERY = "out_for_delivery"
    DELIVERED = "delivered"
    READY_FOR_PICKUP = "ready_for_pickup"
    PICKED_UP = "picked_up"
    ATTEMPT_FAILED = "attempt_failed"
    ADDRESS_PROBLEM = "address_problem"
    REFUSED = "refused"
    DELAYED = "delayed"
    LOST = "lost"
    RETURN_TO_SENDER = "return_to_sender"


SUGGESTED: Mapping[Milestone, tuple[Status, Reason | None]] = {
    Milestone.LABEL_CREATED: (Status.INFO_RECEIVED, None),
    Milestone.ACCEPTED: (Status.IN_TRANSIT, None),
    Milestone.ORIGIN_FACILITY: (Status.IN_TRANSIT, None),
    Milestone.DEPARTED_ORIGIN: (Status.IN_TRANSIT, None),
    Milestone.ARRIVED_DESTINATION: (Status.IN_TRANSIT, None),
    Milestone.CUSTOMS_HELD: (Status.EXCEPTION, Reason.CUSTOMS),
    Milestone.CUSTOMS_CLEARED: (Status.IN_TRANSIT, None),
    Milestone.DESTINATION_FACILITY: (Status.IN_TRANSIT, None),
    Milestone.HANDED_OVER: (Status.IN_TRANSIT, None),
    Milestone.OUT_FOR_DELIVERY: (Status.OUT_FOR_DELIVERY, None),
    Milestone.DELIVERED: (Status.DELIVERED, None),
    Milestone.READY_FOR_PICKUP: (Status.READY_FOR_PICKUP, None),
    Milestone.PICKED_UP: (Status.DELIVERED, None),
    Milestone.ATTEMPT_FAILED: (Status.UNDELIVERED, Reason.RECIPIENT_UNAVAILABLE),
    Milestone.ADDRESS_PROBLEM: (Status.UNDELIVERED, Reason.INVALID_ADDRESS),
    Milestone.REFUSED: (Status.UNDELIVERED, Reason.REFUSED),
    Milestone.DELAYED: (Status.EXCEPTION, Reason.DELAYED),
    Milestone.LOST: (Status.EXCEPTION, Reason.LOST),
    Milestone.RETURN_TO_SENDER: (Status.EXCEPTION, Reason.RETURN_TO_SENDER),
}
"""The normalised (status, reason) the supplier suggests next to each raw carrier status."""

_M = Milestone

VOCABULARIES: Mapping[VocabularyFamily, Mapping[Milestone, tuple[str, str]]] = {
    # Modelled on UPU EMSEVT codes as postal operators and ePacket trackers show them.
    VocabularyFamily.UPU: {
        _M.LABEL_CREATED: ("PRE", "Electronic information received"),
        _M.ACCEPTED: ("EMA", "Posting/Collection"),
        _M.ORIGIN_FACILITY: ("EMB", "Arrival at outward office of exchange"),
        _M.DEPARTED_ORIGIN: ("EMC", "Departure from outward office of exchange"),
        _M.ARRIVED_DESTINATION: ("EMD", "Arrival at inward office of exchange"),
        _M.CUSTOMS_HELD: ("EME", "Held by import customs"),
        _M.CUSTOMS_CLEARED: ("EMF", "Departure from inward office of exchange"),
        _M.DESTINATION_FACILITY: ("EMG", "Arrival at delivery office"),
        _M.HANDED_OVER: ("EMK", "Handed over to the delivery partner"),
        _M.OUT_FOR_DELIVERY: ("EMG", "Out for delivery"),
        _M.DELIVERED: ("EMI", "Final delivery"),
        _M.READY_FOR_PICKUP: ("EMH", "Unsuccessful delivery: item held at post office for "
                                     "collection"),
        _M.PICKED_UP: ("EMI", "Final delivery: collected at post office"),
        _M.ATTEMPT_FAILED: ("EMH", "Unsuccessful delivery: addressee absent, notice left"),
        _M.ADDRESS_PROBLEM: ("EMH", "Unsuccessful delivery: incorrect address"),
        _M.REFUSED: ("EMH", "Unsuccessful delivery: refused by addressee"),
        _M.DELAYED: ("EMJ", "Delayed: awaiting onward transport"),
        _M.LOST: ("EMX", "Item not found, presumed lost"),
        _M.RETURN_TO_SENDER: ("EML", "Returned to sender"),
    },
    VocabularyFamily.CONSOLIDATOR: {
        _M.LABEL_CREATED: ("ORDER_RECEIVED", "Shipment information received"),
        _M.ACCEPTED: ("PICKED_UP", "Parcel received by the sorting center"),
        _M.ORIGIN_FACILITY: ("SORTING_OUT", "Departed sorting center"),
        _M.DEPARTED_ORIGIN: ("LINEHAUL_DEPART", "Departed from origin country, flight in transit"),
        _M.ARRIVED_DESTINATION: ("LINEHAUL_ARRIVE", "Arrived at destination country"),
        _M.CUSTOMS_HELD: ("CUSTOMS_HOLD", "Import customs inspection, awaiting clearance"),
        _M.CUSTOMS_CLEARED: ("CUSTOMS_RELEASED", "Import customs clearance complete"),
        _M.DESTINATION_FACILITY: ("LASTMILE_RECEIVED", "Arrived at local delivery facility"),
        _M.HANDED_OVER: ("LASTMILE_HANDOVER", "Handed over to last-mile carrier"),
        _M.OUT_FOR_DELIVERY: ("OUT_FOR_DELIVERY", "Out for delivery"),
        _M.DELIVERED: ("DELIVERED", "Delivered"),
        _M.READY_FOR_PICKUP: ("PICKUP_POINT", "Arrived at pick-up point, awaiting collection"),
        _M.PICKED_UP: ("DELIVERED", "Collected by recipient at pick-up point"),
        _M.ATTEMPT_FAILED: ("DELIVERY_FAILED", "Delivery attempt failed: recipient not available"),
        _M.ADDRESS_PROBLEM: ("DELIVERY_FAILED", "Delivery failed: incorrect address"),
        _M.REFUSED: ("DELIVERY_FAILED", "Delivery failed: refused by recipient"),
        _M.DELAYED: ("EXCEPTION", "Flight delayed, will be forwarded as soon as possible"),
        _M.LOST: ("EXCEPTION", "Parcel lost in transit"),
        _M.RETURN_TO_SENDER: ("RETURNING", "Returning to sender"),
    },
    VocabularyFamily.USPS: {
        _M.LABEL_CREATED: ("GX", "Shipping Label Created, USPS Awaiting Item"),
        _M.ACCEPTED: ("03", "USPS in possession of item"),
        _M.ORIGIN_FACILITY: ("10", "Processed Through Facility"),
        _M.DEPARTED_ORIGIN: ("EF", "Departed USPS Facility"),
        _M.ARRIVED_DESTINATION: ("A1", "Arrived at USPS Regional Facility"),
        _M.CUSTOMS_HELD: ("IN", "Held in Customs"),
        _M.CUSTOMS_CLEARED: ("IC", "Customs Clearance Processing Complete"),
        _M.DESTINATION_FACILITY: ("07", "Arrived at Post Office"),
        _M.HANDED_OVER: ("HO", "Forwarded to partner carrier"),
        _M.OUT_FOR_DELIVERY: ("OF", "Out for Delivery"),
        _M.DELIVERED: ("01", "Delivered, In/At Mailbox"),
        _M.READY_FOR_PICKUP: ("16", "Available for Pickup"),
        _M.PICKED_UP: ("01", "Delivered, Individual Picked Up at Postal Facility"),
        _M.ATTEMPT_FAILED: ("02", "Notice Left (No Authorized Recipient Available)"),
        _M.ADDRESS_PROBLEM: ("05", "Undeliverable as Addressed"),
        _M.REFUSED: ("04", "Refused"),
        _M.DELAYED: ("NT", "In Transit, Arriving Late"),
        _M.LOST: ("LS", "Missing Mail Search Complete, Item Not Found"),
        _M.RETURN_TO_SENDER: ("29", "Return to Sender Processed"),
    },
    VocabularyFamily.UPS: {
        _M.LABEL_CREATED: ("M", "Shipper created a label, UPS has not received the package yet."),
        _M.ACCEPTED: ("P", "Pickup Scan"),
        _M.ORIGIN_FACILITY: ("I", "Origin Scan"),
        _M.DEPARTED_ORIGIN: ("I", "Departed from Facility"),
        _M.ARRIVED_DESTINATION: ("I", "Arrived at Facility"),
        _M.CUSTOMS_HELD: ("X", "Your package is being held for clearance by the government "
                               "agency of the destination country."),
        _M.CUSTOMS_CLEARED: ("I", "Import Scan"),
        _M.DESTINATION_FACILITY: ("I", "Destination Scan"),
        _M.HANDED_OVER: ("I", "Package transferred to post office for delivery"),
        _M.OUT_FOR_DELIVERY: ("I", "Out For Delivery Today"),
        _M.DELIVERED: ("D", "DELIVERED"),
        _M.READY_FOR_PICKUP: ("I", "Delivered to UPS Access Point and awaiting customer pickup"),
        _M.PICKED_UP: ("D", "Picked up by customer at UPS Access Point"),
        _M.ATTEMPT_FAILED: ("X", "The receiver was not available for delivery. We'll make a "
                                 "second attempt the next business day."),
        _M.ADDRESS_PROBLEM: ("X", "The address is incorrect. We're attempting to obtain the "
                                  "correct address."),
        _M.REFUSED: ("X", "The receiver refused the delivery."),
        _M.DELAYED: ("X", "Your delivery has been rescheduled due to a delay in transit."),
        _M.LOST: ("X", "We've been unable to locate your package."),
        _M.RETURN_TO_SENDER: ("X", "The package is being returned to the sender."),
    },
    # DHL's unified tracking API: statusCode pre-transit | transit | delivered | failure.
    VocabularyFamily.DHL: {
        _M.LABEL_CREATED: ("pre-transit", "Shipment information received"),
        _M.ACCEPTED: ("transit", "Shipment picked up"),
        _M.ORIGIN_FACILITY: ("transit", "Processed at export facility"),
        _M.DEPARTED_ORIGIN: ("transit", "Departed Facility"),
        _M.ARRIVED_DESTINATION: ("transit", "Arrived at DHL Sort Facility"),
        _M.CUSTOMS_HELD: ("transit", "Clearance event: shipment on hold"),
        _M.CUSTOMS_CLEARED: ("transit", "Customs status updated: shipment released"),
        _M.DESTINATION_FACILITY: ("transit", "Arrived at Delivery Facility"),
        _M.HANDED_OVER: ("transit", "Shipment forwarded to partner for delivery"),
        _M.OUT_FOR_DELIVERY: ("transit", "Shipment is out with courier for delivery"),
        _M.DELIVERED: ("delivered", "Delivered"),
        _M.READY_FOR_PICKUP: ("transit", "Shipment is ready for collection at a DHL "
                                         "ServicePoint"),
        _M.PICKED_UP: ("delivered", "Collected from DHL ServicePoint"),
        _M.ATTEMPT_FAILED: ("failure", "Delivery attempted; recipient not home"),
        _M.ADDRESS_PROBLEM: ("failure", "Incorrect address: recipient could not be located"),
        _M.REFUSED: ("failure", "Delivery refused by recipient"),
        _M.DELAYED: ("transit", "Delivery has been delayed"),
        _M.LOST: ("failure", "Shipment could not be located"),
        _M.RETURN_TO_SENDER: ("failure", "Returned to shipper"),
    },
}


@dataclass(frozen=True)
class Destination:
    country: str
    city: str
    province: str
    postcode: str


@dataclass(frozen=True)
class PlannedEvent:
    id: str
    happened_at: datetime
    milestone: Milestone
    carrier: Carrier
    tracking_number: str
    location: str
    new_carrier: Carrier | None = None
    new_tracking_number: str | None = None

    @property
    def raw_status(self) -> str:
        return VOCABULARIES[self.carrier.family][self.milestone][0]

    @property
    def description(self) -> str:
        text = VOCABULARIES[self.carrier.family][self.milestone][1]
        if self.new_carrier is not None and self.new_tracking_number is not None:
            text += f" {self.new_carrier.name}, new tracking number {self.new_tracking_number}"
        return text

    @property
    def suggested_status(self) -> Status:
        return SUGGESTED[self.milestone][0]

    @property
    def suggested_reason(self) -> Reason | None:
        return SUGGESTED[self.milestone][1]


@dataclass(frozen=True)
class TrackingLeg:
    """One tracking number of a parcel; a last-mile change adds a second leg."""

    carrier: Carrier
    tracking_number: str
    assigned_at: datetime


@dataclass(frozen=True)
class ParcelPlan:
    id: str
    line_indexes: tuple[int, ...]
    shipped_at: datetime
    legs: tuple[TrackingLeg, ...]
    events: tuple[PlannedEvent, ...]


@dataclass(frozen=True)
class ShipmentPlan:
    scenario: Scenario
    processing_at: datetime
    parcels: tuple[ParcelPlan, ...] = field(default=())

    @property
    def shipped_at(self) -> datetime | None:
        return min((p.shipped_at for p in self.parcels), default=None)


NumberFactory = Callable[[CarrierCode], str]
"""Hands out a fresh tracking number, unique within the sandbox, for a carrier."""

_ORIGIN_CITIES = ("SHENZHEN, GUANGDONG, CN", "GUANGZHOU, GUANGDONG, CN", "YIWU, ZHEJIANG, CN",
                  "DONGGUAN, GUANGDONG, CN")
_EXPORT_HUBS = ("GUANGZHOU EXCHANGE OFFICE, CN", "SHENZHEN INTERNATIONAL MAIL CENTER, CN",
                "HONG KONG AIR MAIL CENTRE, HK")
_GATEWAYS: Mapping[str, tuple[str, ...]] = {
    "US": ("LOS ANGELES CA ISC, US", "JAMAICA NY ISC, US", "CHICAGO IL ISC, US"),
    "GB": ("HEATHROW WORLDWIDE DC, GB", "COVENTRY HUB, GB"),
    "DE": ("FRANKFURT, DE", "LEIPZIG HUB, DE"),
    "FR": ("ROISSY CDG, FR",),
    "CA": ("MISSISSAUGA, ON, CA", "VANCOUVER, BC, CA"),
    "AU": ("SYDNEY GATEWAY, AU", "MELBOURNE GATEWAY, AU"),
}
_ORIGIN_WEIGHTS: Mapping[CarrierCode, int] = {
    CarrierCode.CHINA_POST: 35, CarrierCode.YUNEXPRESS: 25, CarrierCode.FOUR_PX: 15,
    CarrierCode.CAINIAO: 25,
}
_CONSOLIDATORS = (CarrierCode.YUNEXPRESS, CarrierCode.FOUR_PX, CarrierCode.CAINIAO)
_EXPRESS = (CarrierCode.UPS, CarrierCode.DHL_EXPRESS)
_LAST_MILE: Mapping[str, CarrierCode] = {
    "US": CarrierCode.USPS, "GB": CarrierCode.ROYAL_MAIL, "FR": CarrierCode.LA_POSTE,
}

# Where each milestone of a normal journey falls, as a fraction of the transit time.
_NORMAL_JOURNEY: tuple[tuple[Milestone, float], ...] = (
    (_M.LABEL_CREATED, 0.0),
    (_M.ACCEPTED, 0.05),
    (_M.ORIGIN_FACILITY, 0.12),
    (_M.DEPARTED_ORIGIN, 0.25),
    (_M.ARRIVED_DESTINATION, 0.55),
    (_M.CUSTOMS_CLEARED, 0.62),
    (_M.DESTINATION_FACILITY, 0.75),
    (_M.DESTINATION_FACILITY, 0.88),
    (_M.OUT_FOR_DELIVERY, 0.97),
    (_M.DELIVERED, 1.0),
)


def pick_scenario(rng: random.Random,
                  weights: Mapping[Scenario, int] = DEFAULT_SCENARIO_WEIGHTS) -> Scenario:
    scenarios = list(weights)
    return rng.choices(scenarios, weights=[weights[s] for s in scenarios])[0]


def _pick_weighted(rng: random.Random, weights: Mapping[CarrierCode, int]) -> CarrierCode:
    codes = list(weights)
    return rng.choices(codes, weights=[weights[c] for c in codes])[0]


@dataclass
class _Step:
    milestone: Milestone
    at: datetime
    location: str
    on_last_mile: bool = False


class _ParcelBuilder:
    """Turns a scenario into the dated steps of one parcel's journey."""

    def __init__(self, rng: random.Random, scenario: Scenario, destination: Destination,
                 shipped_at: datetime, transit: timedelta) -> None:
        self.rng = rng
        self.scenario = scenario
        self.destination = destination
        self.shipped_at = shipped_at
        self.transit = transit
        self.origin_city = rng.choice(_ORIGIN_CITIES)
        self.export_hub = rng.choice(_EXPORT_HUBS)
        self.gateway = rng.choice(
            _GATEWAYS.get(destination.country, (f"{destination.country} INTERNATIONAL GATEWAY",)))

    def _location(self, milestone: Milestone, index: int) -> str:
        dest = self.destination
        region = f"{dest.province.upper()} {dest.postcode}".strip()
        local = ", ".join(part for part in (dest.city.upper(), region, dest.country) if part)
        if milestone in (_M.LABEL_CREATED, _M.ACCEPTED):
            return self.origin_city
        if milestone in (_M.ORIGIN_FACILITY, _M.DEPARTED_ORIGIN, _M.DELAYED, _M.LOST):
            return self.export_hub
        if milestone in (_M.ARRIVED_DESTINATION, _M.CUSTOMS_HELD, _M.CUSTOMS_CLEARED,
                         _M.HANDED_OVER):
            return self.gateway
        if milestone is _M.DESTINATION_FACILITY and index < len(_NORMAL_JOURNEY) - 3:
            return f"{dest.city.upper()} DISTRIBUTION CENTER, {dest.country}"
        return local

    def steps(self) -> list[_Step]:
        steps: list[_Step] = []
        for index, (milestone, fraction) in enumerate(_NORMAL_JOURNEY):
            at = self.shipped_at + self.transit * fraction
            if 0 < fraction < 1:  # jitter small enough that milestones never swap places
                at += self.transit * self.rng.uniform(-0.01, 0.01)
            steps.append(_Step(milestone, at, self._location(milestone, index)))
        return self._apply_scenario(steps)

    def _insert_after(self, steps: list[_Step], after: Milestone, new: Milestone,
                      gap: timedelta, shift_rest: timedelta) -> list[_Step]:
        position = next(i for i, s in enumerate(steps) if s.milestone is after) + 1
        anchor = steps[position - 1].at
        for step in steps[position:]:
            step.at += shift_rest
        steps.insert(position, _Step(new, anchor + gap, self._location(new, position)))
        return steps

    def _end_after(self, steps: list[_Step], last: Milestone) -> list[_Step]:
        position = max(i for i, s in enumerate(steps) if s.milestone is last)
        return steps[: position + 1]

    def _then(self, steps: list[_Step], milestone: Milestone, gap: timedelta) -> list[_Step]:
        steps.append(_Step(milestone, steps[-1].at + gap, steps[-1].location))
        return steps

    def _apply_scenario(self, steps: list[_Step]) -> list[_Step]:
        rng, hours, days = self.rng, timedelta(hours=1), timedelta(days=1)
        match self.scenario:
            case Scenario.READY_FOR_PICKUP:
                steps = self._end_after(steps, _M.DESTINATION_FACILITY)
                steps = self._then(steps, _M.READY_FOR_PICKUP, rng.uniform(10, 20) * hours)
                steps[-1].location = f"{self.destination.city.upper()} POST OFFICE, " \
                                     f"{self.destination.country}"
                return self._then(steps, _M.PICKED_UP, rng.uniform(2, 4) * days)
            case Scenario.RECIPIENT_UNAVAILABLE:
                steps = self._end_after(steps, _M.OUT_FOR_DELIVERY)
                return self._then(steps, _M.ATTEMPT_FAILED, rng.uniform(4, 8) * hours)
            case Scenario.INVALID_ADDRESS:
                steps = self._end_after(steps, _M.OUT_FOR_DELIVERY)
                steps = self._then(steps, _M.ADDRESS_PROBLEM, rng.uniform(4, 8) * hours)
                return self._then(steps, _M.RETURN_TO_SENDER, rng.uniform(4, 6) * days)
            case Scenario.REFUSED:
                steps = self._end_after(steps, _M.OUT_FOR_DELIVERY)
                steps = self._then(steps, _M.REFUSED, rng.uniform(4, 8) * hours)
                return self._then(steps, _M.RETURN_TO_SENDER, rng.uniform(2, 4) * days)
            case Scenario.STUCK_IN_TRANSIT:
                return self._end_after(steps, _M.ARRIVED_DESTINATION)
            case Scenario.LOST:
                steps = self._end_after(steps, _M.DEPARTED_ORIGIN)
                return self._then(steps, _M.LOST, rng.uniform(18, 25) * days)
            case Scenario.DELAYED:
                delay = rng.uniform(4, 6) * days
                return self._insert_after(steps, _M.DEPARTED_ORIGIN, _M.DELAYED,
                                          rng.uniform(12, 30) * hours, delay)
            case Scenario.CUSTOMS:
                hold = rng.uniform(3, 6) * days
                return self._insert_after(steps, _M.ARRIVED_DESTINATION, _M.CUSTOMS_HELD,
                                          rng.uniform(3, 10) * hours, hold)
            case Scenario.LAST_MILE_CHANGE:
                return self._hand_over(steps)
            case _:
                return steps

    def _hand_over(self, steps: list[_Step]) -> list[_Step]:
        """After customs the origin carrier hands over; the rest is the last-mile carrier's."""
        position = next(i for i, s in enumerate(steps) if s.milestone is _M.CUSTOMS_CLEARED) + 1
        handover_at = steps[position - 1].at + timedelta(hours=self.rng.uniform(2, 8))
        handover = _Step(_M.HANDED_OVER, handover_at, steps[position - 1].location)
        label = _Step(_M.LABEL_CREATED, handover_at + timedelta(minutes=5),
                      handover.location, on_last_mile=True)
        accepted = _Step(_M.ACCEPTED, handover_at + timedelta(hours=self.rng.uniform(3, 9)),
                         handover.location, on_last_mile=True)
        rest = steps[position:]
        for step in rest:
            step.on_last_mile = True
            step.at = max(step.at, accepted.at + timedelta(hours=1))
        return [*steps[:position], handover, label, accepted, *rest]


def _transit_time(rng: random.Random, express: bool) -> timedelta:
    days = rng.uniform(3, 6) if express else rng.uniform(7, 15)
    return timedelta(days=days)


def _origin_carrier(rng: random.Random, scenario: Scenario, express: bool) -> CarrierCode:
    if scenario is Scenario.LAST_MILE_CHANGE:
        return rng.choice(_CONSOLIDATORS)
    if express:
        return rng.choice(_EXPRESS)
    return _pick_weighted(rng, _ORIGIN_WEIGHTS)


def _plan_parcel(*, parcel_id: str, line_indexes: tuple[int, ...], scenario: Scenario,
                 shipped_at: datetime, destination: Destination, express: bool,
                 rng: random.Random, new_number: NumberFactory) -> ParcelPlan:
    origin = carrier(_origin_carrier(rng, scenario, express))
    origin_number = new_number(origin.code)
    legs = [TrackingLeg(origin, origin_number, shipped_at)]
    builder = _ParcelBuilder(rng, scenario, destination, shipped_at, _transit_time(rng, express))
    steps = builder.steps()

    last_mile: TrackingLeg | None = None
    if any(step.on_last_mile for step in steps):
        last_mile_carrier = carrier(_LAST_MILE.get(destination.country,
                                                   CarrierCode.DHL_ECOMMERCE))
        handover_at = next(s.at for s in steps if s.milestone is _M.HANDED_OVER)
        handover_at = handover_at.replace(microsecond=0)
        last_mile = TrackingLeg(last_mile_carrier, new_number(last_mile_carrier.code),
                                handover_at)
        legs.append(last_mile)

    events: list[PlannedEvent] = []
    for index, step in enumerate(sorted(steps, key=lambda s: s.at)):
        leg = last_mile if step.on_last_mile and last_mile is not None else legs[0]
        is_handover = step.milestone is _M.HANDED_OVER and last_mile is not None
        events.append(PlannedEvent(
            id=f"evt_{parcel_id}_{index:02d}",
            happened_at=step.at.replace(microsecond=0),
            milestone=step.milestone,
            carrier=leg.carrier,
            tracking_number=leg.tracking_number,
            location=step.location,
            new_carrier=last_mile.carrier if is_handover and last_mile else None,
            new_tracking_number=last_mile.tracking_number if is_handover and last_mile else None,
        ))
    return ParcelPlan(parcel_id, line_indexes, shipped_at, tuple(legs), tuple(events))


def plan_shipment(*, order_id: str, scenario: Scenario, line_count: int,
                  destination: Destination, placed_at: datetime, rng: random.Random,
                  new_number: NumberFactory, express: bool = False) -> ShipmentPlan:
    """The whole future of one order, from processing to the last carrier scan."""
    processing_at = (placed_at + timedelta(minutes=rng.uniform(20, 90))).replace(microsecond=0)
    if scenario is Scenario.NO_TRACKING:
        return ShipmentPlan(scenario, processing_at)
    dispatch_days = rng.uniform(0.5, 1.5) if express else rng.uniform(1, 3)
    shipped_at = (processing_at + timedelta(days=dispatch_days)).replace(microsecond=0)

    groups: Sequence[tuple[int, ...]] = [tuple(range(line_count))]
    parcel_scenario = scenario
    if scenario is Scenario.SPLIT_SHIPMENT:
        parcel_scenario = Scenario.NORMAL
        if line_count >= 2:
            half = (line_count + 1) // 2
            groups = [tuple(range(half)), tuple(range(half, line_count))]

    parcels = []
    for number, lines in enumerate(groups, start=1):
        later = timedelta(seconds=int(rng.uniform(1, 2) * 86400)) * (number - 1)
        parcel_shipped_at = shipped_at + later
        parcels.append(_plan_parcel(
            parcel_id=f"{order_id}-P{number}", line_indexes=lines, scenario=parcel_scenario,
            shipped_at=parcel_shipped_at, destination=destination, express=express, rng=rng,
            new_number=new_number,
        ))
    return ShipmentPlan(scenario, processing_at, tuple(parcels))
