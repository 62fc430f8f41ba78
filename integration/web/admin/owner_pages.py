"""What the owner's pages show, for either dashboard: the standalone `/admin` (every store) and
the embedded admin inside Shopify (`store_id` set: that shop's data only). Each function reads
in one transaction and returns the template's context; the views only pick the scope, render
and answer. Templates are shared too (`templates/admin/*.html`, extending the `layout` the
serving dashboard names).

Scope rules for one store: orders, alerts and dead jobs of that store; the suppliers
`catalog.store_supplier_ids` allows; its mappings; its write-back and tracking-source settings
(not the suppliers' tracking sources, which apply to every store).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, time, timedelta
from typing import IO, Any, Protocol

from core import wording
from core.status import Reason, Status
from integration.accounts.audit import record_audit
from integration.accounts.supplier_kinds import KIND_MODULES, connectable_kinds, kind_of
from integration.engine import actions
from integration.engine.mappings import COLUMNS, ImportReport
from integration.kernel.runtime import Runtime
from integration.storage.models import Store, Supplier
from integration.sync.tracking import service as tracking_services
from integration.web.admin import catalog, connections, queries

REASON_CHOICES = [reason.value for reason in Reason]
STATUS_CHOICES = [status.value for status in Status]

Link = Callable[..., str]


def int_arg(args: Mapping[str, str], name: str) -> int | None:
    raw = args.get(name, "").strip()
    return int(raw) if raw.isdigit() and len(raw) < 12 else None


def _date_arg(args: Mapping[str, str], name: str) -> date | None:
    try:
        return date.fromisoformat(args.get(name, "").strip())
    except ValueError:
        return None


def _midnight(day: date | None, plus_days: int = 0) -> datetime | None:
    if day is None:
        return None
    return datetime.combine(day, time(), tzinfo=UTC) + timedelta(days=plus_days)


def attention(rt: Runtime, store_id: int | None) -> dict[str, Any]:
    with rt.db.read() as db:
        items = queries.attention_items(db, store_id)
    return {"items": items, "section": "attention", "attention": len(items)}


def orders(rt: Runtime, args: Mapping[str, str], link: Link,
           store_id: int | None = None) -> dict[str, Any]:
    """The orders table; `store_id` pins the store (the query's `store` is then ignored)."""
    status = args.get("status", "")
    reason = args.get("reason", "")
    filters = queries.OrderFilters(
        store_id=store_id if store_id is not None else int_arg(args, "store"),
        supplier_id=int_arg(args, "supplier"),
        status=status if status in STATUS_CHOICES else None,
        reason=reason if reason in REASON_CHOICES else None,
        created_from=_midnight(_date_arg(args, "from")),
        created_to=_midnight(_date_arg(args, "to"), 1), q=args.get("q", "")[:320])
    with rt.db.read() as db:
        page = queries.list_orders(db, filters, int_arg(args, "after"),
                                   rt.settings.admin.page_size)
        store_names = queries.store_labels(db)
        supplier_names = queries.supplier_labels(db)
        if store_id is not None:
            store_names = {key: value for key, value in store_names.items() if key == store_id}
            visible = catalog.store_supplier_ids(db, store_id)
            supplier_names = {key: value for key, value in supplier_names.items()
                              if key in visible}
    kept: dict[str, Any] = {key: value for key, value in args.items()
                            if key not in ("after", "id_token", "bounced", "notice", "store")
                            and value}
    if store_id is None and args.get("store"):
        kept["store"] = args["store"]
    return {"page": page, "args": args, "stores": store_names, "suppliers": supplier_names,
            "statuses": STATUS_CHOICES, "reasons": REASON_CHOICES, "section": "orders",
            "next_url": link("orders", **kept, after=page.next_cursor)
            if page.next_cursor else None,
            "first_url": link("orders", **kept) if args.get("after") else None}


def order(rt: Runtime, order_id: int, store_id: int | None = None) -> dict[str, Any] | None:
    """One order with its open items; None when it does not exist or is another store's."""
    with rt.db.read() as db:
        detail = queries.order_detail(db, order_id)
        if detail is None or (store_id is not None and detail.order.store_id != store_id):
            return None
        items = [item for item in queries.attention_items(db, detail.order.store_id)
                 if item.order_id == order_id]
    return {"detail": detail, "items": items, "section": "orders",
            "address_fields": actions.ADDRESS_FIELDS}


def suppliers(rt: Runtime, store_id: int | None = None) -> dict[str, Any]:
    with rt.db.read() as db:
        rows = catalog.supplier_rows(db, store_id)
    return {"suppliers": rows, "section": "suppliers", "kinds": connectable_kinds(),
            "kind_labels": {name: kind_of(name).label for name in KIND_MODULES},
            "manage_suppliers": store_id is None}


def mappings(rt: Runtime, chosen_store: str, q: str, store_id: int | None = None,
             report: ImportReport | None = None) -> dict[str, Any]:
    """`chosen_store` (the form's or query's `store`) picks one of the stores listed; with
    `store_id` there is only that one."""
    with rt.db.read() as db:
        labels = queries.store_labels(db)
        supplier_names = queries.supplier_labels(db)
        if store_id is not None:
            labels = {key: value for key, value in labels.items() if key == store_id}
            visible = catalog.store_supplier_ids(db, store_id)
            supplier_names = {key: value for key, value in supplier_names.items()
                              if key in visible}
        chosen = pick_store(labels, chosen_store)
        listing = catalog.mapping_rows(db, chosen, q) if chosen is not None else None
    problems = catalog.explain(report.errors) if report is not None else []
    return {"stores": labels, "store_id": chosen, "listing": listing,
            "suppliers": supplier_names, "report": report, "problems": problems, "q": q,
            "columns": COLUMNS, "section": "mappings"}


def pick_store(labels: Mapping[int, str], raw: str) -> int | None:
    raw = raw.strip()
    if raw.isdigit() and int(raw) in labels:
        return int(raw)
    return next(iter(labels), None)


def settings(rt: Runtime, store_id: int | None = None) -> dict[str, Any]:
    config = rt.settings
    with rt.db.read() as db:
        choices = connections.write_back_choices(db, store_id)
        sources = tracking_services.source_choices(db, config, store_id)
    thresholds: list[tuple[str, str, Any, str]] = [
        ("[alerts] no_tracking_days", "Flag a forwarded order with no tracking number after",
         config.alerts.no_tracking_days, "days"),
        ("[alerts] stuck_in_transit_days", "Flag a parcel past its route's usual transit "
         "time with no carrier scan for", config.alerts.stuck_in_transit_days, "days"),
        ("[alerts] email_grace_hours", "E-mail an order's alert only if still open after",
         config.alerts.email_grace_hours, "hours"),
        ("[alerts] owner_emails", "Owner e-mails", "one digest a day"
         if config.alerts.owner_emails == "digest" else "one per alert", ""),
        ("[alerts] sweep_interval_minutes", "Look for such orders every",
         config.alerts.sweep_interval_minutes, "minutes"),
        ("[admin] eta_min_days / eta_max_days", "Delivery window promised when nothing better "
         "is known", f"{config.admin.eta_min_days} to {config.admin.eta_max_days}", "days"),
        ("[email] owner_address", "Alerts are also e-mailed to",
         config.email.owner_address or "nobody (dashboard only)", ""),
        ("[email] smtp_host", "Customer messages are sent through",
         config.email.smtp_host or "nothing yet: messages wait until it is set", ""),
    ]
    options = [(source, tracking_services.SOURCE_LABELS[source],
                tracking_services.configured(config, source))
               for source in tracking_services.SOURCES]
    return {"choices": choices, "thresholds": thresholds, "sources": sources,
            "source_options": options, "source_labels": tracking_services.SOURCE_LABELS,
            "default_service": tracking_services.SOURCE_LABELS.get(
                config.tracking.service, config.tracking.service),
            "section": "settings"}


def save_tracking_source(rt: Runtime, kind: str, holder_id: int, chosen: str,
                         actor: str) -> str:
    """Which source tracks this store's or supplier's parcels ("default": the configured
    service for spreadsheet suppliers, the supplier's own events otherwise). Returns the
    confirmation; ValueError says what is wrong."""
    source = None if chosen == "default" else chosen
    if kind not in ("store", "supplier"):
        raise ValueError("only a store or a supplier has a tracking source")
    tracking_services.check_source(rt.settings, source)
    with rt.db.write() as db:
        holder: Store | Supplier | None = (
            db.get(Store, holder_id) if kind == "store" else db.get(Supplier, holder_id))
        if holder is None:
            raise ValueError(f"that {kind} does not exist any more")
        tracking_services.set_source(db, holder, source)
        name = holder.name or (holder.domain if isinstance(holder, Store) else "")
        record_audit(db, rt.clock.now(), actor, "tracking.source_changed",
                     store_id=holder_id if kind == "store" else None,
                     subject=f"{kind}:{holder_id}", details={"source": chosen})
    return (f"Saved for {name}: new parcels are tracked by "
            f"{tracking_services.SOURCE_LABELS.get(chosen, 'the default')}.")


# --- the mappings and settings forms ------------------------------------------------------------

MAX_CSV_BYTES = 5 * 1024 * 1024


class FormProblem(Exception):
    """Bad input: the page shows `message` with status `code`; `form` is what was typed."""

    def __init__(self, message: str, code: int = 400,
                 form: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.form = form or {}


class Upload(Protocol):
    filename: str | None
    stream: IO[bytes]


def import_mapping_file(rt: Runtime, store_id: int | None, upload: Upload | None, actor: str,
                        *, own_suppliers: bool = False) -> ImportReport:
    """A mappings CSV (UTF-8, at most 5 MB) into one store; FormProblem for a file that cannot
    be read. Bad rows are in the report; the others are saved."""
    if upload is None or not upload.filename:
        raise FormProblem(wording.MAPPINGS_CHOOSE_FILE)
    raw = upload.stream.read(MAX_CSV_BYTES + 1)
    if len(raw) > MAX_CSV_BYTES:
        raise FormProblem(wording.MAPPINGS_TOO_LARGE, 413)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise FormProblem(wording.MAPPINGS_NOT_UTF8) from None
    if store_id is None:
        raise FormProblem(wording.MAPPINGS_NO_STORE)
    try:
        with rt.db.write() as db:
            return catalog.import_mappings(db, store_id, text, rt.clock.now(), actor,
                                           own_suppliers=own_suppliers)
    except actions.ActionError as exc:
        raise FormProblem(str(exc)) from None


def save_one_mapping(rt: Runtime, store_id: int | None, form: Mapping[str, str], actor: str,
                     *, own_suppliers: bool = False) -> str:
    """The one-mapping form; its confirmation, or FormProblem with what was typed."""
    values = {column: str(form.get(column, ""))[:255] for column in COLUMNS}
    if store_id is None:
        raise FormProblem(wording.MAPPINGS_NO_STORE, form=values)
    with rt.db.write() as db:
        report = catalog.save_mapping(db, store_id, values, rt.clock.now(), actor,
                                      own_suppliers=own_suppliers)
    if report.errors:
        problem = catalog.explain(report.errors)[0]
        raise FormProblem(wording.MAPPING_NOT_SAVED.format(problem=problem.problem,
                                                           fix=problem.fix), form=values)
    return wording.MAPPING_SAVED.format(sku=values["sku"].strip())


def delete_one_mapping(rt: Runtime, mapping_id: int, actor: str,
                       store_id: int | None = None) -> str:
    """Its confirmation; ActionError when it does not exist (or is another store's)."""
    with rt.db.write() as db:
        sku = catalog.delete_mapping(db, mapping_id, rt.clock.now(), actor, store_id=store_id)
    return wording.MAPPING_DELETED.format(sku=sku)


def save_write_back(rt: Runtime, store_id: int, form: Mapping[str, str], actor: str) -> str:
    """One store's write-back choices; the confirmation, or ActionError saying what is wrong."""
    values = {key: str(form.get(key, "")) for key in (
        "complete_on", "status_updates", "notify_customer")}
    try:
        with rt.db.write() as db:
            name = connections.save_write_back(db, store_id, values, rt.clock.now(), actor)
    except actions.ActionError as exc:
        raise actions.ActionError(wording.SETTINGS_NOT_CHANGED.format(problem=exc)) from None
    return wording.WRITE_BACK_SAVED.format(name=name)
