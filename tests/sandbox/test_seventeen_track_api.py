"""DropTrack's 17TRACK connector against the 17TRACK sandbox over real HTTP: every operation,
the envelope's accepted/rejected items, the documented error codes, the 40-number limit, the
rate limit."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from connectors.request_limits import InProcessRequestLimiter
from connectors.tracking.base import ProblemKind, TrackRequest
from connectors.tracking.seventeen_track.client import SeventeenTrackAuthError
from connectors.tracking.seventeen_track.connector import SeventeenTrack
from connectors.tracking.seventeen_track.settings import SeventeenTrackSettings
from core.errors import PermanentError
from tests.helpers.sandbox_17track import Tracker


@pytest.fixture
def service(tracker: Tracker) -> Iterator[SeventeenTrack]:
    connector = SeventeenTrack(SeventeenTrackSettings(api_key=tracker.key, base_url=tracker.url,
                                                      requests_per_second=50),
                               InProcessRequestLimiter())
    yield connector
    connector.close()


def kinds(result: object) -> list[tuple[str, ProblemKind, str]]:
    return [(p.number, p.kind, p.code) for p in result.problems]  # type: ignore[attr-defined]


def test_register_accepts_and_rejects_item_by_item(service: SeventeenTrack,
                                                   tracker: Tracker) -> None:
    result = service.register([
        TrackRequest("LX123456785CN"), TrackRequest("YT2229521272164446"),
        TrackRequest("QQ7731995"), TrackRequest("bad number!"),
        TrackRequest("1Z999AA10123456784", service_carrier="999999")])
    assert [(a.number, a.service_carrier) for a in result.accepted] == [
        ("LX123456785CN", "3011"), ("YT2229521272164446", "190107")]
    assert kinds(result) == [
        ("QQ7731995", ProblemKind.CARRIER_UNKNOWN, "-18019903"),
        ("bad number!", ProblemKind.INVALID_NUMBER, "-18010012"),
        ("1Z999AA10123456784", ProblemKind.CARRIER_UNKNOWN, "-18019910")]
    again = service.register([TrackRequest("LX123456785CN")])
    assert kinds(again) == [("LX123456785CN", ProblemKind.ALREADY_TRACKED, "-18019901")]
    assert tracker.state.quota_used == 2  # one credit per registered number, none for refusals


def test_more_than_40_numbers_is_refused_by_the_sandbox(tracker: Tracker) -> None:
    body = [{"number": f"LX{n:09d}CN"} for n in range(41)]
    answer = requests.post(f"{tracker.url}/register", json=body, timeout=5,
                           headers={"17token": tracker.key}).json()
    assert answer["code"] == -18010014 and not tracker.state.tracked


def test_a_wrong_key_is_refused(tracker: Tracker) -> None:
    wrong = SeventeenTrack(SeventeenTrackSettings(api_key="wrong", base_url=tracker.url),
                           InProcessRequestLimiter())
    with pytest.raises(SeventeenTrackAuthError, match="refused"):
        wrong.quota()
    wrong.close()


def test_track_stop_retrack_delete(service: SeventeenTrack, tracker: Tracker) -> None:
    number = TrackRequest("LX123456785CN")
    service.register([number])
    tracker.state.push_next("LX123456785CN")
    [parcel], problems = service.track([number, TrackRequest("LX000000000CN")])
    assert parcel.events and parcel.events[-1].raw_status == "InfoReceived"
    assert parcel.carrier == "china_post" and parcel.estimated_delivery_at is not None
    assert [(p.number, p.kind) for p in problems] == [("LX000000000CN", ProblemKind.NOT_TRACKED)]
    assert service.stop([number]).accepted
    assert kinds(service.stop([number])) == [
        ("LX123456785CN", ProblemKind.NOT_ALLOWED, "-18019906")]
    assert service.retrack([number]).accepted
    service.stop([number])
    assert kinds(service.retrack([number])) == [
        ("LX123456785CN", ProblemKind.NOT_ALLOWED, "-18019905")]  # only once
    assert service.delete([number]).accepted
    assert kinds(service.delete([number])) == [
        ("LX123456785CN", ProblemKind.NOT_TRACKED, "-18019902")]


def test_change_carrier_rules(service: SeventeenTrack, tracker: Tracker) -> None:
    service.register([TrackRequest("LX123456785CN")])
    assert [a.service_carrier for a in service.change_carrier(
        "LX123456785CN", "3011", "3013").accepted] == ["3013"]
    assert kinds(service.change_carrier("LX123456785CN", "3011", "2151")) == [
        ("LX123456785CN", ProblemKind.NOT_ALLOWED, "-18019805")]  # carrier_old does not match
    assert kinds(service.change_carrier("LX123456785CN", "3013", "3013")) == [
        ("LX123456785CN", ProblemKind.NOT_ALLOWED, "-18019803")]
    for new, old in (("2151", "3013"), ("3011", "2151"), ("2151", "3011"), ("3011", "2151")):
        assert service.change_carrier("LX123456785CN", old, new).accepted
    assert kinds(service.change_carrier("LX123456785CN", "3011", "2151")) == [
        ("LX123456785CN", ProblemKind.NOT_ALLOWED, "-18019807")]  # five corrections at most


def test_quota_exhausted_per_number(service: SeventeenTrack, tracker: Tracker) -> None:
    tracker.state.quota_total = 1
    result = service.register([TrackRequest("LX123456785CN"), TrackRequest("LX123456799CN")])
    assert len(result.accepted) == 1
    assert kinds(result) == [("LX123456799CN", ProblemKind.QUOTA_EXHAUSTED, "-18019908")]
    quota = service.quota()
    assert (quota.total, quota.used, quota.remaining) == (1, 1, 0)


def test_more_than_three_requests_a_second_get_429(tracker: Tracker) -> None:
    def call(_: int) -> int:
        return requests.post(f"{tracker.url}/getquota", timeout=5,
                             headers={"17token": tracker.key}).status_code

    with ThreadPoolExecutor(10) as pool:
        statuses = list(pool.map(call, range(20)))
    assert 429 in statuses and statuses.count(200) < 20  # a burst of 3, refilling at 3/s


def test_the_client_never_sends_more_than_40_numbers() -> None:
    service = SeventeenTrack(SeventeenTrackSettings(api_key="k", base_url="http://127.0.0.1:9"),
                             InProcessRequestLimiter())
    with pytest.raises(ValueError, match="at most 40"):
        service.register([TrackRequest(f"LX{n:09d}CN") for n in range(41)])
    service.close()
    assert issubclass(SeventeenTrackAuthError, PermanentError)


def test_pushes_are_signed_and_earlier_events_keep_their_times(
        service: SeventeenTrack, tracker: Tracker) -> None:
    service.register([TrackRequest("LX123456785CN")])
    first = tracker.state.push_next("LX123456785CN")
    second = tracker.state.push_next("LX123456785CN")
    assert first is not None and second is not None
    assert service.verify_push(second.body, {"sign": second.sign})
    from connectors.tracking.seventeen_track.mapper import parse_push

    one, two = parse_push(first.body), parse_push(second.body)
    assert one and two and one.parcel and two.parcel
    assert one.parcel.events[0] in two.parcel.events  # the same event, the same key
    assert [e.raw_status for e in two.parcel.events if "latest" not in e.key] == [
        "InfoReceived", "InTransit_PickedUp"]
