from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, PasswordField, RadioField
from wtforms.validators import DataRequired, Email, Length

from core.forms import SelectChoice
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
