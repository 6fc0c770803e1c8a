"""Marshmallow schemas of the JSON API: query arguments and request bodies are loaded with
them; responses are built directly (for speed) but documented with them in OpenAPI."""

from __future__ import annotations

import math
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates

from assets.kinds import KINDS
from assets.models import AssetStatus
from assets.services import CODE_MAX_LENGTH, TEXT_LIMITS
from core.api import PagedSchema, PageQuerySchema, QuerySchema
from core.spatial import BBox

STATUSES = [status.value for status in AssetStatus]


def either_case(text: str) -> str:
    return "".join(f"[{char.upper()}{char.lower()}]" if char.isalpha() else char for char in text)


# The codes the kinds take (``AssetKind.code_pattern``), in either case and with spaces
# around (the registry trims and upper-cases), at most CODE_MAX_LENGTH characters.
CODE_PATTERN = (
    r"^\s*("
    + "|".join(
        rf"{either_case(kind.code_prefix)}-[0-9]{{{kind.code_digits},"
        rf"{CODE_MAX_LENGTH - len(kind.code_prefix) - 1}}}"
        for kind in KINDS.values()
    )
    + r")\s*$"
)
REQUIRED_ATTRIBUTES = "; ".join(
    f"{name}: {', '.join(f.name for f in kind.fields if f.required) or 'none'}"
    for name, kind in KINDS.items()
)


class BBoxField(fields.Field):
    """``minLon,minLat,maxLon,maxLat`` → :class:`BBox`."""

    def _deserialize(self, value: Any, attr, data, **kwargs) -> BBox:
        parts = str(value).split(",")
        if len(parts) != 4:
            raise ValidationError("Four numbers are needed: minLon,minLat,maxLon,maxLat.")
        try:
            numbers = [float(part) for part in parts]
        except ValueError:
            raise ValidationError("Not a number in minLon,minLat,maxLon,maxLat.") from None
        if not all(math.isfinite(number) for number in numbers):
            raise ValidationError("The numbers must be finite.")
        min_lon, min_lat, max_lon, max_lat = numbers
        if not (-180 <= min_lon <= 180 and -180 <= max_lon <= 180):
            raise ValidationError("Longitudes must be between -180 and 180.")
        if not (-90 <= min_lat <= 90 and -90 <= max_lat <= 90):
            raise ValidationError("Latitudes must be between -90 and 90.")
        if not (min_lon < max_lon and min_lat < max_lat):
            raise ValidationError("The minimum must be less than the maximum.")
        return BBox(min_lon, min_lat, max_lon, max_lat)


class AssetQuerySchema(PageQuerySchema):
    kind = fields.String(validate=validate.OneOf(list(KINDS)))
    status = fields.String(validate=validate.OneOf(STATUSES))
    grid = fields.String(
        metadata={"description": "Grid code; a first-level grid includes its children."}
    )
    bbox = BBoxField(
        metadata={
            "description": "minLon,minLat,maxLon,maxLat (WGS-84)",
            "type": "string",
            "example": "119.10,36.70,119.20,36.73",
        }
    )
    q = fields.String(
        validate=validate.Length(max=200),
        metadata={"description": "Text search in code, name and address."},
    )


class GridQuerySchema(QuerySchema):
    level = fields.Integer(validate=validate.OneOf([1, 2]))


