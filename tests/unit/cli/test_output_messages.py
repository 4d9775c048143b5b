"""Messages on stderr: one line each, coloured only where a person reads them, never a
crash on what the stream cannot encode."""

import io

import pytest

from kindfleet.cli import output


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture
def terminal(monkeypatch):
    """Call it in the test's body: pytest puts its own stderr back after the fixtures."""

    def install() -> Terminal:
        stream = Terminal()
        monkeypatch.setattr("sys.stderr", stream)
        for name in ("NO_COLOR", "FORCE_COLOR", "TERM"):
            monkeypatch.delenv(name, raising=False)
        return stream

    return install


def test_a_pipe_gets_plain_words(capsys):
    output.success("wrote fleet.yaml")
    output.warn("[spokes] has no labels")
    output.error("no such file", hint="run kindfleet init")
    assert capsys.readouterr().err.splitlines() == [
        "✓ wrote fleet.yaml",
        "warning: [spokes] has no labels",  # a [word] is text, not markup
        "error: no such file",
        "  hint: run kindfleet init",
    ]


def test_a_terminal_gets_colour_unless_told_otherwise(terminal, monkeypatch):
    terminal = terminal()
    output.error("boom")
    assert terminal.getvalue() == "\x1b[31merror:\x1b[0m boom\n"
    for name, value in (("NO_COLOR", "1"), ("TERM", "dumb")):
        with monkeypatch.context() as env:
            env.setenv(name, value)
            terminal.seek(0)
            terminal.truncate()
            output.warn("careful")
            assert terminal.getvalue() == "warning: careful\n"


def test_force_color_colours_a_pipe(capsys, monkeypatch):
    monkeypatch.setenv("FORCE_COLOR", "1")
    monkeypatch.delenv("NO_COLOR", raising=False)
    output.success("done")
    assert capsys.readouterr().err == "\x1b[32m✓\x1b[0m done\n"


def test_a_message_cannot_rewrite_the_line_or_ring(capsys):
    output.info("name\rspoofed\x07\x08 end")
    assert capsys.readouterr().err == "namespoofed end\n"


def test_a_message_cannot_drive_the_terminal(capsys, monkeypatch):
    monkeypatch.setenv("FORCE_COLOR", "1")
    monkeypatch.delenv("NO_COLOR", raising=False)
    output.error("no spoke \x1b[2Jnamed\x1b]0;owned", hint="see\x9b1m")
    assert capsys.readouterr().err.splitlines() == [
        "\x1b[31merror:\x1b[0m no spoke \\x1b[2Jnamed\\x1b]0;owned",  # our colour only
        "  \x1b[2mhint:\x1b[0m see\\x9b1m",
    ]


def test_what_the_stream_cannot_encode_is_escaped(monkeypatch):
    raw = io.BytesIO()
    stream = io.TextIOWrapper(raw, encoding="ascii", write_through=True)
    monkeypatch.setattr("sys.stderr", stream)
    output.success("café \udcff")
    assert raw.getvalue() == b"\\u2713 caf\\xe9 \\udcff\n"


def test_a_checks_words_are_shown_as_written(capsys):
    """A check's message quotes what runs and spokes said: "[/x]" in it was taken for
    markup (a MarkupError, reported as a bug), "[red]" swallowed, an escape sent raw."""
    from kindfleet.checks.model import FAILED, CheckResult
    from kindfleet.cli.checks import _line

    _line(CheckResult("platform", "runs", FAILED, 1.0, "exit 127: [/x] [red]no\x1b[2J"))
    assert "exit 127: [/x] [red]no\\x1b[2J" in capsys.readouterr().err


def test_an_emoji_code_in_what_a_run_said_stays_text(capsys):
    output.console("err").print(":100: done", markup=False, highlight=False)
    assert capsys.readouterr().err == ":100: done\n"


@pytest.mark.parametrize(
    ("flag", "argv", "on"),
    [
        (None, [], False),
        ("0", [], False),
        ("false", [], False),
        (" Off ", [], False),
        ("no", [], False),
        ("1", [], True),
        ("yes", [], True),
        (None, ["kindfleet", "up", "--debug"], True),
    ],
)
def test_kindfleet_debug_reads_as_written(flag, argv, on):
    """Found from outside: KINDFLEET_DEBUG=0 (and =false) turned tracebacks on."""
    from kindfleet.cli import debugging

    assert debugging(flag, argv) is on
