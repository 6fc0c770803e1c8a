from assets.views import bp

__all__ = ["bp"]
