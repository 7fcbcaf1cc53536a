"""Griffe extension for the API reference (mkdocs.yml): Sphinx roles in labcode's docstrings.

The docstrings write ``:func:`load_mnist```, ``:class:`~labcode.plotstyle.LabFigure```, as
``help()`` shows them; mkdocstrings renders docstrings as Markdown, where a role would show as
raw text. Each role becomes inline code with the name as written (``~`` keeps the last part).
"""

from __future__ import annotations

import re
from typing import Any

import griffe

ROLE = re.compile(r":(?:py:)?[a-z]+:`~?([^`]+)`")


def strip_roles(text: str) -> str:
    """``:func:`a.b``` -> ```a.b```; ``:class:`~a.B``` -> ```B```."""

    def code(match: re.Match[str]) -> str:
        name = match.group(1)
        if match.group(0).split("`")[1].startswith("~"):
            name = name.rsplit(".", 1)[-1]
        return f"`{name}`"

    return ROLE.sub(code, text)


class SphinxRoles(griffe.Extension):
    """Rewrite the roles in every docstring griffe loads."""

    def on_object(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = strip_roles(obj.docstring.value)
