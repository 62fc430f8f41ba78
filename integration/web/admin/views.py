"""Dashboard pages: overview, needs attention (with its actions), orders, one order."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from flask import abort, flash, g, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy.orm import Session

from core.status import Reason, Status
from integration.engine import actions
from integration.web.admin import blueprint, queries, stats
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


# --- actions ----------------------------------------------------------------------------------

def _back(default: str) -> ResponseReturnValue:
    target = request.form.get("back", "")
    return redirect(target if target.startswith("/admin") and not target.startswith("//")
                    else default)


Action = Callable[[Session, datetime, str], object]


def _run(do: Action, success: str) -> ResponseReturnValue:
    rt = runtime()
    try:
        with rt.db.write() as db:
            result = do(db, rt.clock.now(), g.user.actor)
    except actions.ActionError as exc:
        flash(str(exc), "error")
    else:
        flash(success.format(result=result), "ok")
    return _back(url_for("admin.attention"))


@blueprint.post("/orders/<int:order_id>/forward")
def forward_again(order_id: int) -> ResponseReturnValue:
    return _run(lambda db, now, actor: actions.forward_again(db, order_id, now, actor),
                "Sent to the supplier again ({result} supplier order(s) queued). The alert "
                "closes once the supplier accepts.")


@blueprint.post("/orders/<int:order_id>/recheck")
def recheck(order_id: int) -> ResponseReturnValue:
    return _run(lambda db, now, actor: actions.recheck(db, order_id, now, actor),
                "Checked again: {result}.")


@blueprint.post("/orders/<int:order_id>/address")
def correct_address(order_id: int) -> ResponseReturnValue:
    fix = actions.AddressFix(**{name: request.form.get(name, "")[:255]
                                for name in actions.ADDRESS_FIELDS})
    return _run(lambda db, now, actor: actions.correct_address(db, order_id, fix, now, actor),
                "Address saved; the order is on its way again ({result}).")


@blueprint.post("/alerts/<int:alert_id>/dismiss")
def dismiss(alert_id: int) -> ResponseReturnValue:
    note = request.form.get("note", "")
    return _run(lambda db, now, actor: actions.dismiss_alert(db, alert_id, note, now, actor),
                "Marked as resolved.")


@blueprint.post("/jobs/<int:job_id>/replay")
def replay(job_id: int) -> ResponseReturnValue:
    return _run(lambda db, now, actor: actions.replay_job(db, job_id, now, actor),
                "Queued to run again.")


@blueprint.post("/shipments/<int:shipment_id>/tracking")
def correct_tracking(shipment_id: int) -> ResponseReturnValue:
    number = request.form.get("tracking_number", "")
    carrier = request.form.get("carrier", "")[:100]
    return _run(lambda db, now, actor: actions.correct_tracking(
        db, shipment_id, number, carrier, now, actor).tracking_number,
        "Tracking number changed to {result}; the store is being updated.")


@blueprint.post("/orders/<int:order_id>/backup")
def switch_to_backup(order_id: int) -> ResponseReturnValue:
    return _run(lambda db, now, actor: actions.switch_to_backup(db, order_id, now, actor),
                "Switched to the backup supplier ({result}); the order is being sent. The "
                "alert closes once the supplier accepts.")


@blueprint.post("/alerts/<int:alert_id>/resend")
def resend_message(alert_id: int) -> ResponseReturnValue:
    rt = runtime()
    waits = "" if rt.settings.email.smtp_host else (
        " E-mail is not set up yet ([email] smtp_host in config.toml): the message waits "
        "until it is.")
    return _run(lambda db, now, actor: actions.resend_message(db, alert_id, now, actor),
                "Queued {result} to the customer again." + waits)


@blueprint.post("/alerts/<int:alert_id>/outcome")
def note_outcome(alert_id: int) -> ResponseReturnValue:
    outcome = request.form.get("outcome", "")
    note = request.form.get("note", "")
    return _run(lambda db, now, actor: actions.note_outcome(db, alert_id, outcome, note, now,
                                                            actor),
                "Noted and marked as resolved.")
