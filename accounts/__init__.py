from accounts.views import bp

__all__ = ["bp"]
