"""Dashboard pages for setting DropTrack up: suppliers, SKU mappings (CSV in and out), store
connections and settings. The work itself is in catalog.py and connections.py (no Flask)."""

from __future__ import annotations

from flask import Response, flash, g, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from core import wording
from integration.accounts import stores
from integration.accounts.supplier_kinds import connectable_kinds, kind_of
from integration.accounts.suppliers import SupplierError, add_rest_supplier
from integration.engine.actions import ActionError
from integration.engine.mappings import ImportReport, export_csv
from integration.storage.models import Supplier
from integration.sync.suppliers.csv_exchange import CsvSupplierError, add_csv_supplier
from integration.web.admin import blueprint, catalog, connections, owner_pages, queries
from integration.web.security import allow_form_redirects_to_stores, runtime
from integration.web.shopify_app import signed_install_path

# --- suppliers --------------------------------------------------------------------------------


def _suppliers_page(error: str | None = None, form: dict[str, str] | None = None,
                    which: str = "", code: int = 200) -> ResponseReturnValue:
    return render_template("admin/suppliers.html", **owner_pages.suppliers(runtime()),
                           error=error, form=form or {}, which=which), code


@blueprint.get("/suppliers")
def suppliers() -> ResponseReturnValue:
    return _suppliers_page()


@blueprint.post("/suppliers/rest")
def add_rest() -> ResponseReturnValue:
    rt = runtime()
    name = request.form.get("name", "")[:255]
    base_url = request.form.get("base_url", "")[:1000]
    try:
        add_rest_supplier(rt, name, base_url, request.form.get("api_key", "")[:1000],
                          request.form.get("webhook_secret", "")[:1000] or None)
    except SupplierError as exc:
        return _suppliers_page(f"The supplier was not added: {exc}. Correct it and send the "
                               "form again.", {"name": name, "base_url": base_url}, "rest", 400)
    flash(f"Supplier {name.strip()} added. Map SKUs to it under SKU mappings.", "ok")
    return redirect(url_for("admin.suppliers"))


@blueprint.post("/suppliers/csv")
def add_csv() -> ResponseReturnValue:
    rt = runtime()
    name = request.form.get("name", "")[:255]
    outbox_dir = request.form.get("outbox_dir", "")[:1000]
    inbox_dir = request.form.get("inbox_dir", "")[:1000]
    form = {"name": name, "outbox_dir": outbox_dir, "inbox_dir": inbox_dir}
    if not name.strip() or not outbox_dir.strip() or not inbox_dir.strip():
        return _suppliers_page("The supplier was not added: enter its name and both folders.",
                               form, "csv", 400)
    try:
        add_csv_supplier(rt, name, outbox_dir, inbox_dir)
    except CsvSupplierError as exc:
        return _suppliers_page(f"The supplier was not added: {exc}. Correct it and send the "
                               "form again.", form, "csv", 400)
    flash(f"Spreadsheet supplier {name.strip()} added. Its order files appear in "
          f"{outbox_dir.strip()}; drop its tracking files in {inbox_dir.strip()}.", "ok")
    return redirect(url_for("admin.suppliers"))


@blueprint.post("/suppliers/connect/<kind_name>")
def connect_supplier(kind_name: str) -> ResponseReturnValue:
    """The connect form of a supplier kind (CJdropshipping, ...), from the kind registry."""
    rt = runtime()
    kind = next((k for k in connectable_kinds() if k.name == kind_name), None)
    if kind is None or kind.add is None:
        return _suppliers_page("That kind of supplier cannot be connected here.", code=404)
    name = request.form.get("name", "")[:255]
    values = {f.name: request.form.get(f.name, "")[:1000] for f in kind.form}
    try:
        kind.add(rt, name, values)
    except SupplierError as exc:
        shown = {f.name: values[f.name] for f in kind.form if not f.secret}
        return _suppliers_page(f"The supplier was not added: {exc}. Correct it and send the "
                               "form again.", {"name": name, **shown}, kind.name, 400)
    flash(f"{kind.label} supplier {name.strip()} connected. Use its Test button, then link "
          "your SKUs to its products.", "ok")
    return redirect(url_for("admin.suppliers"))


def _supplier_row(supplier_id: int) -> tuple[catalog.SupplierRow | None, Supplier | None]:
    rt = runtime()
    with rt.db.read() as db:
        row = next((s for s in catalog.supplier_rows(db) if s.id == supplier_id), None)
        record = db.get(Supplier, supplier_id)
        if record is not None:
            db.expunge(record)
    return row, record


@blueprint.get("/suppliers/<int:supplier_id>")
def supplier(supplier_id: int) -> ResponseReturnValue:
    rt = runtime()
    row, record = _supplier_row(supplier_id)
    if row is None or record is None:
        flash("That supplier does not exist any more.", "error")
        return redirect(url_for("admin.suppliers"))
    kind = kind_of(record.kind)
    state = kind.account_state(rt, record) if kind.account_state else {}
    with rt.db.read() as db:
        stores_by_id = queries.store_labels(db)
    return render_template("admin/supplier.html", supplier=row, settings=dict(record.settings),
                           kind=kind, account=state, stores=stores_by_id, variants=None,
                           error=None, section="suppliers")


