"""Maps: every asset's status at a glance, drawn with folium, working on a closed network."""

from maps.views import bp

__all__ = ["bp"]
