"""The worker module for tests: DropTrack's actor plus the test job kinds (run by dramatiq)."""

from __future__ import annotations

import integration.jobs.workers  # noqa: F401  (declares the actor on the configured broker)
import tests.helpers.dispatcher_process  # noqa: F401  (registers test.call_supplier)
