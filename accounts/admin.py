"""The Users pages (administrators only): every account, new accounts of every role, and
what an administrator does to one: deactivate or reactivate it, set its password, revoke
its API tokens, set an officer's grid scope. The rules and the audit trail are the
services' (``accounts.services``); the command line and the contractor pages use the same.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from accounts.auth import roles_required, sign_in
from accounts.forms import PasswordForm, RoleForm, ScopeForm, UserForm
from accounts.models import ROLE_LABELS, Contractor, Role, User
from accounts.services import (
    change_role,
    create_user,
    deactivate_user,
    generated_password,
    grid_code,
    grids_for_scope,
    live_api_tokens,
    live_token_counts,
    min_password_length,
    reactivate_user,
    reset_password,
    revoke_api_token,
    revoke_api_tokens,
    set_grid_scope,
    user_history,
)
from core.args import choice_arg
from core.errors import Refusal, on_refused
from core.extensions import db
from core.forms import SelectChoice
from core.paging import DEFAULT_PER_PAGE, page_args, page_of

bp = Blueprint("users", __name__, url_prefix="/users", template_folder="templates")

ACTIVE_FILTERS = {"yes": _l("Active"), "no": _l("Deactivated")}
# The audit trail's actions on a user, as the user's page names them.
ACTION_LABELS = {
    "create": _l("Created"),
    "update": _l("Changed"),
    "reset_password": _l("Password set"),
    "revoke_tokens": _l("API tokens revoked"),
    "revoke_token": _l("API token revoked"),
    "issue_token": _l("API token issued"),
    "locale": _l("Language chosen"),
    "login": _l("Signed in"),
    "login_failed": _l("Sign-in refused"),
    "login_locked": _l("Sign-in locked"),
    "change_password": _l("Password changed"),
}


@bp.context_processor
def users_page_values() -> dict[str, Any]:
    return {
        "action_labels": ACTION_LABELS,
        "min_password_length": min_password_length(),
    }


@bp.before_request
@roles_required("admin")
def admins_only() -> None:
    """Every page here is an administrator's (others: 403)."""


# The list


@bp.get("/")
def user_list():
    role = choice_arg("role", set(Role)) or ""
    active = choice_arg("active", ACTIVE_FILTERS) or ""
    page, per_page = page_args()
    query = select(User).options(selectinload(User.contractor), selectinload(User.grid))
    if role:
        query = query.where(User.role == role)
    if active:
        query = query.where(User.active.is_(active == "yes"))
    listed = page_of(query.order_by(User.email), page, per_page)
    filters = {"role": role, "active": active}
    if per_page != DEFAULT_PER_PAGE:
        filters["per_page"] = per_page

    def list_url(**changes: Any) -> str:
        return url_for("users.user_list", **{k: v for k, v in {**filters, **changes}.items() if v})

    return render_template(
        "accounts/users/list.html",
        users=listed.items,
        total=listed.total,
        pages=listed.pages,
        page=page,
        list_url=list_url,
        filters=filters,
        tokens=live_token_counts([user.id for user in listed.items]),
        role_labels=ROLE_LABELS,
        active_filters=ACTIVE_FILTERS,
    )


# A new user


def fill_grid_scope(field) -> None:
    """The grids a scope field offers (``grids_for_scope``); past ``GRID_SELECT_LIMIT`` grids
    the field is typed: a text field for a grid's code (``core.forms.SelectOrText``)."""
    grids, typed = grids_for_scope(field.data or "")
    field.typed = typed
    field.suggestions = [(grid.code, grid.name) for grid in grids]
    field.choices = [
        SelectChoice("", _("The whole district")),
        *(SelectChoice(grid.code, f"{grid.code} {grid.name}") for grid in grids),
    ]
    if typed:
        hint = _("Type a grid code; leave empty for the whole district.")
        field.description = f"{field.description} {hint}" if field.description else hint


def user_form() -> UserForm:
    form = UserForm()
    contractors = db.session.scalars(select(Contractor).order_by(Contractor.name))
    form.contractor.choices = [
        SelectChoice("", "—"),
        *(SelectChoice(str(contractor.id), contractor.name) for contractor in contractors),
    ]
    fill_grid_scope(form.grid)
    return form


def show_refusal(form, error: Refusal) -> None:
    """Each refused field's message under that field (the form's banner for the rest)."""
    for name, messages in error.messages().items():
        field = form._fields.get(name) if name != "csrf_token" else None
        if field is not None:
            field.errors = [*field.errors, *messages]
        else:
            form.form_errors.extend(messages)


@bp.route("/new", methods=["GET", "POST"])
def user_new():
    form = user_form()
    if not form.validate_on_submit():
        status = 400 if form.is_submitted() else 200
        return render_template("accounts/users/new.html", form=form), status

    def refused(error: Refusal, status: int):
        show_refusal(form, error)
        return render_template("accounts/users/new.html", form=form), status

    on_refused(refused)
    contractor = None
    if form.contractor.data:
        contractor = db.session.get(Contractor, int(form.contractor.data))
    user = create_user(
        form.email.data,
        form.password.data,
        form.role.data,
        contractor_name=contractor.name if contractor is not None else None,
        name=form.name.data or "",
        grid=form.grid.data or None,
    )
    db.session.commit()
    flash(_("User %(email)s created.", email=user.email), "success")
    return redirect(url_for("users.user_detail", user_id=user.id))


