"""A protocol-faithful CJdropshipping (Open API 2.0) for the demo and the tests.

``build(clock)`` returns the Flask app; its state (accounts, tokens, catalogue, orders,
faults; ``pay``/``ship``/``cancel``/``set_stock``/``revoke_tokens``) is
``app.extensions["sandbox"]``, a :class:`CJState`. Modules: ``app`` (routes, envelope, auth,
limits), ``state``.
"""

from __future__ import annotations

from typing import Any

from flask import Flask

from core.clock import Clock
from sandboxes.cj.app import create_cj_app
from sandboxes.cj.state import DEFAULT_API_KEY, CJState

__all__ = ["DEFAULT_API_KEY", "CJState", "build"]


def build(clock: Clock, *, api_keys: tuple[str, ...] = (DEFAULT_API_KEY,), seed: int = 0,
          qps_enforced: bool = True, public_url: str = "",
          **options: Any) -> Flask:
    if options:
        raise TypeError(f"unknown CJ sandbox options: {', '.join(sorted(options))}")
    return create_cj_app(CJState(clock, api_keys=api_keys, seed=seed,
                                 qps_enforced=qps_enforced))
