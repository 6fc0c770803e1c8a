"""Who may see what: the one access policy, as an SQL filter and a Python check (twins).

- Staff (admins and officers) and the system itself (``user`` None: the command line, the
  scheduler, benchmarks) see every record.
- A contractor's user acts for its company (``acting_contractor_id``) and sees a record only
  when its company owns it. Each scoped model says how it is owned:
  ``owner_columns`` names the columns that hold the owning contractor (an inspection: the
  contractor doing it; a hazard: the contractor that reported it or is responsible for it; a
  calendar feed and the on-time totals: their contractor), and ``owner_relations`` names the
  records it is seen through (a photo: its inspection or hazard; an asset: the contractors
  with an inspection of it, pairs the database keeps from the inspections,
  ``assets.models.ContractorAsset``). For a contractor, a record it may not see does not
  exist (404, never 403).
- Anyone else (a contractor user without a company) sees nothing.
- A contract ends on its date: once the district's today is past the company's
  ``active_until`` (the last day of the contract), its users are nobody (``contract_ended``):
  sign-in is refused, sessions and API tokens stop working (``accounts.services`` asks here
  when it loads a user), the calendar feed is gone (410), and they see nothing.
- An audit entry (an asset's history) is seen by a contractor only when its actor is one
  of its company's users (``audit_actor_clause``): what the company itself did, never
  another company's work nor the district's own notes.

Every list, detail page, map, dashboard number, email and export asks here: ``visible(user,
Model)`` (a select), ``visible_clause(user, Model)`` (a WHERE condition) or ``may_see(user,
record)``. Role checks (who may verify, plan, administer) use ``is_staff``.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, Select, false, or_, select, true

from accounts.models import Contractor, Role, User
from core.audit import AuditEntry
from core.clock import district_today


def is_staff(user: User | None) -> bool:
    """Admins and officers: the district's own people."""
    return user is not None and user.is_staff


def sees_everything(user: User | None) -> bool:
    """Staff, and the system itself (no user)."""
    return user is None or is_staff(user)


def contract_over(contractor: Contractor | None, today: date | None = None) -> bool:
    """Whether ``contractor``'s contract has ended: the district's today is past its
    ``active_until`` (that day itself is still in the contract)."""
    if contractor is None or contractor.active_until is None:
        return False
    return contractor.active_until < (today or district_today())


def contract_ended(user: User | None) -> bool:
    """Whether ``user`` acts for a company whose contract has ended (then nobody)."""
    return user is not None and user.role == Role.CONTRACTOR and contract_over(user.contractor)


def acting_contractor_id(user: User | None) -> int | None:
    """The contractor company whose records ``user`` sees, or None (staff, nobody's, or a
    company whose contract has ended)."""
    if user is None or is_staff(user) or user.role != Role.CONTRACTOR:
        return None
    if contract_ended(user):
        return None
    return user.contractor_id


def visible_clause(user: User | None, model: Any) -> ColumnElement[bool]:
    """The WHERE condition selecting the ``model`` rows ``user`` may see."""
    if sees_everything(user):
        return true()
    contractor_id = acting_contractor_id(user)
    if contractor_id is None:
        return false()
    conditions = [
        getattr(model, column) == contractor_id for column in getattr(model, "owner_columns", ())
    ]
    for name in getattr(model, "owner_relations", ()):
        relation = getattr(model, name)
        parent_clause = visible_clause(user, relation.property.mapper.class_)
        if relation.property.uselist:
            conditions.append(relation.any(parent_clause))
        else:
            conditions.append(relation.has(parent_clause))
    return or_(*conditions) if conditions else false()


def visible(user: User | None, model: Any) -> Select:
    """``select(model)`` limited to the rows ``user`` may see."""
    query = select(model)
    return query if sees_everything(user) else query.where(visible_clause(user, model))


def audit_actor_clause(user: User | None) -> ColumnElement[bool]:
    """The audit entries ``user`` may read: all for staff and the system; for a contractor,
    those whose actor (``AuditEntry.user_id``) is a user of its company."""
    if sees_everything(user):
        return true()
    contractor_id = acting_contractor_id(user)
    if contractor_id is None:
        return false()
    company_users = select(User.id).where(User.contractor_id == contractor_id)
    return AuditEntry.user_id.in_(company_users)


def may_see(user: User | None, record: Any) -> bool:
    """The Python twin of ``visible_clause`` for one loaded record."""
    if sees_everything(user):
        return True
    contractor_id = acting_contractor_id(user)
    if contractor_id is None or record is None:
        return False
    owner_columns = getattr(type(record), "owner_columns", ())
    if any(getattr(record, column) == contractor_id for column in owner_columns):
        return True
    for name in getattr(type(record), "owner_relations", ()):
        related = getattr(record, name)
        records = related if isinstance(related, list) else [related]
        if any(may_see(user, parent) for parent in records if parent is not None):
            return True
    return False
