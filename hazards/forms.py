"""Hazard forms: they carry values and the CSRF token; every rule lives in
``hazards.services``.

The responsible party is one select whose values are ``company:<id>`` or ``contractor:<id>``;
past ``FORM_SELECT_LIMIT`` property companies (sites) the responsible party (the site) is typed
by name instead (``assets.services.named_choices``).
"""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import HiddenField, MultipleFileField, SelectField, StringField, TextAreaField

from accounts.models import Contractor, User
from assets.models import PropertyCompany, Site
from assets.services import named_choices
from core.extensions import db
from core.forms import SelectChoice
from evidence.models import PhotoStage
from hazards.services import (
    CATEGORY_LABELS,
    DESCRIPTION_MAX_LENGTH,
    SEVERITY_LABELS,
)

COMPANY_PREFIX = "company:"
CONTRACTOR_PREFIX = "contractor:"
PHOTO_ACCEPT = "image/jpeg,image/png,image/webp"
STAGE_LABELS = {PhotoStage.BEFORE: _l("Before (the finding)"), PhotoStage.AFTER: _l("After")}


def responsible_choices(
    user: User, companies: list[tuple[int, str]]
) -> list[tuple[str, list[tuple[str, str]]]]:
    """Grouped choices: the property ``companies`` offered ((id, name) pairs:
    ``named_choices``, none past ``FORM_SELECT_LIMIT``), and the contractors this user may
    name (staff: all; a contractor user: only its own company)."""
    contractors = select(Contractor.id, Contractor.name).order_by(Contractor.name)
    if not user.is_staff:
        contractors = contractors.where(Contractor.id == user.contractor_id)
    return [
        (
            str(_l("Property companies")),
            [(f"{COMPANY_PREFIX}{i}", n) for i, n in companies],
        ),
        (
            str(_l("Contractors")),
            [(f"{CONTRACTOR_PREFIX}{i}", n) for i, n in db.session.execute(contractors)],
        ),
    ]


def responsible_values(raw: str | None) -> dict[str, Any]:
    """The select's value as the service's two keys (an unparsable value is "unknown")."""
    raw = (raw or "").strip()
    values: dict[str, Any] = {"responsible_company_id": None, "responsible_contractor_id": None}
    if raw.startswith(COMPANY_PREFIX):
        values["responsible_company_id"] = raw.removeprefix(COMPANY_PREFIX) or "?"
    elif raw.startswith(CONTRACTOR_PREFIX):
        values["responsible_contractor_id"] = raw.removeprefix(CONTRACTOR_PREFIX) or "?"
    elif raw:
        values["responsible_company_id"] = "?"
    return values


def responsible_value(company_id: int | None, contractor_id: int | None) -> str:
    if company_id is not None:
        return f"{COMPANY_PREFIX}{company_id}"
    if contractor_id is not None:
        return f"{CONTRACTOR_PREFIX}{contractor_id}"
    return ""


def fill_responsible(field: SelectField, user: User, named: str | None = None) -> None:
    """Flat choices for validation, plus ``field.groups`` for rendering with optgroups; past
    ``FORM_SELECT_LIMIT`` property companies ``field.typed``: a text field for the party's
    name (``named``, the current one, when the form is not submitted), the contractors
    suggested."""
    companies = named_choices(PropertyCompany)
    field.typed = companies.typed
    field.groups = responsible_choices(user, companies.choices)
    field.choices = [
        SelectChoice("", "—"),
        *(SelectChoice(value, name) for _label, group in field.groups for value, name in group),
    ]
    if field.typed and named is not None:
        field.data = named


def fill_site(field: SelectField) -> None:
    """Every site as a choice; past ``FORM_SELECT_LIMIT`` sites ``field.typed`` and none
    (the form shows its ``site_name`` text field instead)."""
    sites = named_choices(Site)
    field.typed = sites.typed
    field.choices = [
        SelectChoice("", "—"),
        *(SelectChoice(str(site_id), name) for site_id, name in sites.choices),
    ]


def responsible_form_values(field: SelectField) -> dict[str, Any]:
    """The responsible field's value as the service's keys: a typed name, or a choice."""
    if getattr(field, "typed", False):
        values = responsible_values(None)
        values["responsible_name"] = (field.data or "").strip()
        return values
    return responsible_values(field.data)


