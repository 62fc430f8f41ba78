"""The timed sweeps WooCommerce contributes to the scheduler; each only queues one job per store.
"""

from __future__ import annotations

from integration.jobs.timers import ScheduledJob
from integration.sync.woocommerce.reconcile import queue_reconciliation
from integration.sync.woocommerce.statuses import queue_status_flush
from integration.sync.woocommerce.webhooks import queue_webhook_health

# Timed sweeps this module contributes to the scheduler (see
# integration/scheduling/scheduled.py). The intervals here are how often the scheduler looks;
# each store's jobs follow [woocommerce].
SCHEDULED: list[ScheduledJob] = [
    ScheduledJob("woocommerce_reconcile", queue_reconciliation, 1),
    ScheduledJob("woocommerce_webhook_health", queue_webhook_health, 1),
    ScheduledJob("woocommerce_status_flush", queue_status_flush, 1),
]
