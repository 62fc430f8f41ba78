"""The store owner's dashboard (/admin): sign-in, overview, needs attention, orders."""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from integration.web.pages import register_html_errors
from integration.web.security import protect

blueprint = Blueprint("admin", __name__, url_prefix="/admin", static_folder="../static",
                      static_url_path="/assets")
protect(blueprint)
register_html_errors(blueprint, "admin/error.html")


@blueprint.app_template_filter("owner_label")
def _owner_label(status: str, reason: str | None = None) -> str:
    """A status (and reason) in the owner's words (core/wording.py), for every admin page."""
    from core.wording import owner_label

    return owner_label(status, reason)


@blueprint.app_template_filter("owner_reason")
def _owner_reason(reason: str) -> str:
    from core.status import Reason
    from core.wording import OWNER_REASONS

    try:
        return OWNER_REASONS[Reason.parse(reason)]
    except ValueError:
        return reason.replace("_", " ")


@blueprint.app_template_filter("supplier_order_label")
def _supplier_order_label(status: str) -> str:
    from core.wording import supplier_order_label

    return supplier_order_label(status)


@blueprint.context_processor
def _choices() -> dict[str, object]:
    """What the owner's page templates shared with the embedded admin (attention, order,
    orders, suppliers, mappings, settings) ask of the dashboard serving them: its layout, its
    links, and how its forms authenticate (here: the session's CSRF token)."""
    from flask import url_for
    from markupsafe import Markup

    from integration.engine.actions import OUTCOMES
    from integration.web.security import CSRF_FIELD, csrf_token

    def page_url(endpoint: str, **values: Any) -> str:
        return url_for(f"admin.{endpoint}", **values)

    def form_auth() -> Markup:
        return Markup('<input type="hidden" name="{}" value="{}">').format(CSRF_FIELD,
                                                                          csrf_token())

    return {"outcomes": OUTCOMES, "page_url": page_url, "form_auth": form_auth,
            "layout": "admin/layout.html", "embedded": False, "nav_fields": lambda: Markup("")}


# Imported for their routes, after `blueprint` exists.
import integration.web.admin.auth  # noqa: E402
import integration.web.admin.setup  # noqa: E402
import integration.web.admin.supplier_oauth  # noqa: E402
import integration.web.admin.views  # noqa: E402, F401
