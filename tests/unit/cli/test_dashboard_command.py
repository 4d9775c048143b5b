"""`kindfleet dashboard` opens a browser only where a graphical one can run: elsewhere
`webbrowser` would start a console browser that takes over the operator's terminal."""

from __future__ import annotations

import pytest

from kindfleet.cli.dashboard import can_open


@pytest.mark.parametrize(
    ("env", "platform", "expected"),
    [
        ({}, "linux", False),
        ({"TERM": "xterm"}, "linux", False),  # an SSH session: print the URL only
        ({"DISPLAY": ":0"}, "linux", True),
        ({"WAYLAND_DISPLAY": "wayland-0"}, "linux", True),
        ({"BROWSER": "firefox"}, "linux", True),  # the operator said which
        ({}, "darwin", True),
        ({}, "win32", True),
    ],
)
def test_a_browser_is_opened_only_where_one_can_run(env, platform, expected):
    assert can_open(env, platform) is expected
