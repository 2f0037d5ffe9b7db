"""Long messages in narrow layouts: wrapped, the first line with an icon, the rest aligned."""

import textwrap


def draw_wrapped(layout, text: str, width: int, icon: str = "ERROR") -> None:
    column = layout.column(align=True)
    for index, line in enumerate(textwrap.wrap(text, width)):
        column.label(text=line, icon=icon if index == 0 else "BLANK1")
