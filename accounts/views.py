from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import refresh
from flask_login import current_user, login_required

from accounts import limits
from accounts.access import contract_ended
from accounts.auth import sign_in, sign_out
from accounts.cli import register_commands
from accounts.forms import LoginForm, OwnPasswordForm, ProfileForm, TokenForm
from accounts.services import (
    change_own_password,
    end_sessions,
    ended_contract_message,
    issue_api_token,
    live_api_tokens,
    min_password_length,
    revoke_api_token,
    set_user_language,
)
from accounts.sessions import (
    authenticate,
    live_sessions,
    refuse_ended_contract_sign_in,
    revoke_session,
)
from core.clock import district_time
from core.errors import Refusal, error_page, on_refused
from core.extensions import db
from core.i18n import safe_next_url

bp = Blueprint("accounts", __name__, template_folder="templates", cli_group="users")
register_commands(bp)


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Sign in. Failures (401) count against the limits of ``accounts.limits``."""
    form = LoginForm()
    if form.validate_on_submit():
        user = authenticate(form.email.data, form.password.data)
        if user is not None and contract_ended(user):
            db.session.rollback()  # not a sign-in: audited as a refused one instead
            refuse_ended_contract_sign_in(user)
            db.session.commit()
            flash(ended_contract_message(user.contractor), "error")
            return render_template("accounts/login.html", form=form), 403
        if user is not None:
            sign_in(user, remember=form.remember.data)
            return redirect(safe_next_url(request.args.get("next")) or url_for("dashboard.index"))
        db.session.commit()  # the failure's audit entry
        flash(_("Wrong email or password."), "error")
        return render_template("accounts/login.html", form=form), 401
    return render_template("accounts/login.html", form=form)


@bp.app_errorhandler(limits.RateLimitExceeded)
def too_many_sign_ins(error):
    """The sign-in form refused during a lock: the form again, saying until when (429; the
    limiter adds Retry-After). Elsewhere the usual error page."""
    db.session.rollback()
    if request.endpoint != limits.LOGIN_ENDPOINT:
        return error_page(error)
    until = limits.locked_until()
    flash(
        _(
            "Too many failed sign-ins: signing in here is locked until %(time)s.",
            time=district_time(until),
        ),
        "error",
    )
    return render_template("accounts/login.html", form=LoginForm()), 429


@bp.post("/logout")
@login_required
def logout():
    sign_out()
    return redirect(url_for("accounts.login"))


@bp.post("/logout/everywhere")
@login_required
def logout_everywhere():
    """Every sign-in of the user ends, in every browser, this one included."""
    end_sessions(current_user._get_current_object())
    db.session.commit()
    sign_out()
    flash(_("You are signed out everywhere."), "success")
    return redirect(url_for("accounts.login"))


def render_profile(status: int = 200, **forms):
    user = current_user._get_current_object()
    page = render_template(
        "accounts/profile.html",
        form=forms.get("form") or ProfileForm(formdata=None, data={"locale": user.locale or ""}),
        password_form=forms.get("password_form") or OwnPasswordForm(formdata=None),
        token_form=forms.get("token_form") or TokenForm(formdata=None),
        new_token=forms.get("new_token"),
        tokens=live_api_tokens(user),
        sessions=live_sessions(user),
        this_session=getattr(user.current_session, "id", None),
        min_password_length=min_password_length(),
    )
    headers = {"Cache-Control": "no-store"} if forms.get("new_token") else {}
    return page, status, headers


def refuse_on_profile(name: str, form) -> None:
    def refused(error: Refusal, status: int):
        for field_name, messages in error.messages().items():
            field = form._fields.get(field_name)
            if field is not None:
                field.errors = [*field.errors, *messages]
            else:
                form.form_errors.extend(messages)
        return render_profile(status, **{name: form})

    on_refused(refused)


@bp.route("/profile", methods=["GET", "POST"])
@login_required
def profile():
    """The signed-in user's own page: who they are, their language, their password, their
    sign-ins and their API tokens."""
    user = current_user._get_current_object()
    form = ProfileForm(data={"locale": user.locale or ""})
    if not form.validate_on_submit():
        return render_profile(400 if form.is_submitted() else 200, form=form)
    refuse_on_profile("form", form)
    set_user_language(user, form.locale.data)
    db.session.commit()
    refresh()  # the page after this answer speaks the language just chosen; so does this flash
    flash(_("Your settings are saved."), "success")
    return redirect(url_for("accounts.profile"))


@bp.post("/profile/password")
@login_required
def profile_password():
    """A new password (the current one required): every sign-in of the user ends, and this
    browser signs in again at once with a new one."""
    user = current_user._get_current_object()
    form = OwnPasswordForm()
    if not form.validate_on_submit():
        return render_profile(400, password_form=form)
    refuse_on_profile("password_form", form)
    change_own_password(user, form.current_password.data, form.password.data)
    db.session.commit()
    sign_in(user, remember=False)
    flash(_("Your password is changed; every other sign-in has ended."), "success")
    return redirect(url_for("accounts.profile"))


@bp.post("/profile/tokens")
@login_required
def profile_token_new():
    """A new API token of the user's own, shown on this answer only."""
    user = current_user._get_current_object()
    form = TokenForm()
    if not form.validate_on_submit():
        return render_profile(400, token_form=form)
    refuse_on_profile("token_form", form)
    token = issue_api_token(user, form.name.data, form.days.data)
    db.session.commit()
    return render_profile(201, new_token=token)


@bp.post("/profile/tokens/<int:token_id>/revoke")
@login_required
def profile_token_revoke(token_id: int):
    user = current_user._get_current_object()
    on_refused(lambda error, status: (render_profile(404)[0], 404))
    revoke_api_token(user, token_id)
    db.session.commit()
    flash(_("The API token is revoked."), "success")
    return redirect(url_for("accounts.profile"))


@bp.post("/profile/sessions/<int:session_id>/revoke")
@login_required
def profile_session_revoke(session_id: int):
    """End one of the user's sign-ins (another browser's, or this one: then sign in again)."""
    user = current_user._get_current_object()
    if not revoke_session(user, session_id):
        return render_profile(404)
    db.session.commit()
    flash(_("That sign-in has ended."), "success")
    return redirect(url_for("accounts.profile"))
