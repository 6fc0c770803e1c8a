"""Forms of the contractor pages: the company and a new contractor user."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from sqlalchemy import func, select
from wtforms import DateField, EmailField, PasswordField, StringField, ValidationError
from wtforms.validators import DataRequired, Email, Length, Optional, Regexp

from accounts.models import Contractor, User
from core.extensions import db

# Loose: digits, spaces, "+" and "-" (e.g. "+86 536 1234 5678", "0536-1234567").
PHONE_PATTERN = r"^\+?[0-9][0-9 \-]*[0-9]$"
MIN_PASSWORD_LENGTH = 8


def strip(value: str | None) -> str | None:
    return value.strip() if isinstance(value, str) else value


class ContractorForm(FlaskForm):
    name = StringField(
        _l("Company name"), validators=[DataRequired(), Length(max=200)], filters=[strip]
    )
    contact_email = EmailField(
        _l("Contact email"), validators=[Optional(), Email(), Length(max=254)]
    )
    contact_phone = StringField(
        _l("Contact phone"),
        validators=[
            Optional(),
            Length(max=40),
            Regexp(PHONE_PATTERN, message=_l("Digits, spaces, + and - only.")),
        ],
    )
    active_from = DateField(_l("Active from"), validators=[Optional()])
    active_until = DateField(_l("Active until"), validators=[Optional()])

    def __init__(self, *args, contractor: Contractor | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.contractor = contractor

    def validate_name(self, field: StringField) -> None:
        query = select(Contractor.id).where(func.lower(Contractor.name) == field.data.lower())
        if self.contractor is not None:
            query = query.where(Contractor.id != self.contractor.id)
        if db.session.scalar(query) is not None:
            raise ValidationError(_l("A contractor with this name exists already."))

    def validate_active_until(self, field: DateField) -> None:
        if field.data and self.active_from.data and field.data < self.active_from.data:
            raise ValidationError(_l("The end date cannot be before the start date."))

    def contractor_values(self) -> dict:
        return {
            "name": self.name.data,
            "contact_email": (self.contact_email.data or "").strip().lower() or None,
            "contact_phone": (self.contact_phone.data or "").strip() or None,
            "active_from": self.active_from.data,
            "active_until": self.active_until.data,
        }


class ContractorUserForm(FlaskForm):
    email = EmailField(_l("Email"), validators=[DataRequired(), Email(), Length(max=254)])
    name = StringField(_l("Name"), validators=[Optional(), Length(max=200)])
    password = PasswordField(
        _l("Password"),
        validators=[
            DataRequired(),
            Length(
                min=MIN_PASSWORD_LENGTH,
                max=200,
                message=_l("At least %(n)s characters.", n=MIN_PASSWORD_LENGTH),
            ),
        ],
    )

    def validate_email(self, field: EmailField) -> None:
        email = field.data.strip().lower()
        if db.session.scalar(select(User.id).where(User.email == email)) is not None:
            raise ValidationError(_l("A user with this email exists already."))
