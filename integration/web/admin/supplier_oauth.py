"""Connecting a supplier account that the owner authorizes at the supplier (the OAuth code
flow: AliExpress). `POST /admin/suppliers/<id>/authorize` (signed in, CSRF) sends the owner
to the supplier's consent page with a fresh random `state` kept in the session; the
supplier redirects back to `GET /admin/suppliers/authorized?code=...&state=...`, which is
taken only with the state this session started (compared in constant time, used once). The
code is exchanged for tokens by the kind (`SupplierKind.authorized`), stored encrypted."""

from __future__ import annotations

import hmac
import secrets

from flask import flash, redirect, request, session, url_for
from flask.typing import ResponseReturnValue

from integration.accounts.supplier_kinds import SupplierError, kind_of
from integration.storage.models import Supplier
from integration.web.admin import blueprint
from integration.web.security import allow_form_redirects_to_stores, runtime

PENDING = "supplier_oauth"


def _supplier(supplier_id: int) -> Supplier | None:
    with runtime().db.read() as db:
        record = db.get(Supplier, supplier_id)
        if record is not None:
            db.expunge(record)
        return record


def callback_url() -> str:
    base = runtime().settings.app.public_url.rstrip("/")
    path = url_for("admin.supplier_authorized")
    return f"{base}{path}" if base else url_for("admin.supplier_authorized", _external=True)


@blueprint.post("/suppliers/<int:supplier_id>/authorize")
def authorize_supplier(supplier_id: int) -> ResponseReturnValue:
    record = _supplier(supplier_id)
    kind = kind_of(record.kind) if record is not None else None
    if record is None or kind is None or kind.authorize is None:
        flash("That supplier is not connected by signing in at the supplier.", "error")
        return redirect(url_for("admin.suppliers"))
    state = secrets.token_urlsafe(24)
    session[PENDING] = {"state": state, "supplier_id": supplier_id}
    allow_form_redirects_to_stores()  # the form's redirect ends on the supplier's site
    try:
        return redirect(kind.authorize(runtime(), record, callback_url(), state))
    except SupplierError as exc:
        flash(f"Cannot connect {record.name}: {exc}", "error")
        return redirect(url_for("admin.supplier", supplier_id=supplier_id))


@blueprint.get("/suppliers/authorized")
def supplier_authorized() -> ResponseReturnValue:
    pending = session.pop(PENDING, None)
    state, code = request.args.get("state", ""), request.args.get("code", "")
    if not isinstance(pending, dict) or not hmac.compare_digest(
            str(pending.get("state", "")).encode(), state.encode()):
        flash("That authorization was not started here (or was already used). Start it again "
              "with the Connect button on the supplier's page.", "error")
        return redirect(url_for("admin.suppliers"))
    supplier_id = int(pending.get("supplier_id", 0))
    record = _supplier(supplier_id)
    kind = kind_of(record.kind) if record is not None else None
    if record is None or kind is None or kind.authorized is None:
        flash("That supplier does not exist any more.", "error")
        return redirect(url_for("admin.suppliers"))
    if not code:
        flash(f"{kind.label} did not authorize DropTrack ({request.args.get('error', 'no code')}"
              "). Try again, and allow access on its page.", "error")
        return redirect(url_for("admin.supplier", supplier_id=supplier_id))
    try:
        flash(kind.authorized(runtime(), record, code[:500]), "ok")
    except SupplierError as exc:
        flash(f"Connecting {record.name} failed: {exc}", "error")
    return redirect(url_for("admin.supplier", supplier_id=supplier_id))