@blueprint.post("/suppliers/<int:supplier_id>/test")
def test_supplier(supplier_id: int) -> ResponseReturnValue:
    rt = runtime()
    _, record = _supplier_row(supplier_id)
    if record is None or kind_of(record.kind).test is None:
        flash("That supplier has no test.", "error")
        return redirect(url_for("admin.suppliers"))
    test = kind_of(record.kind).test
    assert test is not None
    try:
        flash(test(rt, record), "ok")
    except SupplierError as exc:
        flash(f"The test failed: {exc}", "error")
    return redirect(url_for("admin.supplier", supplier_id=supplier_id))


@blueprint.get("/suppliers/<int:supplier_id>/link")
def link_variant(supplier_id: int) -> ResponseReturnValue:
    """Link a store SKU to one of the supplier's variants: search by product id or URL, then
    pick the variant (each pick posts to the mapping form)."""
    rt = runtime()
    row, record = _supplier_row(supplier_id)
    if row is None or record is None or kind_of(record.kind).find_variants is None:
        flash("That supplier's products cannot be searched.", "error")
        return redirect(url_for("admin.suppliers"))
    kind = kind_of(record.kind)
    assert kind.find_variants is not None
    product = request.args.get("product", "")[:1000]
    sku = request.args.get("sku", "")[:255]
    with rt.db.read() as db:
        stores_by_id = queries.store_labels(db)
    error, variants = None, None
    try:
        variants = kind.find_variants(rt, record, product)
    except SupplierError as exc:
        error = str(exc)
    return render_template("admin/supplier.html", supplier=row, settings=dict(record.settings),
                           kind=kind, account={}, stores=stores_by_id, variants=variants,
                           sku=sku, product=product, store=request.args.get("store", ""),
                           error=error, section="suppliers"), 400 if error else 200


@blueprint.post("/suppliers/<int:supplier_id>")
def edit_supplier(supplier_id: int) -> ResponseReturnValue:
    rt = runtime()
    edit = catalog.SupplierEdit(**{name: request.form.get(name, "")[:1000] for name in (
        "name", "base_url", "api_key", "webhook_secret", "outbox_dir", "inbox_dir")})
    try:
        with rt.db.write() as db:
            catalog.edit_supplier(db, rt.secrets, supplier_id, edit, rt.clock.now(),
                                  g.user.actor,
                                  allow_loopback_http=rt.settings.loopback_http_allowed,
                                  csv_root=rt.settings.security.csv_root)
    except ActionError as exc:
        flash(f"Nothing was changed: {exc}", "error")
        return redirect(url_for("admin.supplier", supplier_id=supplier_id))
    flash(f"Supplier {edit.name.strip()} saved.", "ok")
    return redirect(url_for("admin.suppliers"))


@blueprint.post("/suppliers/<int:supplier_id>/active")
def supplier_active(supplier_id: int) -> ResponseReturnValue:
    rt = runtime()
    active = request.form.get("active") == "1"
    try:
        with rt.db.write() as db:
            row = catalog.set_active(db, supplier_id, active, rt.clock.now(), g.user.actor)
            name = row.name
    except ActionError as exc:
        flash(str(exc), "error")
    else:
        flash(f"{name} is active again: new orders go to it." if active else
              f"{name} is switched off: new orders go to each SKU's backup supplier; SKUs "
              "without one wait under Needs attention.", "ok")
    return redirect(url_for("admin.suppliers"))


# --- SKU mappings -----------------------------------------------------------------------------


def _store_arg(labels: dict[int, str]) -> int | None:
    return owner_pages.pick_store(labels, request.form.get("store") or
                                  request.args.get("store") or "")


def _mappings_page(report: ImportReport | None = None, form: dict[str, str] | None = None,
                   error: str | None = None, code: int = 200) -> ResponseReturnValue:
    context = owner_pages.mappings(runtime(), request.form.get("store") or
                                   request.args.get("store") or "",
                                   request.args.get("q", "")[:255], report=report)
    return render_template("admin/mappings.html", **context, form=form or {},
                           error=error), code


@blueprint.get("/mappings")
def mappings() -> ResponseReturnValue:
    return _mappings_page()


