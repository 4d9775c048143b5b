"""The Docker engine not answering is one clear error, whichever command met it."""

import pytest

from kindfleet.exec import CommandError, CommandNotFound, Result, cmd
from kindfleet.fleetspec import from_text
from kindfleet.providers.base import CreateOptions, ProviderSettings
from kindfleet.providers.kind import KindProvider
from kindfleet.providers.kind.engine import EngineAwareRunner, EngineDown

KIND_SAYS = (
    'ERROR: failed to list clusters: command "docker ps -a --filter label=io.x-k8s.kind.cluster '
    '--format \'{{.Label "io.x-k8s.kind.cluster"}}\'" failed with error: exit status 1\n\n'
    "Command Output: Cannot connect to the Docker daemon at unix:///var/run/docker.sock. "
    "Is the docker daemon running?\n"
)


class Recorded:
    def __init__(self, code=0, out="", err="", missing=False):
        self.code, self.out, self.err, self.missing = code, out, err, missing

    def run(self, command, *, check=True):
        if self.missing:
            raise CommandNotFound(command)
        result = Result(command, self.code, self.out, self.err)
        if check and not result.ok:
            raise CommandError(result)
        return result


@pytest.mark.parametrize("check", [True, False])
def test_the_engine_down_behind_kind_is_named_with_its_fix(check):
    runner = EngineAwareRunner(Recorded(1, "", KIND_SAYS))
    with pytest.raises(EngineDown) as caught:
        runner.run(cmd("kind", "get", "clusters"), check=check)
    assert caught.value.exit_code == 3
    assert caught.value.message == (
        "Docker engine not reachable: Cannot connect to the Docker daemon at "
        "unix:///var/run/docker.sock. Is the docker daemon running?\n"
        "  (from `kind get clusters`)"
    )
    assert "systemctl start docker" in caught.value.hint
    assert "Cannot connect" in caught.value.output  # what the preflight reads


def test_no_docker_behind_kind_and_missing_programs_say_how_to_install():
    said = 'ERROR: failed to list clusters: ... failed with error: exec: "docker": executable file not found in $PATH\n'
    with pytest.raises(EngineDown) as caught:
        EngineAwareRunner(Recorded(1, "", said)).run(cmd("kind", "get", "clusters"))
    assert caught.value.message.startswith("docker not found on PATH")
    assert "docs.docker.com/engine/install" in caught.value.hint
    for program, words in (("docker", "docs.docker.com"), ("kind", "kind.sigs.k8s.io/dl")):
        with pytest.raises(CommandNotFound) as missing:
            EngineAwareRunner(Recorded(missing=True)).run(cmd(program, "version"))
        assert words in missing.value.hint


def test_other_failures_pass_through_as_they_were():
    runner = EngineAwareRunner(Recorded(1, "", "No such container: x"))
    with pytest.raises(CommandError) as caught:
        runner.run(cmd("docker", "inspect", "x"))
    assert type(caught.value) is CommandError
    assert not runner.run(cmd("docker", "inspect", "x"), check=False).ok


def test_the_engine_lost_while_kind_creates_is_said_as_the_engine_down(tmp_path):
    """Found from outside (dockerd stopped during `up`): the engine's error was wrapped as
    "kind could not create ..." with exit 1 and a hint about --logs-dir."""
    fleet = from_text("apiVersion: kindfleet.dev/v1alpha1\nkind: Fleet\nname: t\n")
    kind = KindProvider(ProviderSettings(env={}, state_dir=tmp_path))

    class DiesAtCreate:  # the engine answers until kind creates, then it is gone
        def run(self, command, *, check=True):
            if tuple(command.argv[:3]) == ("kind", "create", "cluster"):
                return EngineAwareRunner(Recorded(1, "", KIND_SAYS)).run(command, check=check)
            return Result(command, 0, "", "")

    kind.runner = DiesAtCreate()  # type: ignore[assignment]
    kind._network_turn = lambda: None  # type: ignore[method-assign]  # the network is there
    with pytest.raises(EngineDown) as caught:
        kind.create(fleet, fleet.hub, CreateOptions(kubeconfig=None))
    assert caught.value.exit_code == 3
    assert caught.value.message.startswith("Docker engine not reachable")
