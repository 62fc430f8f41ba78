"""The timed sweeps Shopify contributes to the scheduler; each only queues jobs or updates rows.
"""

from __future__ import annotations

from integration.jobs.timers import ScheduledJob
from integration.sync.shopify.fulfillment_service import poll_fulfillment_requests
from integration.sync.shopify.reconcile import queue_reconciliation
from integration.sync.shopify.tokens import forget_uninstalled_tokens, queue_token_renewals
from integration.sync.shopify.webhooks import check_webhooks

# Timed sweeps this module contributes to the scheduler (see integration/scheduling/scheduled.py).
SCHEDULED: list[ScheduledJob] = [
    ScheduledJob("shopify.tokens.renew", queue_token_renewals, minutes=5),
    ScheduledJob("shopify.tokens.forget_uninstalled", forget_uninstalled_tokens, minutes=1),
    ScheduledJob("shopify.webhooks.health", check_webhooks, minutes=60),
    ScheduledJob("shopify.reconcile", queue_reconciliation, minutes=30),
    ScheduledJob("shopify.fulfillment_requests", poll_fulfillment_requests, minutes=10),
]
