"""The store owner's dashboard (/admin): sign-in, overview, needs attention, orders."""

from __future__ import annotations

from flask import Blueprint

from integration.web.pages import register_html_errors
from integration.web.security import protect

blueprint = Blueprint("admin", __name__, url_prefix="/admin", static_folder="../static",
                      static_url_path="/assets")
protect(blueprint)
register_html_errors(blueprint, "admin/error.html")


@blueprint.context_processor
def _choices() -> dict[str, object]:
    from integration.engine.actions import OUTCOMES

    return {"outcomes": OUTCOMES}


# Imported for their routes, after `blueprint` exists.
import integration.web.admin.auth  # noqa: E402
import integration.web.admin.setup  # noqa: E402
import integration.web.admin.supplier_oauth  # noqa: E402
import integration.web.admin.views  # noqa: E402, F401
