"""Infrastructure shared by every feature package: extensions, the spatial dialect layer,
column types, the audit trail, error pages and the interface language."""
