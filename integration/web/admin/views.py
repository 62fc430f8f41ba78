"""Dashboard pages: overview, needs attention (with its actions), orders, one order."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from flask import abort, flash, g, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from core.status import Reason, Status
from integration.engine import actions
from integration.web.admin import blueprint, owner_actions, queries, stats
from integration.web.security import runtime

REASON_CHOICES = [reason.value for reason in Reason]
STATUS_CHOICES = [status.value for status in Status]


def _int_arg(name: str) -> int | None:
    raw = request.args.get(name, "").strip()
    return int(raw) if raw.isdigit() and len(raw) < 12 else None


def _date_arg(name: str) -> date | None:
    try:
        return date.fromisoformat(request.args.get(name, "").strip())
    except ValueError:
        return None


def _midnight(day: date | None, plus_days: int = 0) -> datetime | None:
    if day is None:
        return None
    return datetime.combine(day, time(), tzinfo=UTC) + timedelta(days=plus_days)


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
    rt = runtime()
    with rt.db.read() as db:
        items = queries.attention_items(db, _int_arg("store"))
    return render_template("admin/attention.html", items=items, section="attention",
                           attention=len(items))


@blueprint.get("/orders")
def orders() -> ResponseReturnValue:
    rt = runtime()
    status = request.args.get("status", "")
    reason = request.args.get("reason", "")
    filters = queries.OrderFilters(
        store_id=_int_arg("store"), supplier_id=_int_arg("supplier"),
        status=status if status in STATUS_CHOICES else None,
        reason=reason if reason in REASON_CHOICES else None,
        created_from=_midnight(_date_arg("from")), created_to=_midnight(_date_arg("to"), 1),
        q=request.args.get("q", "")[:320])
    with rt.db.read() as db:
        page = queries.list_orders(db, filters, _int_arg("after"), rt.settings.admin.page_size)
        store_names = queries.store_labels(db)
        supplier_names = queries.supplier_labels(db)
    args: dict[str, Any] = {key: value for key, value in request.args.items()
                            if key != "after" and value}
    next_url = url_for("admin.orders", **args, after=page.next_cursor) \
        if page.next_cursor else None
    return render_template("admin/orders.html", page=page, args=request.args, stores=store_names,
                           suppliers=supplier_names, statuses=STATUS_CHOICES,
                           reasons=REASON_CHOICES, next_url=next_url, section="orders",
                           first_url=url_for("admin.orders", **args)
                           if request.args.get("after") else None)


@blueprint.get("/orders/<int:order_id>")
def order(order_id: int) -> ResponseReturnValue:
    rt = runtime()
    with rt.db.read() as db:
        detail = queries.order_detail(db, order_id)
        if detail is None:
            abort(404)
        items = [item for item in queries.attention_items(db, detail.order.store_id)
                 if item.order_id == order_id]
    return render_template("admin/order.html", detail=detail, items=items, section="orders",
                           address_fields=actions.ADDRESS_FIELDS)


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
