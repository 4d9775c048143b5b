"""Hub settings from flags and KINDFLEET_HUB_* variables; bad ones are UsageErrors."""

from __future__ import annotations

import pytest

from kindfleet.errors import UsageError
from kindfleet.platform.hub.rules.placement import Policy
from kindfleet.platform.hub.settings import HubSettings, from_args


@pytest.fixture
def tokens(tmp_path):
    client, boot = tmp_path / "client", tmp_path / "boot"
    client.write_text("client-secret\n")
    boot.write_text("boot-secret")
    return ["--client-token-file", str(client), "--bootstrap-token-file", str(boot)]


def test_flags(tokens, tmp_path):
    s = from_args(
        ["--store", "sqlite:////x/hub.db", "--port", "0", "--port-file", str(tmp_path / "p"),
         "--lost-after-seconds", "12", "--lease-seconds", "4", "--policy", "binpack", *tokens],
        env={},
    )  # fmt: skip
    assert (s.store, s.port, s.lost_after_seconds, s.lease_seconds) == (
        "sqlite:////x/hub.db",
        0,
        12,
        4,
    )
    assert s.policy is Policy.BINPACK and s.port_file == tmp_path / "p"
    assert (s.client_token, s.fleet_token) == ("client-secret", "boot-secret")


def test_the_fleet_token_is_off_unless_given(tmp_path):
    client = tmp_path / "client"
    client.write_text("client-secret")
    s = from_args(["--store", "sqlite:////x.db", "--client-token-file", str(client)], env={})
    assert s.fleet_token is None
    fleet = tmp_path / "fleet"
    fleet.write_text("fleet-secret")
    s = from_args(
        ["--store", "sqlite:////x.db", "--client-token-file", str(client),
         "--fleet-token-file", str(fleet), "--join-token-ttl-seconds", "60",
         "--guard-max-seconds", "5", "--max-connections", "10"],
        env={},
    )  # fmt: skip
    assert (s.fleet_token, s.join_token_ttl_seconds, s.max_connections) == ("fleet-secret", 60, 10)
    assert s.lease_rules.guard_max_seconds == 5


def test_environment_fills_what_flags_leave_out(tokens):
    env = {"KINDFLEET_HUB_STORE": "sqlite:////e.db", "KINDFLEET_HUB_LOST_AFTER_SECONDS": "45"}
    s = from_args(["--lost-after-seconds", "40", *tokens], env=env)
    assert (s.store, s.lost_after_seconds) == ("sqlite:////e.db", 40)
    assert from_args(tokens, env=env).lost_after_seconds == 45


def test_tokens_never_in_the_repr(tokens):
    s = from_args(["--store", "sqlite:////x.db", *tokens], env={})
    assert "secret" not in repr(s)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([], "no store given"),
        (
            ["--store", "sqlite:////x.db", "--client-token-file", "/nope"],
            "cannot read the client token file",
        ),
        (["--store", "sqlite:////x.db"], "no client token file given"),
    ],
)
def test_incomplete(argv, message):
    with pytest.raises(UsageError, match=message):
        from_args(argv, env={})


def test_lease_order_is_checked(tokens):
    with pytest.raises(UsageError, match="heartbeat-seconds < lease-seconds < lost-after-seconds"):
        from_args(["--store", "sqlite:////x.db", "--lease-seconds", "60", *tokens], env={})


def test_a_token_file_must_hold_one_token(tmp_path):
    two = tmp_path / "two"
    two.write_text("a b")
    with pytest.raises(UsageError, match="exactly one token"):
        from_args(
            ["--store", "s", "--client-token-file", str(two), "--bootstrap-token-file", str(two)],
            env={},
        )


def test_tokens_must_differ():
    with pytest.raises(UsageError, match="must differ"):
        HubSettings(store="sqlite://", client_token="same", fleet_token="same")


def test_a_short_lost_after_brings_the_lease_along(tokens):
    s = from_args(["--store", "sqlite:////x.db", "--lost-after-seconds", "3", *tokens], env={})
    assert (s.heartbeat_seconds, s.lease_seconds, s.lost_after_seconds) == (0.5, 1.5, 3)
    s = from_args(["--store", "sqlite:////x.db", "--lost-after-seconds", "9", *tokens], env={})
    assert (s.heartbeat_seconds, s.lease_seconds) == (2, 6)
