"""Dashboard pages: overview, needs attention (with its actions), orders, one order."""

from __future__ import annotations

from collections.abc import Callable

from flask import abort, flash, g, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from integration.engine import actions
from integration.web.admin import blueprint, owner_actions, owner_pages, queries, stats
from integration.web.security import runtime


@blueprint.get("/")
def overview() -> ResponseReturnValue:
    rt = runtime()
    with rt.db.read() as db:
        numbers = stats.overview(db, rt.clock.now(), rt.settings.admin.eta_max_days)
        attention = queries.attention_count(db)
        budgets = queries.tracking_budgets(db)
    charts = [stats.BarChart.of("Orders by status", numbers.by_status),
              stats.BarChart.of("Median days to delivery, by supplier",
                                numbers.days_by_supplier),
              stats.BarChart.of("Median days to delivery, by destination",
                                numbers.days_by_destination)]
    return render_template("admin/overview.html", numbers=numbers, attention=attention,
                           charts=charts, budgets=budgets, section="overview")


@blueprint.get("/attention")
def attention() -> ResponseReturnValue:
    return render_template("admin/attention.html", **owner_pages.attention(
        runtime(), owner_pages.int_arg(request.args, "store")))


@blueprint.get("/orders")
def orders() -> ResponseReturnValue:
    return render_template("admin/orders.html", **owner_pages.orders(
        runtime(), request.args, lambda endpoint, **values: url_for(f"admin.{endpoint}",
                                                                     **values)))


@blueprint.get("/orders/<int:order_id>")
def order(order_id: int) -> ResponseReturnValue:
    context = owner_pages.order(runtime(), order_id)
    if context is None:
        abort(404)
    return render_template("admin/order.html", **context)


# --- actions (the table in owner_actions.py, shared with the embedded admin) ----------------

def _back(default: str) -> ResponseReturnValue:
    target = request.form.get("back", "")
    return redirect(target if target.startswith("/admin") and not target.startswith("//")
                    else default)


def _action_view(action: owner_actions.OwnerAction) -> Callable[..., ResponseReturnValue]:
    def view(subject_id: int) -> ResponseReturnValue:
        rt = runtime()
        try:
            with rt.db.write() as db:
                result = action.run(db, subject_id, request.form, rt.clock.now(), g.user.actor)
        except actions.ActionError as exc:
            flash(str(exc), "error")
        else:
            flash(action.message(result, rt), "ok")
        return _back(url_for("admin.attention"))
    view.__name__ = action.name
    return view


for _action in owner_actions.ACTIONS:
    blueprint.add_url_rule(_action.rule, _action.name, _action_view(_action), methods=["POST"])
