"""An officer's grid scope: the grid his weekly email is about, and where his pages open.

An administrator may give an officer a grid (``User.grid``, a first- or second-level grid;
none is the whole district). The weekly overdue email then covers that grid and its
second-level children only (``alerts.services``), and every page that filters by grid (the
dashboard, the map, the asset, inspection and hazard lists) opens on it when the request
names no grid: ``requested_grid`` is the one place that decides. Naming a grid still works,
and so does the "all grids" choice, which his filter forms send as ``ALL_GRIDS`` so that
the links of the page (other pages of the list, sorting, the dashboard's cards) keep it. Admins,
officers without a grid and contractors see the whole district as before.
"""

from __future__ import annotations

from flask import has_request_context, request
from flask_login import current_user

from accounts.models import User

# The "all grids" choice of a user with a scope (``assets.services.in_grid`` matches every
# grid for it); for everyone else the choice stays the empty value.
ALL_GRIDS = "all"


def scope_grid_code(user: User | None) -> str | None:
    """The code of ``user``'s scope grid, or None (the whole district)."""
    if user is None or not user.is_authenticated or not user.has_grid_scope:
        return None
    return user.grid.code if user.grid is not None else None


def requested_grid() -> str:
    """This request's grid filter, as its forms and links carry it: the ``grid`` the query
    string names (``ALL_GRIDS`` or "" for every grid), else the signed-in user's scope grid,
    else "" (every grid)."""
    if "grid" in request.args:
        return request.args.get("grid", "").strip()
    return scope_grid_code(current_user) or ""


def all_grids_value() -> str:
    """The value of the grid filters' "all grids" choice for the signed-in user (templates
    are also rendered outside requests: the weekly email)."""
    if not has_request_context():
        return ""
    return ALL_GRIDS if scope_grid_code(current_user) else ""
