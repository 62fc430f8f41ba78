"""The intake's cache of store secrets."""

from __future__ import annotations

from webhooks.store_secrets import StoreSecretCache, StoreSigner, verified_store


class Loads:
    def __init__(self, *answers: StoreSigner | None) -> None:
        self.answers = list(answers)
        self.calls = 0

    def __call__(self) -> StoreSigner | None:
        self.calls += 1
        return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]


def test_cached_until_the_ttl_then_reloaded() -> None:
    now = [100.0]
    cache = StoreSecretCache(ttl_seconds=10, monotonic=lambda: now[0])
    load = Loads(StoreSigner(1, (b"a",)))
    assert cache.get("k", load) == cache.get("k", load)
    assert load.calls == 1
    now[0] += 11
    cache.get("k", load)
    assert load.calls == 2


def test_unknown_stores_are_never_cached() -> None:
    cache = StoreSecretCache()
    load = Loads(None, StoreSigner(7, (b"s",)))
    assert cache.get("k", load) is None
    assert cache.get("k", load) == StoreSigner(7, (b"s",))


def test_a_rotated_secret_works_at_once() -> None:
    cache = StoreSecretCache()
    load = Loads(StoreSigner(1, (b"old",)), StoreSigner(1, (b"new", b"old")))
    assert verified_store(cache, "k", load, lambda s: b"old" in s) is not None
    found = verified_store(cache, "k", load, lambda s: b"new" in s)
    assert found is not None and found.secrets == (b"new", b"old")
    assert verified_store(cache, "k", load, lambda s: b"forged" in s) is None