class AssetInputSchema(Schema):
    """The body of POST (all required fields) and PATCH (loaded with ``partial=True``).

    Only shapes and types are checked here; the registry's rules (kinds, attributes, the
    district, swapped coordinates) are checked by ``assets.services``. The grid is derived
    from the point: a ``grid`` key is refused.
    """

    code = fields.String(
        required=True,
        metadata={
            "example": "CS-001",
            "pattern": CODE_PATTERN,
            "description": "The kind's prefix and number (CS-001, EB-0001), at most "
            f"{CODE_MAX_LENGTH} characters.",
        },
    )
    kind = fields.String(required=True, metadata={"enum": list(KINDS)})
    name = fields.String(required=True, validate=validate.Length(max=TEXT_LIMITS["name"]))
    longitude = fields.Float(required=True, metadata={"minimum": -180, "maximum": 180})
    latitude = fields.Float(required=True, metadata={"minimum": -90, "maximum": 90})
    site = fields.String(
        allow_none=True, validate=validate.Length(max=200), metadata={"description": "Site name"}
    )
    address = fields.String(allow_none=True, validate=validate.Length(max=TEXT_LIMITS["address"]))
    status = fields.String(metadata={"enum": STATUSES})
    installed_on = fields.Date(
        allow_none=True, metadata={"description": "From 2000-01-01, not in the future."}
    )
    manufacturer = fields.String(
        allow_none=True, validate=validate.Length(max=TEXT_LIMITS["manufacturer"])
    )
    model = fields.String(allow_none=True, validate=validate.Length(max=TEXT_LIMITS["model"]))
    serial_number = fields.String(
        allow_none=True, validate=validate.Length(max=TEXT_LIMITS["serial_number"])
    )
    notes = fields.String(allow_none=True)
    attributes = fields.Dict(
        keys=fields.String(),
        allow_none=True,
        metadata={
            "description": "Kind-specific attributes; required when an asset is registered: "
            + REQUIRED_ATTRIBUTES
            + "."
        },
    )
    grid = fields.Raw(
        load_only=True,
        metadata={"description": "Not accepted: the grid is derived from the location."},
    )

    @validates("grid")
    def refuse_grid(self, _value: Any, **_kwargs) -> None:
        raise ValidationError("The grid is derived from the location and cannot be set.")


# Response documentation only.


class PointSchema(Schema):
    type = fields.String(metadata={"enum": ["Point"]})
    coordinates = fields.List(fields.Float(), metadata={"description": "[longitude, latitude]"})


class AssetPropertiesSchema(Schema):
    code = fields.String()
    kind = fields.String()
    name = fields.String()
    status = fields.String(metadata={"enum": STATUSES})
    grid = fields.String(allow_none=True)
    site = fields.String(allow_none=True)
    address = fields.String(allow_none=True)
    installed_on = fields.Date(allow_none=True)
    manufacturer = fields.String(allow_none=True)
    model = fields.String(allow_none=True)
    serial_number = fields.String(allow_none=True)
    attributes = fields.Dict(keys=fields.String())


class ChecklistItemSchema(Schema):
    """One item of an asset kind's checklist (``assets.kinds``): its key, which answers and
    stored records use, and its label in the request's language."""

    key = fields.String(metadata={"example": "cutoff_when_full"})
    label = fields.String(
        metadata={
            "description": "In the request's language (Accept-Language, else the user's).",
            "example": "Chargers cut off when the battery is full",
        }
    )


class PointFeatureSchema(Schema):
    """A GeoJSON Feature with a point; subclasses say what its properties are."""

    type = fields.String(metadata={"enum": ["Feature"]})
    id = fields.String()
    geometry = fields.Nested(PointSchema)


class AssetFeatureSchema(PointFeatureSchema):
    properties = fields.Nested(AssetPropertiesSchema)


class AssetCollectionSchema(PagedSchema):
    type = fields.String(metadata={"enum": ["FeatureCollection"]})
    features = fields.List(fields.Nested(AssetFeatureSchema))


class PolygonSchema(Schema):
    type = fields.String(metadata={"enum": ["Polygon"]})
    coordinates = fields.List(fields.List(fields.List(fields.Float())))


class GridPropertiesSchema(Schema):
    code = fields.String()
    name = fields.String()
    level = fields.Integer()
    parent = fields.String(allow_none=True)
    leader_name = fields.String(allow_none=True)
    leader_phone = fields.String(allow_none=True)


class GridFeatureSchema(Schema):
    type = fields.String(metadata={"enum": ["Feature"]})
    id = fields.String()
    geometry = fields.Nested(PolygonSchema)
    properties = fields.Nested(GridPropertiesSchema)


class GridCollectionSchema(Schema):
    type = fields.String(metadata={"enum": ["FeatureCollection"]})
    features = fields.List(fields.Nested(GridFeatureSchema))


class AssetChangesSchema(AssetInputSchema):
    """The body of PATCH: any subset of the fields (loaded with ``partial=True``)."""