# One user


def user_or_404(user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None:
        abort(404, description=_("No such user."))
    return user


def render_detail(user: User, status: int = 200, **context: Any):
    scope_form = context.pop("scope_form", None) or ScopeForm(
        formdata=None, data={"grid": grid_code(user) or ""}
    )
    fill_grid_scope(scope_form.grid)
    page = render_template(
        "accounts/users/detail.html",
        user=user,
        tokens=live_api_tokens(user),
        history=user_history(user),
        scope_form=scope_form,
        role_form=context.pop("role_form", None) or role_form(user, formdata=None),
        password_form=context.pop("password_form", None) or PasswordForm(formdata=None),
        **context,
    )
    return page, status


def refuse_on_detail(user: User, form_name: str, form=None) -> None:
    """A refused change re-renders the user's page with the message at ``form_name``'s form
    (with ``form``'s field messages when it has the field)."""

    def refused(error: Refusal, status: int):
        if form is not None:
            show_refusal(form, error)
            return render_detail(user, status, **{form_name: form})
        return render_detail(user, status, refusal=(form_name, str(error)))

    on_refused(refused)


@bp.get("/<int:user_id>")
def user_detail(user_id: int):
    return render_detail(user_or_404(user_id))


def back_to(user: User):
    return redirect(url_for("users.user_detail", user_id=user.id))


@bp.post("/<int:user_id>/deactivate")
def user_deactivate(user_id: int):
    user = user_or_404(user_id)
    refuse_on_detail(user, "status")
    if deactivate_user(user, current_user._get_current_object()):
        db.session.commit()
    flash(_("User %(email)s deactivated.", email=user.email), "success")
    return back_to(user)


@bp.post("/<int:user_id>/reactivate")
def user_reactivate(user_id: int):
    user = user_or_404(user_id)
    if reactivate_user(user):
        db.session.commit()
    flash(_("User %(email)s can sign in again.", email=user.email), "success")
    return back_to(user)


def keep_own_session(user: User) -> None:
    """After an administrator ends his own sessions (a new password), this browser signs in
    again at once (a new sign-in: a copy of the old cookie stays ended)."""
    if user.id == current_user.id:
        sign_in(user)


@bp.post("/<int:user_id>/password")
def user_password(user_id: int):
    user = user_or_404(user_id)
    form = PasswordForm()
    if not form.validate_on_submit():
        return render_detail(user, 400, password_form=form)
    refuse_on_detail(user, "password_form", form)
    reset_password(user, form.password.data)
    db.session.commit()
    keep_own_session(user)
    flash(
        _("The password of %(email)s is changed; their sessions ended.", email=user.email),
        "success",
    )
    return back_to(user)


@bp.post("/<int:user_id>/password/generate")
def user_password_generate(user_id: int):
    """A generated password, shown on this answer only (never stored in the clear, never in
    a redirect or a flash message, which would keep it in the session cookie)."""
    user = user_or_404(user_id)
    password = generated_password()
    reset_password(user, password, generated=True)
    db.session.commit()
    keep_own_session(user)
    response, status = render_detail(user, generated_password=password)
    return response, status, {"Cache-Control": "no-store"}


def role_form(user: User, **kwargs) -> RoleForm:
    data = {"role": user.role, "contractor": user.contractor.name if user.contractor else ""}
    form = RoleForm(data=data, **kwargs)
    contractors = db.session.scalars(select(Contractor.name).order_by(Contractor.name))
    form.contractor.choices = [SelectChoice("", "—"), *(SelectChoice(n, n) for n in contractors)]
    return form


@bp.post("/<int:user_id>/role")
def user_role(user_id: int):
    """Another role (and a contractor user's company): every sign-in of the user ends."""
    user = user_or_404(user_id)
    form = role_form(user)
    if not form.validate_on_submit():
        return render_detail(user, 400, role_form=form)
    refuse_on_detail(user, "role_form", form)
    acting = current_user._get_current_object()
    if change_role(user, form.role.data, form.contractor.data or None, acting):
        db.session.commit()
    flash(_("The role of %(email)s is saved; their sessions ended.", email=user.email), "success")
    return back_to(user)


@bp.post("/<int:user_id>/scope")
def user_scope(user_id: int):
    user = user_or_404(user_id)
    form = ScopeForm()
    fill_grid_scope(form.grid)
    if not form.validate_on_submit():
        return render_detail(user, 400, scope_form=form)
    refuse_on_detail(user, "scope_form", form)
    if set_grid_scope(user, form.grid.data or None):
        db.session.commit()
    flash(_("The grid scope of %(email)s is saved.", email=user.email), "success")
    return back_to(user)


@bp.post("/<int:user_id>/tokens/revoke")
def user_tokens_revoke(user_id: int):
    user = user_or_404(user_id)
    count = revoke_api_tokens(user)
    db.session.commit()
    flash(_("%(n)s API tokens revoked.", n=count), "success")
    return back_to(user)


@bp.post("/<int:user_id>/tokens/<int:token_id>/revoke")
def user_token_revoke(user_id: int, token_id: int):
    user = user_or_404(user_id)
    refuse_on_detail(user, "tokens")
    revoke_api_token(user, token_id)
    db.session.commit()
    flash(_("The API token is revoked."), "success")
    return back_to(user)
