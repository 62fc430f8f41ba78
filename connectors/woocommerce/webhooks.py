"""DropTrack's webhooks in a WooCommerce store: create the missing, re-enable the disabled.

WooCommerce never retries a delivery and disables a webhook after repeated failures, so the
health sweep calls `ensure_webhooks` and treats every re-enabled webhook as a gap for
reconciliation to cover.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from connectors.parsing import text, timestamp
from connectors.woocommerce.client import WooCommerceClient

ORDER_TOPICS = ("order.created", "order.updated")


@dataclass(frozen=True)
class RemoteWebhook:
    id: str
    topic: str
    status: str
    delivery_url: str
    modified_at: datetime | None


@dataclass
class WebhookReport:
    created: list[str] = field(default_factory=list)  # topics
    reenabled: list[RemoteWebhook] = field(default_factory=list)
    healthy: list[RemoteWebhook] = field(default_factory=list)
    paused: list[RemoteWebhook] = field(default_factory=list)  # the merchant's choice: kept


def parse_webhook(data: Any) -> RemoteWebhook | None:
    if not isinstance(data, dict) or data.get("id") is None:
        return None
    return RemoteWebhook(id=str(data["id"]), topic=text(data.get("topic")),
                         status=text(data.get("status")),
                         delivery_url=text(data.get("delivery_url")),
                         modified_at=timestamp(data.get("date_modified_gmt")))


def list_webhooks(client: WooCommerceClient) -> list[RemoteWebhook]:
    found = []
    for page in client.pages("webhooks", {"status": "all"}, what="listing webhooks"):
        found += [hook for entry in page if (hook := parse_webhook(entry)) is not None]
    return found


def ensure_webhooks(client: WooCommerceClient, delivery_url: str, secret: str, name: str,
                    topics: tuple[str, ...] = ORDER_TOPICS) -> WebhookReport:
    """One active webhook per topic delivering to `delivery_url`, signed with `secret`."""
    report = WebhookReport()
    ours = [hook for hook in list_webhooks(client) if hook.delivery_url == delivery_url]
    for topic in topics:
        matching = [hook for hook in ours if hook.topic == topic]
        active = [hook for hook in matching if hook.status == "active"]
        disabled = [hook for hook in matching if hook.status == "disabled"]
        if active:
            report.healthy.append(active[0])
        elif disabled:
            hook = disabled[0]
            # The secret goes along: it may have been rotated while the webhook was off.
            client.put(f"webhooks/{hook.id}", {"status": "active", "secret": secret},
                       what=f"re-enabling the {topic} webhook")
            report.reenabled.append(hook)
        elif matching:
            report.paused.append(matching[0])
        else:
            client.post("webhooks", {"name": f"{name} {topic}", "topic": topic,
                                     "delivery_url": delivery_url, "secret": secret,
                                     "status": "active"},
                        what=f"creating the {topic} webhook")
            report.created.append(topic)
    return report
