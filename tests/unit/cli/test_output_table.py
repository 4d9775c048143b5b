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
