"""The sandboxes `droptrack sandbox NAME` can start: name -> module with `build(clock, ...)`."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from flask import Flask

from core.clock import Clock

SandboxFactory = Callable[..., Flask]

SANDBOXES: dict[str, str] = {
    "shopify": "sandboxes.shopify",
    "woocommerce": "sandboxes.woocommerce",
    "supplier": "sandboxes.supplier",
    "17track": "sandboxes.seventeen_track",
    "aftership": "sandboxes.aftership",
    "dhl": "sandboxes.dhl",
    "aliexpress": "sandboxes.aliexpress",
    "cj": "sandboxes.cj",
}


def factory(name: str) -> SandboxFactory:
    try:
        module = importlib.import_module(SANDBOXES[name])
    except KeyError:
        raise ValueError(f"unknown sandbox {name!r}: one of {', '.join(SANDBOXES)}") from None
    build: SandboxFactory = module.build
    return build


def build(name: str, clock: Clock, **options: Any) -> Flask:
    return factory(name)(clock, **options)
