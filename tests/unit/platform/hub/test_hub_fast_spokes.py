"""What the fast paths take of the spoke routes: only what is certainly well formed."""

import pytest

from kindfleet.platform.hub.api.fastspokes import poll_wait, spoke_route


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/v1/spokes/s1/events", ("s1", "events")),
        ("/v1/spokes/gpu-spoke-2/assignments", ("gpu-spoke-2", "assignments")),
        ("/v1/spokes/S1/events", None),
        ("/v1/spokes/-s/events", None),
        ("/v1/spokes/" + "a" * 64 + "/events", None),
        ("/v1/spokes//events", None),
        ("/v1/spokes/s1/events/", None),
        ("/v1/spokes/s1/heartbeat", None),
        ("/v1/spokes/s1/x/events", None),
        ("/v1/spokes/register", None),
        ("/v2/spokes/s1/events", None),
    ],
)
def test_spoke_route(path, expected):
    assert spoke_route(path) == expected


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (b"", 0.0),
        (b"wait=0", 0.0),
        (b"wait=20", 20.0),
        (b"wait=0.25", 0.25),
        (b"wait=3600", 3600.0),
        (b"wait=3601", None),
        (b"wait=1e1", None),
        (b"wait=-1", None),
        (b"wait=", None),
        (b"wait=0.0001", None),
        (b"wait=%30", None),
        (b"wait=1&wait=2", None),
        (b"wait=1&other=2", None),
        (b"other=1", None),
    ],
)
def test_poll_wait(query, expected):
    assert poll_wait(query) == expected
