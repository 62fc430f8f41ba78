"""Store connectors are reused across jobs (keep-alive) and rebuilt when their store changes."""

from __future__ import annotations

from integration.kernel import connector_cache
from integration.kernel.connector_cache import ConnectorCache, store_key


class FakeConnector:
    def __init__(self, name: str) -> None:
        self.name = name
        self.closed = False

    def close(self) -> None:
        self.closed = True


def test_one_connector_per_store_until_the_store_changes() -> None:
    cache = ConnectorCache()
    built: list[FakeConnector] = []

    def build(name: str) -> FakeConnector:
        built.append(FakeConnector(name))
        return built[-1]

    first = store_key(1, "shopify", "a.myshopify.com", "token-1", {"x": 1})
    assert cache.get(1, first, lambda: build("a")) is cache.get(1, first, lambda: build("b"))
    assert [c.name for c in built] == ["a"]
    other_store = cache.get(2, store_key(2, "shopify", "b.myshopify.com", "t", {}),
                            lambda: build("c"))
    assert other_store.name == "c"
    renewed = store_key(1, "shopify", "a.myshopify.com", "token-2", {"x": 1})
    replacement = cache.get(1, renewed, lambda: build("d"))
    assert replacement.name == "d" and not built[0].closed  # another job may still use it
    cache.close()
    assert all(c.closed for c in built)


def test_a_replaced_connector_is_closed_once_no_request_can_still_use_it() -> None:
    clock = [1000.0]
    cache = ConnectorCache(monotonic=lambda: clock[0])
    old = cache.get(1, ("v1",), lambda: FakeConnector("old"))
    cache.get(1, ("v2",), lambda: FakeConnector("new"))
    clock[0] += connector_cache.RETIRE_AFTER_SECONDS + 1
    newest = cache.get(1, ("v3",), lambda: FakeConnector("newest"))
    assert old.closed and not newest.closed