@blueprint.get("/mappings/export.csv")
def export_mappings() -> ResponseReturnValue:
    rt = runtime()
    with rt.db.read() as db:
        labels = queries.store_labels(db)
        store_id = _store_arg(labels)
        if store_id is None:
            flash("Connect a store first: mappings belong to a store.", "error")
            return redirect(url_for("admin.mappings"))
        text = export_csv(db, store_id)
    return Response(text, mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="sku-mappings-store-{store_id}.csv"'})


@blueprint.post("/mappings/import")
def import_mappings() -> ResponseReturnValue:
    rt = runtime()
    with rt.db.read() as db:
        store_id = _store_arg(queries.store_labels(db))
    try:
        report = owner_pages.import_mapping_file(rt, store_id, request.files.get("file"),
                                                 g.user.actor)
    except owner_pages.FormProblem as exc:
        return _mappings_page(error=str(exc), code=exc.code)
    return _mappings_page(report)


@blueprint.post("/mappings")
def save_mapping() -> ResponseReturnValue:
    rt = runtime()
    with rt.db.read() as db:
        store_id = _store_arg(queries.store_labels(db))
    try:
        flash(owner_pages.save_one_mapping(rt, store_id, request.form, g.user.actor), "ok")
    except owner_pages.FormProblem as exc:
        return _mappings_page(form=exc.form, error=str(exc), code=exc.code)
    return redirect(url_for("admin.mappings", store=store_id))


@blueprint.post("/mappings/<int:mapping_id>/delete")
def delete_mapping(mapping_id: int) -> ResponseReturnValue:
    try:
        flash(owner_pages.delete_one_mapping(runtime(), mapping_id, g.user.actor), "ok")
    except ActionError as exc:
        flash(str(exc), "error")
    return redirect(url_for("admin.mappings", store=request.form.get("store", "")))


# --- stores -----------------------------------------------------------------------------------


def _stores_page(error: str | None = None, shop: str = "", code: int = 200,
                 app_form: dict[str, str] | None = None) -> ResponseReturnValue:
    rt = runtime()
    with rt.db.read() as db:
        rows = connections.store_health(db, rt.clock.now())
    shopify_ready = bool(rt.settings.shopify.client_id and rt.settings.shopify.client_secret)
    allow_form_redirects_to_stores()
    return render_template("admin/stores.html", stores=rows, error=error, shop=shop,
                           shopify_ready=shopify_ready, section="stores",
                           app_form=app_form or {}), code


@blueprint.get("/stores")
def stores_page() -> ResponseReturnValue:
    return _stores_page()


@blueprint.post("/stores/shopify")
def connect_shopify() -> ResponseReturnValue:
    shop = request.form.get("shop", "").strip()[:255]
    if shop and "." not in shop:
        shop = f"{shop}.myshopify.com"
    try:
        target = signed_install_path(runtime(), shop)
    except stores.StoreError as exc:
        return _stores_page(f"{exc}. Enter the store's myshopify.com address (Settings → "
                            "Domains in the Shopify admin shows it).", shop, 400)
    except ValueError as exc:
        return _stores_page(str(exc), shop, 503)
    return redirect(target)


@blueprint.post("/stores/shopify/app")
def connect_shopify_app() -> ResponseReturnValue:
    """A Dev Dashboard app installed on the owner's store: shop + client id + client secret
    (the CLI's `stores add-shopify --client-id --client-secret`, same code path). Also how a
    disconnected store is connected again. The secret is never shown back."""
    from integration.sync.shopify.install import connect_custom_app

    shop = request.form.get("shop", "").strip()[:255]
    if shop and "." not in shop:
        shop = f"{shop}.myshopify.com"
    client_id = request.form.get("client_id", "").strip()[:255]
    secret = request.form.get("client_secret", "").strip()[:1000]
    try:
        connect_custom_app(runtime(), shop, client_id, secret, actor=g.user.actor)
    except stores.StoreError as exc:
        return _stores_page(wording.shopify_app_not_connected(str(exc)), code=400,
                            app_form={"shop": shop, "client_id": client_id})
    flash(wording.shopify_app_connected(stores.normalize_shop_domain(shop)), "ok")
    return redirect(url_for("admin.stores_page"))


# --- settings ---------------------------------------------------------------------------------


@blueprint.get("/settings")
def settings_page() -> ResponseReturnValue:
    return render_template("admin/settings.html", **owner_pages.settings(runtime()))


@blueprint.post("/settings/tracking/<kind>/<int:holder_id>")
def save_tracking_source(kind: str, holder_id: int) -> ResponseReturnValue:
    try:
        done = owner_pages.save_tracking_source(runtime(), kind, holder_id,
                                                request.form.get("tracking_source", ""),
                                                g.user.actor)
    except ValueError as exc:
        flash(wording.SETTINGS_NOT_CHANGED.format(problem=exc) + ".", "error")
    else:
        flash(done, "ok")
    return redirect(url_for("admin.settings_page"))


@blueprint.post("/settings/stores/<int:store_id>")
def save_store_settings(store_id: int) -> ResponseReturnValue:
    try:
        flash(owner_pages.save_write_back(runtime(), store_id, request.form, g.user.actor),
              "ok")
    except ActionError as exc:
        flash(str(exc), "error")
    return redirect(url_for("admin.settings_page"))