def with_blank(labels: dict) -> list:
    return [
        SelectChoice("", "—"),
        *(SelectChoice(str(value), label) for value, label in labels.items()),
    ]


class HazardEditForm(FlaskForm):
    """What staff may change of a hazard; the report form adds the finding itself."""

    severity = SelectField(
        _l("Severity"), choices=with_blank(SEVERITY_LABELS), validate_choice=False
    )
    deadline = StringField(_l("Rectification deadline"), render_kw={"type": "date"})
    responsible = SelectField(_l("Responsible party"), validate_choice=False)
    description = TextAreaField(
        _l("Description"), render_kw={"maxlength": DESCRIPTION_MAX_LENGTH, "rows": 4}
    )

    def fill_choices(self, user: User, responsible_named: str | None = None) -> None:
        """The choices for ``user``; ``responsible_named``: the current party's name, shown
        when the party is typed and the form is not submitted."""
        named = None if self.is_submitted() else responsible_named
        fill_responsible(self.responsible, user, named)

    def service_values(self) -> dict[str, Any]:
        return {
            "severity": self.severity.data,
            "deadline": self.deadline.data,
            "description": self.description.data,
            **responsible_form_values(self.responsible),
        }


class HazardReportForm(HazardEditForm):
    category = SelectField(
        _l("Category"), choices=with_blank(CATEGORY_LABELS), validate_choice=False
    )
    asset_code = StringField(
        _l("Asset code"),
        description=_l("Optional. Without a point, the hazard is placed at the asset."),
        render_kw={"maxlength": 40, "autocapitalize": "characters"},
    )
    longitude = StringField(_l("Longitude"), render_kw={"inputmode": "decimal"})
    latitude = StringField(_l("Latitude"), render_kw={"inputmode": "decimal"})
    site_id = SelectField(_l("Site"), validate_choice=False)
    # Past FORM_SELECT_LIMIT sites, the site's name instead of the select (``fill_site``).
    site_name = StringField(
        _l("Site"),
        description=_l("The site's full name. Empty: the asset's site."),
        render_kw={"maxlength": 200, "autocomplete": "off"},
    )
    responsible = SelectField(
        _l("Responsible party"),
        description=_l("Empty: the site's property company."),
        validate_choice=False,
    )
    found_on = StringField(
        _l("Found on"), description=_l("Empty: today."), render_kw={"type": "date"}
    )
    photos = MultipleFileField(
        _l("Photos of the finding"), render_kw={"accept": PHOTO_ACCEPT, "capture": "environment"}
    )

    def fill_choices(self, user: User, responsible_named: str | None = None) -> None:
        super().fill_choices(user, responsible_named)
        fill_site(self.site_id)

    def service_values(self) -> dict[str, Any]:
        return {
            **super().service_values(),
            "category": self.category.data,
            "asset_code": (self.asset_code.data or "").strip(),
            "longitude": self.longitude.data,
            "latitude": self.latitude.data,
            "site_id": None if self.site_id.typed else self.site_id.data,
            "site_name": (self.site_name.data or "").strip() if self.site_id.typed else None,
            "found_on": self.found_on.data,
        }


class HazardStatusForm(FlaskForm):
    """One forward step: each step the user may take is its own button (a form with the
    status hidden); the rectified step carries the "after" photos."""

    status = HiddenField()
    note = TextAreaField(_l("Note"), render_kw={"rows": 2, "maxlength": 2000})
    photos = MultipleFileField(
        _l("Photos after rectification"),
        render_kw={"accept": PHOTO_ACCEPT, "capture": "environment"},
    )


class HazardReworkForm(FlaskForm):
    reason = TextAreaField(
        _l("Reason for returning it for rework"), render_kw={"rows": 2, "maxlength": 2000}
    )


class HazardReopenForm(FlaskForm):
    reason = TextAreaField(_l("Reason for reopening"), render_kw={"rows": 2, "maxlength": 2000})


class HazardPhotoForm(FlaskForm):
    stage = SelectField(
        _l("Stage"),
        choices=[SelectChoice(str(stage), label) for stage, label in STAGE_LABELS.items()],
        validate_choice=False,
    )
    photos = MultipleFileField(
        _l("Photos"), render_kw={"accept": PHOTO_ACCEPT, "capture": "environment"}
    )
