from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    EmailField,
    IntegerField,
    PasswordField,
    RadioField,
    SelectField,
    StringField,
)
from wtforms.validators import DataRequired, Email, EqualTo, Length, NumberRange, Optional

from accounts.models import ROLE_LABELS, Role
from core.forms import SelectChoice, SelectOrText
from core.i18n import LANGUAGES


class LoginForm(FlaskForm):
    email = EmailField(_l("Email"), validators=[DataRequired(), Email(), Length(max=254)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=200)])
    remember = BooleanField(_l("Keep me signed in"))


class ProfileForm(FlaskForm):
    """The user's own settings: the interface language."""

    locale = RadioField(
        _l("Language"),
        choices=[
            SelectChoice("", _l("The browser's language")),
            *(SelectChoice(code, label) for code, label in LANGUAGES.items()),
        ],
        description=_l("Pages and the weekly email follow your choice."),
        validate_choice=False,
    )


# --- The Users pages (administrators) -------------------------------------------------------

PASSWORDS_DIFFER = _l("The two passwords differ.")


class PasswordFields:
    """A new password, typed twice (the length rule is the service's)."""

    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=200)])
    confirm = PasswordField(
        _l("Password again"),
        validators=[DataRequired(), EqualTo("password", message=PASSWORDS_DIFFER)],
    )


class UserForm(PasswordFields, FlaskForm):
    """A new account of any role. The contractor and grid choices are filled by the view:
    a contractor user picks an existing contractor; an officer may have a grid scope."""

    email = EmailField(_l("Email"), validators=[DataRequired(), Email(), Length(max=254)])
    name = StringField(_l("Name"), validators=[Optional(), Length(max=200)])
    role = SelectField(
        _l("Role"),
        choices=[SelectChoice(role.value, label) for role, label in ROLE_LABELS.items()],
        default=Role.OFFICER.value,
    )
    contractor = SelectField(
        _l("Contractor"), description=_l("Contractor users only: the company they act for.")
    )
    grid = SelectField(
        _l("Grid scope"),
        description=_l(
            "Officers only: the grid their weekly email covers and their pages open on."
        ),
        validate_choice=False,  # the service refuses a grid that does not exist
        widget=SelectOrText(),
    )


class PasswordForm(PasswordFields, FlaskForm):
    """An administrator sets a user's new password."""


class ScopeForm(FlaskForm):
    grid = SelectField(_l("Grid scope"), validate_choice=False, widget=SelectOrText())


class RoleForm(FlaskForm):
    """An administrator gives a user another role (every sign-in of the user ends)."""

    role = SelectField(
        _l("Role"),
        choices=[SelectChoice(role.value, label) for role, label in ROLE_LABELS.items()],
    )
    contractor = SelectField(
        _l("Contractor"), description=_l("Contractor users only: the company they act for.")
    )


# --- The profile page (the user's own) -------------------------------------------------------


class OwnPasswordForm(PasswordFields, FlaskForm):
    """A user changes his own password: the current one first."""

    current_password = PasswordField(
        _l("Current password"), validators=[DataRequired(), Length(max=200)]
    )


class TokenForm(FlaskForm):
    """A new API token of the user's own: what to call it and how long it lives (the
    service's default and maximum)."""

    name = StringField(_l("Token name"), validators=[DataRequired(), Length(max=100)])
    days = IntegerField(
        _l("Valid for (days)"), validators=[Optional(), NumberRange(min=1, max=100_000)]
    )
