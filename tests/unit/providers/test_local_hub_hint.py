"""The hint of a local fleet whose hub is down names the state the fleet lives in when it is
not the user's default (a test session's, a demo's): followed as it was, `fault clear` and
`up` acted on the default state and did nothing for the fleet that was meant."""

from __future__ import annotations

import shlex

import pytest

from kindfleet.errors import PrerequisiteError
from kindfleet.fleetspec import from_text
from kindfleet.providers.local import LocalLayout, require_running_hub

FLEET = from_text(
    "apiVersion: kindfleet.dev/v1alpha1\nkind: Fleet\nname: h\nprovider: local\nspokes: 1\n"
)


def test_the_hint_names_a_state_other_than_the_default(tmp_path, monkeypatch):
    monkeypatch.setenv("KINDFLEET_STATE_DIR", str(tmp_path / "default"))
    with pytest.raises(PrerequisiteError) as default:
        require_running_hub(LocalLayout("h"), FLEET)
    assert "`kindfleet fault clear -f" in str(default.value.hint)
    assert "KINDFLEET_STATE_DIR" not in str(default.value.hint)
    session = tmp_path / "a session's state"
    with pytest.raises(PrerequisiteError) as other:
        require_running_hub(LocalLayout("h", session), FLEET)
    env = f"KINDFLEET_STATE_DIR={shlex.quote(str(session))}"  # quoted for the shell
    assert f"`{env} kindfleet fault clear -f" in str(other.value.hint)
    assert f"`{env} kindfleet up -f" in str(other.value.hint)
