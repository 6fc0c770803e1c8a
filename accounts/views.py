from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import refresh
from flask_login import current_user, login_required, login_user, logout_user

from accounts.access import contract_ended
from accounts.cli import register_commands
from accounts.forms import LoginForm, ProfileForm
from accounts.services import ended_contract_message, set_user_language, user_by_email
from core.errors import on_refused
from core.extensions import db
from core.i18n import safe_next_url

bp = Blueprint("accounts", __name__, template_folder="templates", cli_group="users")
register_commands(bp)


@bp.route("/login", methods=["GET", "POST"])
def login():
    form = LoginForm()
    if form.validate_on_submit():
        user = user_by_email(form.email.data)
        if user is not None and user.active and user.check_password(form.password.data):
            if contract_ended(user):
                flash(ended_contract_message(user.contractor), "error")
                return render_template("accounts/login.html", form=form), 403
            login_user(user, remember=form.remember.data)
            return redirect(safe_next_url(request.args.get("next")) or url_for("dashboard.index"))
        flash(_("Wrong email or password."), "error")
        return render_template("accounts/login.html", form=form), 401
    return render_template("accounts/login.html", form=form)


@bp.post("/logout")
@login_required
def logout():
    logout_user()
    return redirect(url_for("accounts.login"))


def render_profile(form: ProfileForm, status: int = 200):
    return render_template("accounts/profile.html", form=form), status


@bp.route("/profile", methods=["GET", "POST"])
@login_required
def profile():
    """The signed-in user's own page: who they are, and the language they choose."""
    user = current_user._get_current_object()
    form = ProfileForm(data={"locale": user.locale or ""})
    if not form.validate_on_submit():
        return render_profile(form, 400 if form.is_submitted() else 200)

    def refused(error, status: int):
        form.locale.errors = [str(error)]
        return render_profile(form, status)

    on_refused(refused)
    set_user_language(user, form.locale.data)
    db.session.commit()
    refresh()  # the page after this answer speaks the language just chosen; so does this flash
    flash(_("Your settings are saved."), "success")
    return redirect(url_for("accounts.profile"))
