"""What the forms share."""

try:
    from wtforms import SelectChoice
except ImportError:  # WTForms < 3.3 takes plain (value, label) pairs

    def SelectChoice(value, label):
        return (value, label)


__all__ = ["SelectChoice"]
