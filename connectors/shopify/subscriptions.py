"""Keep the store's webhook subscriptions pointing at DropTrack: create the missing ones,
delete ours that point elsewhere (an old public URL). Shopify deletes a subscription after
repeated failed deliveries, so this runs after install and then as a periodic health check."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from connectors.shopify import graphql as ops
from connectors.shopify.client import ShopifyClient, user_errors
from connectors.shopify.settings import WEBHOOK_TOPICS
from core.errors import PermanentError


@dataclass
class SubscriptionReport:
    kept: list[str] = field(default_factory=list)
    created: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)  # "TOPIC -> old uri"

    @property
    def repaired(self) -> bool:
        return bool(self.created or self.deleted)


def current_subscriptions(client: ShopifyClient) -> list[dict[str, str]]:
    found: list[dict[str, str]] = []
    cursor: str | None = None
    while True:
        data = client.execute(ops.WEBHOOK_SUBSCRIPTIONS, {"after": cursor})
        connection = data.get("webhookSubscriptions") or {}
        found.extend(node for node in connection.get("nodes") or [] if isinstance(node, dict))
        page = connection.get("pageInfo") or {}
        if not page.get("hasNextPage"):
            return found
        cursor = page.get("endCursor")


def ensure_subscriptions(client: ShopifyClient, uri: str,
                         topics: Sequence[str] = WEBHOOK_TOPICS) -> SubscriptionReport:
    report = SubscriptionReport()
    existing = current_subscriptions(client)
    for topic in topics:
        mine = [s for s in existing if s.get("topic") == topic]
        for stale in (s for s in mine if s.get("uri") != uri):
            data = client.execute(ops.WEBHOOK_DELETE, {"id": stale["id"]})
            errors = user_errors(data.get("webhookSubscriptionDelete"))
            if errors:
                raise PermanentError(f"{client.domain}: cannot delete the {topic} webhook: "
                                     + "; ".join(errors))
            report.deleted.append(f"{topic} -> {stale.get('uri')}")
        if any(s.get("uri") == uri for s in mine):
            report.kept.append(topic)
            continue
        data = client.execute(ops.WEBHOOK_CREATE, {
            "topic": topic, "webhookSubscription": {"uri": uri, "format": "JSON"}})
        errors = user_errors(data.get("webhookSubscriptionCreate"))
        if errors:
            raise PermanentError(f"{client.domain}: cannot subscribe to {topic}: "
                                 + "; ".join(errors))
        report.created.append(topic)
    return report
