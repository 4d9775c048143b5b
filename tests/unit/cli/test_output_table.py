"""Tables as kubectl prints them: one line per row, columns two spaces apart, cells as
written."""

from kindfleet.cli import output


def test_a_table_is_aligned_one_line_per_row_with_cells_as_written(capsys):
    output.table(
        "spokes",
        ["NAME", "STATE", "REASON"],
        [("s1", "Ready", None), ("spoke-two", "[red]Lost[/]", "no heartbeat\nfor 30 s")],
    )
    lines = capsys.readouterr().out.splitlines()
    assert lines == [
        "spokes",
        "NAME       STATE         REASON",
        "s1         Ready",
        "spoke-two  [red]Lost[/]  no heartbeat for 30 s",
    ]


def test_a_cell_cannot_drive_the_terminal(capsys):
    """A spoke's message or a run's words with an escape sequence (clear the screen, retitle
    the window, forge the lines above) is shown as the escape it is."""
    output.table(None, ["MESSAGE"], [("done\x1b[2J\x1b]0;owned\x07\x9b1m\x7f",)])
    assert capsys.readouterr().out.splitlines()[1] == "done\\x1b[2J\\x1b]0;owned\\x07\\x9b1m\\x7f"


def test_a_cell_cannot_reorder_the_line_nor_break_the_columns(capsys):
    output.table(None, ["A", "B"], [("x\u202eevil\tgap", "y")])
    assert capsys.readouterr().out.splitlines()[1] == "x\\u202eevil gap  y"
