"""What the forms share."""

from markupsafe import Markup, escape
from wtforms import widgets

try:
    from wtforms import SelectChoice
except ImportError:  # WTForms < 3.3 takes plain (value, label) pairs

    def SelectChoice(value, label):
        return (value, label)


class SelectOrText:
    """A select of the field's choices; when the field is ``typed`` (set by the form when its
    choices grow past a limit: a province's grids) a text input for the value instead, whose
    datalist suggests ``field.suggestions``, (value, label) pairs. The service checks the
    typed value either way."""

    def __call__(self, field, **kwargs):
        if not getattr(field, "typed", False):
            return widgets.Select()(field, **kwargs)
        given = {key: value for key, value in kwargs.items() if value is not False}
        list_id = f"{given.setdefault('id', field.id)}-choices"
        attributes = {
            "value": field.data or "",
            "list": list_id,
            "autocomplete": "off",
            "spellcheck": "false",
            "autocapitalize": "characters",
            **given,
        }
        text = widgets.TextInput()(field, **attributes)
        options = Markup("").join(
            Markup('<option value="{}">{}</option>').format(value, label)
            for value, label in getattr(field, "suggestions", ())
        )
        return Markup('{}<datalist id="{}">{}</datalist>').format(text, escape(list_id), options)


__all__ = ["SelectChoice", "SelectOrText"]
