"""The hazard register: findings, their rectification deadline, and the status machine.

open -> rectifying -> rectified -> verified (open -> rectified when fixed on the spot). A hazard
becomes rectified only with at least one "after" photo (given with the step, or added since its
status last changed). Only an officer or an administrator verifies a rectified hazard or returns
it for rework (back to rectifying, with a reason); rectifying, rectified and verified can be
reopened with a reason. Every step is a compare-and-set on the status it was decided from, so
of two steps racing from one status one is made and the other is a conflict (409). Hazard
codes come from a counter per year that cannot give one number twice. Services add to the
session and never commit: the caller commits the unit of work.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, timedelta
from typing import Any

from flask import current_app
from flask_babel import lazy_gettext as _l
from flask_babel import pgettext
from sqlalchemy import ColumnElement, Select, and_, case, func, literal_column, select, update
from werkzeug.datastructures import FileStorage

from accounts.access import is_staff, may_see, visible
from accounts.models import Contractor, User
from assets.grids import PointGridLocator
from assets.kinds import KINDS
from assets.models import Asset, AssetStatus, PropertyCompany, Site
from assets.services import (
    asset_by_code,
    location_problem,
    parse_coordinate,
    site_named,
    step_asset_status,
)
from core.audit import COMMAND_LINE, changed_fields, record_change
from core.clock import district_today, district_zone, now_utc
from core.errors import ConflictError, ValidationError
from core.extensions import db
from core.inputs import date_in_range, date_range_message, id_or_none
from core.spatial import insert_ignoring_duplicates, latitude_of, longitude_of, point_value
from evidence.models import Photo, PhotoStage
from evidence.photos import CheckedPhoto, add_photos, check_photos, share_photos
from hazards.models import (
    Hazard,
    HazardCategory,
    HazardCodeCounter,
    HazardEvent,
    HazardSeverity,
    HazardStatus,
)

CATEGORY_LABELS = {
    HazardCategory.FLYING_WIRE_CHARGING: _l("Flying-wire charging"),
    HazardCategory.EBIKE_IN_CORRIDOR: _l("E-bike in a corridor"),
    HazardCategory.EBIKE_IN_LIFT: _l("E-bike in a lift"),
    HazardCategory.EXTINGUISHER_MISSING: _l("Extinguisher missing"),
    HazardCategory.EXTINGUISHER_EXPIRED: _l("Extinguisher expired"),
    HazardCategory.CHARGER_FAULT: _l("Charger fault"),
    HazardCategory.BLOCKER_FAULT: _l("Blocker fault"),
    HazardCategory.BLOCKED_EXIT: _l("Blocked exit"),
    HazardCategory.OTHER: _l("Other"),
}
SEVERITY_LABELS = {
    HazardSeverity.GENERAL: _l("General"),
    HazardSeverity.MAJOR: _l("Major"),
}
HAZARD_STATUS_LABELS = {
    HazardStatus.OPEN: _l("Open"),
    HazardStatus.RECTIFYING: _l("Rectifying"),
    HazardStatus.RECTIFIED: _l("Rectified"),
    HazardStatus.VERIFIED: _l("Verified"),
}

# Forward steps; reopening (back to open, with a reason) is handled by ``reopen_hazard``.
FORWARD_STEPS = {
    HazardStatus.OPEN: {HazardStatus.RECTIFYING, HazardStatus.RECTIFIED},
    HazardStatus.RECTIFYING: {HazardStatus.RECTIFIED},
    HazardStatus.RECTIFIED: {HazardStatus.VERIFIED},
    HazardStatus.VERIFIED: set(),
}
REOPENABLE = {HazardStatus.RECTIFYING, HazardStatus.RECTIFIED, HazardStatus.VERIFIED}
# The hazard category a failed inspection opens, by asset kind.
FAILED_INSPECTION_CATEGORY = {
    "charging_station": HazardCategory.CHARGER_FAULT,
    "elevator_blocker": HazardCategory.BLOCKER_FAULT,
}
DESCRIPTION_MAX_LENGTH = 2000


class HazardValidationError(ValidationError):
    """Bad hazard input; ``errors`` maps each field to what is wrong with it."""


class TransitionError(ConflictError):
    """A status change the machine does not allow (a conflict with the hazard's status)."""


class TransitionForbidden(TransitionError):
    """A step the machine allows but this user's role may not make (verify, reopen): 403."""

    http_status = 403


class TransitionInputError(ValidationError):
    """A step that lacks something the user must give (the reason for reopening), or names
    an unknown status; ``field`` is which."""

    def __init__(self, message, field: str):
        super().__init__({field: message}, message)
        self.field = field


# --- Reading ------------------------------------------------------------------------------


def default_deadline(severity: str, found_on: date) -> date:
    days = current_app.config["HAZARD_DEADLINE_DAYS"][str(severity)]
    return found_on + timedelta(days=int(days))


def is_hazard_overdue(hazard: Hazard, today: date | None = None) -> bool:
    """Past its rectification deadline and not verified (in the district's time zone)."""
    today = district_today() if today is None else today
    return hazard.status != HazardStatus.VERIFIED and hazard.deadline < today


def hazard_overdue_clause(today: date | None = None) -> ColumnElement[bool]:
    today = district_today() if today is None else today
    return and_(open_hazard_clause(), Hazard.deadline < today)


def open_hazard_clause() -> ColumnElement[bool]:
    """Not yet verified: open, rectifying or rectified.

    The status is written as a literal, not a bound parameter, so that the planners can tell
    that the partial index ``ix_hazards_open_deadline_code`` (``WHERE status != 'verified'``)
    applies: SQLite and PostgreSQL's generic plans only match an index's condition to the
    query's literally."""
    return Hazard.status != literal_column(f"'{HazardStatus.VERIFIED.value}'")


def hazard_age_days(hazard: Hazard, today: date | None = None) -> int:
    """Days since the hazard was found (0 on the day itself)."""
    today = district_today() if today is None else today
    return (today - hazard.found_on).days


def days_overdue(hazard: Hazard, today: date | None = None) -> int:
    """Days past the deadline for an overdue hazard, else 0."""
    today = district_today() if today is None else today
    return (today - hazard.deadline).days if is_hazard_overdue(hazard, today) else 0


def overdue_first_ordering(today: date | None = None) -> list[ColumnElement]:
    """Overdue hazards first, then the other unverified ones, then verified; within each,
    the oldest deadline first and the code breaking ties. (The list pages, exports and API go
    through ``overdue_first_parts`` instead: this order sorts every matching row.)"""
    rank = case(
        (hazard_overdue_clause(today), 0),
        (open_hazard_clause(), 1),
        else_=2,
    )
    return [rank, Hazard.deadline.asc(), Hazard.code.asc()]


def overdue_first_parts(query: Select, today: date | None = None) -> list[Select]:
    """``query`` of hazards in the order of ``overdue_first_ordering``, as consecutive parts
    to page through with ``core.paging.page_of_parts``: the overdue ones, the other unverified
    ones, the verified ones, each by deadline then code, which the indexes
    ``ix_hazards_open_deadline_code`` (the first two) and ``ix_hazards_status_deadline_code``
    give in order, so a page reads only its rows."""
    today = district_today() if today is None else today
    query = query.order_by(None)
    order = (Hazard.deadline.asc(), Hazard.code.asc())
    return [
        query.where(open_hazard_clause(), Hazard.deadline < today).order_by(*order),
        query.where(open_hazard_clause(), Hazard.deadline >= today).order_by(*order),
        query.where(Hazard.status == HazardStatus.VERIFIED).order_by(*order),
    ]


def hazard_by_code(code: str, user: User) -> Hazard | None:
    return db.session.scalar(visible(user, Hazard).where(Hazard.code == code.strip().upper()))


def hazard_opened_by(inspection_id: int, user: User | None) -> Hazard | None:
    """The hazard a failed inspection opened, if ``user`` may see it."""
    return db.session.scalar(
        visible(user, Hazard).where(Hazard.inspection_id == inspection_id).order_by(Hazard.id)
    )


def checklist_label(kind_name: str | None, key: str) -> str:
    """The label of a checklist item of an asset kind in the current language (the key for an
    unknown kind or an item no longer on its checklist)."""
    kind = KINDS.get(kind_name) if kind_name else None
    return kind.checklist_label(key) if kind is not None else key


def failed_item_labels(hazard: Hazard) -> list[tuple[str, str]]:
    """(key, label) of each checklist item the hazard's inspection failed, labelled in the
    current language by the asset kind's checklist."""
    kind_name = hazard.asset.kind if hazard.asset is not None else None
    return [(key, checklist_label(kind_name, key)) for key in hazard.failed_items or ()]


def describe(description: str, failed_labels: Sequence[str], from_inspection: bool) -> str:
    """What is wrong, in the current language: the failed items by label, then the typed
    description (a failed inspection's notes); "Inspection failed." when that is all."""
    lines = []
    if failed_labels:
        separator = pgettext("between list items", ", ")
        lines.append(str(_l("Failed items: %(items)s", items=separator.join(failed_labels))))
    if description:
        lines.append(description)
    if not lines and from_inspection:
        lines.append(str(_l("Inspection failed.")))
    return "\n".join(lines)


def hazard_description(hazard: Hazard) -> str:
    """The hazard's description as read (API, map popups): see ``describe``."""
    labels = [label for _key, label in failed_item_labels(hazard)]
    return describe(hazard.description, labels, hazard.inspection_id is not None)


def hazard_photo_for(photo_id: int, user: User) -> Photo | None:
    """A hazard photo that ``user`` may see, or None (also for inspection photos)."""
    return db.session.scalar(
        visible(user, Photo).where(Photo.id == photo_id, Photo.hazard_id.is_not(None))
    )


def hazard_record(hazard: Hazard) -> dict[str, Any]:
    """The audited view of a hazard (plain values)."""
    longitude = latitude = None
    if hazard.id is not None:
        longitude, latitude = db.session.execute(
            select(longitude_of(Hazard.location), latitude_of(Hazard.location)).where(
                Hazard.id == hazard.id
            )
        ).one()
    return {
        "code": hazard.code,
        "category": hazard.category,
        "severity": hazard.severity,
        "description": hazard.description,
        "failed_items": hazard.failed_items,
        "longitude": longitude,
        "latitude": latitude,
        "asset_id": hazard.asset_id,
        "inspection_id": hazard.inspection_id,
        "grid_id": hazard.grid_id,
        "site_id": hazard.site_id,
        "found_on": hazard.found_on,
        "found_by_id": hazard.found_by_id,
        "reported_by_contractor_id": hazard.reported_by_contractor_id,
        "responsible_company_id": hazard.responsible_company_id,
        "responsible_contractor_id": hazard.responsible_contractor_id,
        "deadline": hazard.deadline,
        "status": hazard.status,
    }


# --- Creating -----------------------------------------------------------------------------


def next_hazard_code(found_on: date) -> str:
    """``HZ-<year>-<number>``, numbered within the year of the finding from the year's counter
    (``HazardCodeCounter``): concurrent reports get distinct numbers, nobody is asked to send
    again. Past 9999 the number grows a digit, so the longest code is the latest."""
    year = found_on.year
    number = _take_hazard_number(year)
    if number is None:  # the year's first hazard: its counter starts after any hazard there
        db.session.execute(
            insert_ignoring_duplicates(HazardCodeCounter.__table__).values(
                year=year, last=_highest_hazard_number(year)
            )
        )
        number = _take_hazard_number(year)
    return f"HZ-{year}-{number:04d}"


def _take_hazard_number(year: int) -> int | None:
    counter = HazardCodeCounter.__table__
    return db.session.execute(
        update(counter)
        .where(counter.c.year == year)
        .values(last=counter.c.last + 1)
        .returning(counter.c.last)
    ).scalar()


def _highest_hazard_number(year: int) -> int:
    """The highest number among the year's hazard codes (0 without any)."""
    prefix = f"HZ-{year}-"
    last = db.session.scalar(
        select(Hazard.code)
        .where(Hazard.code.like(f"{prefix}%"))
        .order_by(func.length(Hazard.code).desc(), Hazard.code.desc())
        .limit(1)
    )
    return int(last.removeprefix(prefix)) if last else 0


def responsible_party_named(name: str, user: User | None) -> PropertyCompany | Contractor | None:
    """The property company called ``name``, else the contractor of that name ``user`` may
    name (staff, or no user: any; a contractor user: only its own, another does not exist
    for it); None when there is neither. Names are unique within each table."""
    company = db.session.scalar(select(PropertyCompany).where(PropertyCompany.name == name))
    if company is not None:
        return company
    contractors = select(Contractor).where(Contractor.name == name)
    if user is not None and not is_staff(user):
        contractors = contractors.where(Contractor.id == user.contractor_id)
    return db.session.scalar(contractors)


class _HazardFields:
    """Reads a hazard's fields from raw ``values``, collecting what is wrong with each one;
    ``create_hazard`` and ``update_hazard`` both check with it, so the rules and messages are
    the same for a new hazard and an edit."""

    def __init__(self, values: Mapping[str, Any]):
        self.values = values
        self.errors: dict[str, str] = {}

    def raise_errors(self) -> None:
        if self.errors:
            raise HazardValidationError(self.errors)

    def choice(self, key: str, allowed: list) -> str | None:
        raw = self.values.get(key)
        if raw in (None, ""):
            self.errors[key] = str(_l("This field is required."))
            return None
        if raw not in {str(member) for member in allowed}:
            self.errors[key] = str(
                _l("Must be one of: %(choices)s.", choices=", ".join(str(m) for m in allowed))
            )
            return None
        return str(raw)

    def date(self, key: str) -> date | None:
        raw = self.values.get(key)
        if raw in (None, ""):
            return None
        if isinstance(raw, date):
            value = raw
        else:
            try:
                value = date.fromisoformat(str(raw).strip())
            except ValueError:
                self.errors[key] = str(_l("Not a date (YYYY-MM-DD)."))
                return None
        if not date_in_range(value):
            self.errors[key] = date_range_message()
            return None
        return value

    def reference(self, key: str, model):
        raw = self.values.get(key)
        if raw in (None, ""):
            return None
        number = id_or_none(raw)
        found = db.session.get(model, number) if number is not None else None
        if found is None:
            self.errors[key] = str(_l("Unknown."))
        return found

    def description(self, required: bool = True) -> str:
        """Required unless the hazard comes from a failed inspection (which says what failed:
        the description is then the inspector's notes, if any)."""
        description = str(self.values.get("description") or "").strip()
        if not description and required:
            self.errors["description"] = str(_l("This field is required."))
        elif len(description) > DESCRIPTION_MAX_LENGTH:
            self.errors["description"] = str(
                _l("At most %(n)s characters.", n=DESCRIPTION_MAX_LENGTH)
            )
        return description

    def found_on(self, today: date) -> date:
        """Default today; not in the future."""
        found_on = self.date("found_on") or today
        if found_on > today:
            self.errors["found_on"] = str(_l("Must not be in the future."))
        return found_on

    def deadline(self, found_on: date, required: bool) -> date | None:
        """Not before ``found_on``; None when not given (refused if ``required``)."""
        deadline = self.date("deadline")
        if deadline is None:
            if required and "deadline" not in self.errors:
                self.errors["deadline"] = str(_l("This field is required."))
        elif deadline < found_on:
            self.errors["deadline"] = str(_l("Must not be before the day the hazard was found."))
        return deadline

    def responsible(
        self, named_by: User | None
    ) -> tuple[PropertyCompany | None, Contractor | None]:
        """A property company or a contractor (not both); a contractor user ``named_by`` may
        name only its own company (another does not exist for it)."""
        if self.values.get("responsible_name") not in (None, ""):
            return self.responsible_named(str(self.values["responsible_name"]).strip(), named_by)
        company = self.reference("responsible_company_id", PropertyCompany)
        contractor = self.reference("responsible_contractor_id", Contractor)
        if (
            contractor is not None
            and named_by is not None
            and not is_staff(named_by)
            and contractor.id != named_by.contractor_id
        ):
            contractor = None  # another contractor does not exist for this user
            self.errors["responsible_contractor_id"] = str(_l("Unknown."))
        if company is not None and contractor is not None:
            self.errors["responsible_contractor_id"] = str(
                _l("Name either a property company or a contractor, not both.")
            )
        return company, contractor

    def responsible_named(
        self, name: str, named_by: User | None
    ) -> tuple[PropertyCompany | None, Contractor | None]:
        """The property company called ``name``, else the contractor (one ``named_by`` may
        name): a form past ``FORM_SELECT_LIMIT`` companies names the party by typing."""
        party = responsible_party_named(name, named_by)
        if party is None:
            self.errors["responsible_name"] = str(
                _l("No property company or contractor is named %(name)s.", name=name)
            )
        if isinstance(party, PropertyCompany):
            return party, None
        return None, party

    def asset(self, asset: Asset | None) -> Asset | None:
        """``asset``, else the one ``asset_code`` names (if any)."""
        if asset is None and self.values.get("asset_code") not in (None, ""):
            asset = asset_by_code(str(self.values["asset_code"]))
            if asset is None:
                self.errors["asset_code"] = str(_l("No asset has this code."))
        return asset

    def point_given(self) -> bool:
        return any(self.values.get(key) not in (None, "") for key in ("longitude", "latitude"))

    def point(self, asset: Asset | None) -> tuple[float | None, float | None]:
        """The typed point, else the asset's."""
        if not self.point_given() and asset is not None:
            return db.session.execute(
                select(longitude_of(Asset.location), latitude_of(Asset.location)).where(
                    Asset.id == asset.id
                )
            ).one()
        if not self.point_given() and "asset_code" in self.errors:
            return None, None  # the unknown asset code is the one thing to fix
        longitude = parse_coordinate(self.values.get("longitude"), "longitude", 180, self.errors)
        latitude = parse_coordinate(self.values.get("latitude"), "latitude", 90, self.errors)
        if longitude is not None and latitude is not None:
            problem = location_problem(longitude, latitude)
            if problem:
                self.errors["location"] = problem
        return longitude, latitude

    def site(self, asset: Asset | None) -> Site | None:
        """``site_id`` or ``site_name`` (a site's name, typed in a form past
        ``FORM_SELECT_LIMIT`` sites), else the asset's site."""
        site = self.reference("site_id", Site)
        name = str(self.values.get("site_name") or "").strip()
        if site is None and name:
            site = site_named(name)
            if site is None:
                self.errors["site_name"] = str(_l("Unknown site: %(name)s.", name=name))
        if site is None and asset is not None and not {"site_id", "site_name"} & set(self.errors):
            site = asset.site
        return site

    def grid(self, asset: Asset | None, longitude: float | None, latitude: float | None):
        """The grid of the point; a typed point outside every grid is refused when
        STRICT_DISTRICT is on (an asset's point is taken as it is)."""
        if longitude is None or latitude is None or "location" in self.errors:
            return None
        grid = PointGridLocator().grid_for(longitude, latitude)
        point_typed_in = asset is None or self.point_given()
        if grid is None and point_typed_in and current_app.config["STRICT_DISTRICT"]:
            self.errors["location"] = str(_l("The point lies outside every grid of the district."))
        return grid


def create_hazard(
    values: Mapping[str, Any],
    *,
    found_by: User | None,
    asset: Asset | None = None,
    inspection_id: int | None = None,
    failed_items: Sequence[str] | None = None,
    today: date | None = None,
) -> Hazard:
    """Validate and add a hazard with its first event and audit entry; the caller commits.

    ``values`` may hold: category, severity, description, asset_code (when ``asset`` is not
    given), longitude and latitude (default: the asset's point), site_id (default: the
    asset's site) or site_name, found_on (default today; not in the future), deadline
    (default by severity; not before found_on), responsible_company_id or
    responsible_contractor_id or responsible_name (a company's, else a contractor's name;
    default: the site's property company). A contractor user may name only its own company
    as the responsible contractor. A hazard opened by a failed inspection (``inspection_id``)
    keeps the checklist keys it failed (``failed_items``) and may have no description.
    Raises HazardValidationError naming the fields.
    """
    today = district_today() if today is None else today
    check = _HazardFields(values)
    asset = check.asset(asset)
    category = check.choice("category", list(HazardCategory))
    severity = check.choice("severity", list(HazardSeverity))
    description = check.description(required=inspection_id is None)
    longitude, latitude = check.point(asset)
    site = check.site(asset)
    company, contractor = check.responsible(found_by)
    if company is None and contractor is None and site is not None:
        company = site.property_company
    found_on = check.found_on(today)
    deadline = check.deadline(found_on, required=False)
    grid = check.grid(asset, longitude, latitude)
    check.raise_errors()
    if deadline is None:
        deadline = default_deadline(severity, found_on)

    hazard = Hazard(
        code=next_hazard_code(found_on),
        category=category,
        severity=severity,
        description=description,
        location=point_value(longitude, latitude),
        asset_id=asset.id if asset is not None else None,
        inspection_id=inspection_id,
        failed_items=list(failed_items) if failed_items is not None else None,
        grid_id=grid.id if grid is not None else None,
        site_id=site.id if site is not None else None,
        found_on=found_on,
        found_by_id=found_by.id if found_by is not None else None,
        reported_by_contractor_id=found_by.contractor_id if found_by is not None else None,
        responsible_company_id=company.id if company is not None else None,
        responsible_contractor_id=contractor.id if contractor is not None else None,
        deadline=deadline,
        status=HazardStatus.OPEN,
        status_changed_at=now_utc(),
    )
    db.session.add(hazard)
    db.session.flush()
    _add_event(hazard, None, HazardStatus.OPEN, found_by, None)
    record_change("create", "hazard", hazard.code, None, hazard_record(hazard))
    return hazard


def open_hazard_for_failed_inspection(inspection, inspector: User | None) -> Hazard:
    """The hazard a failed inspection opens: on the asset's point, its category by asset kind,
    general severity; it keeps the failed checklist items by key (labelled when read, in the
    reader's language), the notes as its description, and the inspection's photos as its
    "before" photos (the same files, not copies)."""
    asset = inspection.asset
    failed = [key for key, answer in (inspection.answers or {}).items() if answer == "fail"]
    found_on = (
        inspection.completed_at.astimezone(district_zone()).date()
        if inspection.completed_at
        else None
    )
    values = {
        "category": str(FAILED_INSPECTION_CATEGORY.get(asset.kind, HazardCategory.OTHER)),
        "severity": str(HazardSeverity.GENERAL),
        "description": (inspection.notes or "")[:DESCRIPTION_MAX_LENGTH],
        "found_on": found_on,
    }
    hazard = create_hazard(
        values,
        found_by=inspector,
        asset=asset,
        inspection_id=inspection.id,
        failed_items=failed,
    )
    inspection_photos = db.session.scalars(
        select(Photo).where(Photo.inspection_id == inspection.id).order_by(Photo.id)
    ).all()
    if inspection_photos:
        shared = share_photos(list(inspection_photos), hazard_id=hazard.id, stage=PhotoStage.BEFORE)
        record_change(
            "photos",
            "hazard",
            hazard.code,
            None,
            {
                "stage": str(PhotoStage.BEFORE),
                "photos": [photo.stored_name for photo in shared],
                "inspection_id": inspection.id,
            },
        )
    return hazard


# --- The status machine -------------------------------------------------------------------


def allowed_steps(hazard: Hazard, user: User) -> list[str]:
    """The statuses ``user`` may move ``hazard`` to next (reopening not included)."""
    if not may_see(user, hazard):
        return []
    steps = FORWARD_STEPS[HazardStatus(hazard.status)]
    if not is_staff(user):
        steps = steps - {HazardStatus.VERIFIED}
    return [str(step) for step in HazardStatus if step in steps]


def may_reopen(hazard: Hazard, user: User) -> bool:
    return hazard.status in REOPENABLE and is_staff(user)


def may_return_for_rework(hazard: Hazard, user: User) -> bool:
    return hazard.status == HazardStatus.RECTIFIED and is_staff(user)


def fresh_after_photo_count(hazard: Hazard) -> int:
    """The hazard's "after" photos added since its status last changed (those of an earlier,
    returned rectification do not count for the next one)."""
    return (
        db.session.scalar(
            select(func.count(Photo.id)).where(
                Photo.hazard_id == hazard.id,
                Photo.stage == PhotoStage.AFTER,
                Photo.uploaded_at >= hazard.status_changed_at,
            )
        )
        or 0
    )


def change_hazard_status(
    hazard: Hazard,
    new_status: str,
    user: User,
    note: str | None = None,
    photos: Sequence[FileStorage] = (),
) -> Hazard:
    """Move the hazard one step forward, storing ``photos`` as its "after" photos; raise
    TransitionError if the machine does not allow it (TransitionForbidden if the user's role
    does not, TransitionInputError for a status that does not exist or a rectification without
    an "after" photo, PhotoError for a bad image), all before anything is written. Verifying
    puts a faulty asset back in service once it has no other unverified hazard."""
    if new_status not in {str(status) for status in HazardStatus}:
        raise TransitionInputError(_l("Unknown status %(status)s.", status=new_status), "status")
    if new_status == HazardStatus.OPEN:
        raise TransitionError(_l("Reopen a hazard with a reason instead."))
    if new_status not in FORWARD_STEPS[HazardStatus(hazard.status)]:
        raise TransitionError(
            _l(
                "A hazard cannot go from %(old)s to %(new)s.",
                old=HAZARD_STATUS_LABELS[HazardStatus(hazard.status)],
                new=HAZARD_STATUS_LABELS[HazardStatus(new_status)],
            )
        )
    if not may_see(user, hazard):
        raise TransitionForbidden(_l("This hazard is not yours to change."))
    if new_status not in allowed_steps(hazard, user):
        raise TransitionForbidden(_l("Only a safety officer verifies a rectification."))
    checked = check_photos(list(photos))
    if (
        new_status == HazardStatus.RECTIFIED
        and not checked
        and fresh_after_photo_count(hazard) == 0
    ):
        raise TransitionInputError(
            _l("A rectification needs at least one photo taken after it."), "photos"
        )
    _move(hazard, new_status, user, (note or "").strip() or None)
    _store_photos(hazard, checked, PhotoStage.AFTER, user)
    if new_status == HazardStatus.VERIFIED:
        _return_asset_to_service(hazard)
    return hazard


def reopen_hazard(hazard: Hazard, user: User, reason: str) -> Hazard:
    """Back to open, by an officer or administrator, with a reason (kept as the event note)."""
    reason = (reason or "").strip()
    if hazard.status not in REOPENABLE:
        raise TransitionError(_l("Only a hazard under way or done can be reopened."))
    if not is_staff(user):
        raise TransitionForbidden(_l("Only a safety officer reopens a hazard."))
    if not reason:
        raise TransitionInputError(_l("Give a reason for reopening."), "reason")
    _move(hazard, HazardStatus.OPEN, user, reason)
    return hazard


def return_for_rework(hazard: Hazard, user: User, reason: str) -> Hazard:
    """A rectified hazard back to rectifying, by an officer or administrator, with a reason
    (the event note; audited as a return for rework). Its next rectification needs a new
    "after" photo."""
    reason = (reason or "").strip()
    if hazard.status != HazardStatus.RECTIFIED:
        raise TransitionError(_l("Only a rectified hazard can be returned for rework."))
    if not is_staff(user):
        raise TransitionForbidden(_l("Only a safety officer returns a hazard for rework."))
    if not reason:
        raise TransitionInputError(_l("Give a reason for returning it for rework."), "reason")
    _move(hazard, HazardStatus.RECTIFYING, user, reason, returned_for_rework=True)
    return hazard


# --- Editing and photos -------------------------------------------------------------------

EDITABLE_FIELDS = (
    "severity",
    "deadline",
    "description",
    "responsible_company_id",
    "responsible_contractor_id",
)


def update_hazard(hazard: Hazard, values: Mapping[str, Any]) -> Hazard:
    """Change severity, deadline, description and responsible party (staff only; the caller
    checks the role). Keys left out keep their values; the responsible party is replaced as
    a whole when any of its keys is given (responsible_name: a company's or contractor's
    name). The deadline stays on or after found_on. Raises HazardValidationError naming the
    fields; audited with the changed values."""
    check = _HazardFields(values)
    before = hazard_record(hazard)
    severity, description, deadline = hazard.severity, hazard.description, hazard.deadline
    if "severity" in values:
        severity = check.choice("severity", list(HazardSeverity))
    if "description" in values:
        description = check.description(required=hazard.inspection_id is None)
    if "deadline" in values:
        deadline = check.deadline(hazard.found_on, required=True)
    company_id, contractor_id = hazard.responsible_company_id, hazard.responsible_contractor_id
    if {"responsible_company_id", "responsible_contractor_id", "responsible_name"} & set(values):
        company, contractor = check.responsible(None)
        company_id = company.id if company is not None else None
        contractor_id = contractor.id if contractor is not None else None
    check.raise_errors()
    hazard.severity = severity
    hazard.description = description
    hazard.deadline = deadline
    hazard.responsible_company_id = company_id
    hazard.responsible_contractor_id = contractor_id
    db.session.flush()
    old, new = changed_fields(before, hazard_record(hazard))
    if new:
        record_change("update", "hazard", hazard.code, old, new)
    return hazard


def add_hazard_photos(
    hazard: Hazard, uploads: list[FileStorage], stage: str, user: User | None
) -> list[Photo]:
    """Check every upload (PhotoError before anything is written), then store them as the
    hazard's ``stage`` photos (before: the finding, after: the rectification)."""
    if stage not in {str(member) for member in PhotoStage}:
        raise HazardValidationError({"stage": str(_l("Must be before or after."))})
    return _store_photos(hazard, check_photos(uploads), stage, user)


def _store_photos(
    hazard: Hazard, checked: list[CheckedPhoto], stage: str, user: User | None
) -> list[Photo]:
    if not checked:
        return []
    photos = add_photos(
        checked,
        hazard_id=hazard.id,
        stage=stage,
        uploaded_by_id=user.id if user is not None else None,
    )
    db.session.flush()
    record_change(
        "photos",
        "hazard",
        hazard.code,
        None,
        {"stage": stage, "photos": [photo.stored_name for photo in photos]},
    )
    return photos


STEPPED_MEANWHILE = _l(
    "Someone else changed this hazard's status at the same moment; look at it again."
)


def _move(
    hazard: Hazard,
    new_status: str,
    user: User | None,
    note: str | None,
    returned_for_rework: bool = False,
) -> None:
    """Step the hazard from the status it was read with: a compare-and-set
    (``UPDATE … WHERE status = :old``), so of racing steps from one status exactly one is
    made and the others are TransitionError (409)."""
    old_status = hazard.status
    now = now_utc()
    moved = db.session.execute(
        update(Hazard)
        .where(Hazard.id == hazard.id, Hazard.status == old_status)
        .values(status=new_status, status_changed_at=now)
        .execution_options(synchronize_session=False)
    )
    if moved.rowcount != 1:
        # Another request moved it since it was read (PostgreSQL: after waiting for its row
        # lock): its step stands, this one was decided on a status that is gone.
        raise TransitionError(STEPPED_MEANWHILE)
    hazard.status = new_status
    hazard.status_changed_at = now
    _add_event(hazard, old_status, new_status, user, note)
    after: dict[str, Any] = {"status": new_status, "note": note}
    if returned_for_rework:
        after["returned_for_rework"] = True
    record_change("status", "hazard", hazard.code, {"status": old_status}, after)


def _add_event(
    hazard: Hazard, old: str | None, new: str, user: User | None, note: str | None
) -> HazardEvent:
    event = HazardEvent(
        hazard_id=hazard.id,
        from_status=str(old) if old is not None else None,
        to_status=str(new),
        actor_id=user.id if user is not None else None,
        actor=user.email if user is not None else COMMAND_LINE,
        at=now_utc(),
        note=note,
    )
    db.session.add(event)
    return event


def _return_asset_to_service(hazard: Hazard) -> None:
    asset = hazard.asset
    if asset is None or asset.status != AssetStatus.FAULTY:
        return
    db.session.flush()
    others = db.session.scalar(
        select(func.count())
        .select_from(Hazard)
        .where(Hazard.asset_id == asset.id, Hazard.id != hazard.id, open_hazard_clause())
    )
    if others == 0 and step_asset_status(asset, AssetStatus.FAULTY, AssetStatus.ACTIVE):
        record_change("status", "asset", asset.code, {"status": "faulty"}, {"status": "active"})
