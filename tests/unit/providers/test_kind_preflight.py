"""Every preflight failure, its message and its fix; and the probes against this machine."""

import socket
from pathlib import Path

import pytest

from kindfleet.errors import PrerequisiteError, UsageError
from kindfleet.exec import CommandError, CommandNotFound, Result, cmd
from kindfleet.fleetspec import from_text
from kindfleet.providers.kind import preflight
from kindfleet.providers.preflight import PreflightOptions, kubectl_finding

FLEET = """\
apiVersion: kindfleet.dev/v1alpha1
kind: Fleet
name: pf
registry: {hostPort: 5001}
hub:
  nodes:
    - role: control-plane
      portMappings: [{containerPort: 30080, hostPort: 8080}]
    - role: worker
spokes: 3
"""


def fleet(text=FLEET):
    return from_text(text)


# --- decisions -----------------------------------------------------------------------


def test_docker_missing():
    f = preflight.docker_finding(None, "docker not found on PATH")
    assert (f.severity, f.message) == ("error", "docker not found on PATH")
    assert "docs.docker.com/engine/install" in f.fix


def test_docker_daemon_down():
    error = "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?"
    f = preflight.docker_finding(None, error)
    assert f.severity == "error"
    assert f.message == f"Docker engine not reachable: {error}"
    assert "sudo systemctl start docker" in f.fix and "DOCKER_HOST" in f.fix


def test_docker_permission_denied():
    error = (
        "permission denied while trying to connect to the Docker daemon socket at "
        "unix:///var/run/docker.sock"
    )
    f = preflight.docker_finding(None, error)
    assert f.message == "no permission to talk to the Docker engine"
    assert "usermod -aG docker $USER" in f.fix


def test_docker_ok():
    assert preflight.docker_finding({"ServerVersion": "28.1"}, None).message == "Docker engine 28.1"


def test_cgroup_v1_refuses_node_images_from_1_35_and_warns_for_older_ones():
    v1 = {"CgroupVersion": "1"}
    error = preflight.cgroup_finding(v1, ["v1.34.11", "v1.35.8", "v1.37.0", "unknown"])
    assert error is not None and (error.check, error.severity) == ("cgroup", "error")
    assert "Kubernetes v1.35.8, v1.37.0 refuses to start on it" in error.message
    assert "systemd.unified_cgroup_hierarchy=1" in error.fix and "1.34" in error.fix
    for versions in (["v1.34.11"], ["unknown"], []):
        warning = preflight.cgroup_finding(v1, versions)
        assert warning is not None and warning.severity == "warning"
    assert preflight.cgroup_finding({"CgroupVersion": "2"}, ["v1.37.0"]) is None


def test_cgroup_v1_through_run_is_an_error_that_can_be_skipped():
    info = {"ServerVersion": "28.1", "MemTotal": 32 * 2**30, "CgroupVersion": "1"}
    versioned = fleet(FLEET.replace("name: pf\n", 'name: pf\nkubernetesVersion: "1.35"\n'))
    report = preflight.run(versioned, Probes(info=info), PreflightOptions())
    assert [f.check for f in report.errors] == ["cgroup"]
    skipped = preflight.run(versioned, Probes(info=info), PreflightOptions(skip={"cgroup"}))
    assert skipped.errors == []


def test_kind_missing_old_other_and_pinned():
    missing = preflight.kind_finding(None, "kind not found on PATH")
    assert (missing.severity, missing.message) == ("error", "kind not found on PATH")
    assert "go install sigs.k8s.io/kind@v0.33.0" in missing.fix
    broken = preflight.kind_finding(None, "exec format error")
    assert broken.message == "`kind version` failed: exec format error"
    old = preflight.kind_finding("v0.29.0", None)
    assert old.severity == "error"
    assert old.message == (
        "kind v0.29.0 is too old for the node images of kind v0.33.0 (they need kind v0.32.0 or newer)"
    )
    other = preflight.kind_finding("v0.32.1", None)
    assert other.severity == "warning" and "kind v0.32.1 found" in other.message
    assert preflight.kind_finding("v0.33.0", None).severity == "ok"


def test_kubectl_missing_and_found():
    f = kubectl_finding(None, "kubectl not found on PATH")
    assert (f.severity, f.message) == ("error", "kubectl not found on PATH")
    assert "kubernetes.io/docs/tasks/tools" in f.fix
    assert kubectl_finding("v1.35.0", None).message == "kubectl v1.35.0"


def test_memory_needed_counts_roles():
    spec = fleet()  # 4 control planes, 4 workers, a registry
    expected = (
        4 * preflight.CONTROL_PLANE_BYTES + 4 * preflight.WORKER_BYTES + preflight.REGISTRY_BYTES
    )
    assert preflight.memory_needed(spec) == expected


def test_memory_too_little_tight_and_enough():
    gib = 2**30
    low = preflight.memory_finding(4 * gib, 5 * gib, 8)
    assert low.severity == "error"
    assert low.message == "the fleet's 8 nodes need about 5.0 GiB; the Docker engine has 4.0 GiB"
    assert "Settings > Resources" in low.fix
    assert preflight.memory_finding(int(5.5 * gib), 5 * gib, 8).severity == "warning"
    assert preflight.memory_finding(16 * gib, 5 * gib, 8).severity == "ok"
    assert preflight.memory_finding(None, 5 * gib, 8).severity == "warning"


def test_inotify_gives_the_exact_sysctl():
    f = preflight.inotify_finding(128, 8192, 8)
    assert f.severity == "error"
    assert f.message == (
        "fs.inotify.max_user_instances is 128 (needs 512); fs.inotify.max_user_watches is 8192 "
        "(needs 524288) for a fleet of 8 nodes: pods would fail with 'too many open files'"
    )
    assert f.fix.startswith(
        "`sudo sysctl -w fs.inotify.max_user_instances=512 fs.inotify.max_user_watches=524288`"
    )
    assert "/etc/sysctl.d/99-kindfleet.conf" in f.fix


def test_inotify_scales_with_big_fleets_and_keeps_higher_values():
    assert preflight.inotify_needed(4) == (512, 524288)
    assert preflight.inotify_needed(40) == (40 * 32, 40 * 32768)
    f = preflight.inotify_finding(8192, 100, 8)  # instances fine, watches low
    assert "max_user_instances" not in f.message
    assert "fs.inotify.max_user_instances=8192 fs.inotify.max_user_watches=524288" in f.fix
    assert preflight.inotify_finding(512, 524288, 8).severity == "ok"
    assert preflight.inotify_finding(None, None, 8).severity == "ok"


def test_port_claims_cover_nodes_api_server_and_registry():
    text = FLEET.replace("spokes: 3", "spokes:\n  - networking: {apiServerPort: 6550}")
    claims = preflight.port_claims(fleet(text))
    assert [(c.port, c.owner, c.cluster) for c in claims] == [
        (8080, "node pf-hub-control-plane", "pf-hub"),
        (6550, "pf-spoke1's API server", "pf-spoke1"),
        (5001, "registry pf-registry", None),
    ]


def test_port_in_use_is_named_with_its_owner_and_fix():
    claims = preflight.port_claims(fleet())
    findings = preflight.port_findings(claims, lambda c: c.port != 8080, ours=lambda c: False)
    assert [f.message for f in findings] == [
        "host port 0.0.0.0:8080/tcp (node pf-hub-control-plane) is in use"
    ]
    assert "sport = :8080" in findings[0].fix and "change the port" in findings[0].fix


def test_ports_of_running_clusters_of_the_fleet_are_theirs():
    claims = preflight.port_claims(fleet())
    findings = preflight.port_findings(claims, lambda c: False, ours=lambda c: True)
    assert [f.severity for f in findings] == ["ok"]


# --- run, with probes that say what we want ------------------------------------------


class Probes:
    def __init__(self, **kw):
        self.info = kw.get(
            "info", {"ServerVersion": "28.1", "MemTotal": 32 * 2**30, "CgroupVersion": "2"}
        )
        self.kind = kw.get("kind", "v0.33.0")
        self.kubectl = kw.get("kubectl", "v1.35.0")
        self.limits = kw.get("limits", (8192, 1048576))
        self.busy = set(kw.get("busy", ()))
        self.local = kw.get("local", True)
        self.subnets = kw.get("subnets")  # the kind network's, None: not made yet
        self.calls = []

    def _maybe(self, value, program):
        if isinstance(value, Exception):
            raise value
        if value is None:
            raise CommandNotFound(cmd(program))
        return value

    def docker_info(self):
        self.calls.append("docker")
        return self._maybe(self.info, "docker")

    def kind_version(self):
        self.calls.append("kind")
        return self._maybe(self.kind, "kind")

    def kubectl_version(self):
        self.calls.append("kubectl")
        return self._maybe(self.kubectl, "kubectl")

    def sysctl(self, name):
        return self.limits[0] if name.endswith("instances") else self.limits[1]

    def engine_is_local(self, info):
        return self.local

    def port_free(self, address, port, protocol):
        return port not in self.busy

    def network_subnets(self, name):
        return self.subnets


def test_all_good():
    report = preflight.run(fleet(), Probes(), PreflightOptions())
    assert report.errors == []
    assert report.versions == {"docker": "28.1", "kind": "v0.33.0", "kubectl": "v1.35.0"}
    report.raise_for_errors()


def test_every_failure_is_reported_at_once():
    down = CommandError(Result(cmd("docker", "info"), 1, "", "Cannot connect to the Docker daemon"))
    probes = Probes(info=down, kind=None, kubectl=None, busy={8080, 5001})
    report = preflight.run(fleet(), probes, PreflightOptions())
    assert [f.check for f in report.errors] == ["docker", "kind", "kubectl", "ports", "ports"]
    with pytest.raises(PrerequisiteError) as caught:
        report.raise_for_errors()
    assert caught.value.exit_code == 3
    text = caught.value.message
    assert text.startswith("preflight: 5 checks failed")
    assert "✗ docker: Docker engine not reachable: Cannot connect to the Docker daemon" in text
    assert "✗ kind: kind not found on PATH" in text
    assert "✗ ports: host port 127.0.0.1:5001/tcp (registry pf-registry) is in use" in text
    assert "--skip-check" in caught.value.hint


def test_inotify_and_memory_failures_through_run():
    probes = Probes(info={"ServerVersion": "28.1", "MemTotal": 2**30}, limits=(128, 8192))
    report = preflight.run(fleet(), probes, PreflightOptions())
    assert sorted(f.check for f in report.errors) == ["inotify", "memory"]


def test_inotify_is_not_checked_when_the_engine_is_not_this_kernel():
    report = preflight.run(fleet(), Probes(limits=(1, 1), local=False), PreflightOptions())
    assert [f.severity for f in report.findings if f.check == "inotify"] == ["ok"]


def test_skip_chooses_the_checks():
    probes = Probes(kind=None, limits=(1, 1))
    report = preflight.run(fleet(), probes, PreflightOptions(skip={"kind", "inotify"}))
    assert report.errors == []
    assert "kind" not in probes.calls
    with pytest.raises(UsageError, match="unknown preflight check 'inotfy'"):
        preflight.run(fleet(), Probes(), PreflightOptions(skip={"inotfy"}))


def test_each_provider_checks_what_it_drives():
    from kindfleet.providers.base import ProviderSettings
    from kindfleet.providers.existing import ExistingProvider
    from kindfleet.providers.local import LocalProvider

    class Runner:
        def run(self, command, *, check=True):
            assert command.argv[:3] == ("kubectl", "version", "--client")
            return Result(command, 0, '{"clientVersion": {"gitVersion": "v1.35.0"}}', "")

    runner = Runner()
    existing = ExistingProvider(ProviderSettings(runner=runner)).preflight(
        fleet(), PreflightOptions()
    )
    assert [(f.check, f.severity) for f in existing.findings] == [("kubectl", "ok")]
    assert existing.versions == {"kubectl": "v1.35.0"}
    assert LocalProvider().preflight(fleet(), PreflightOptions()).findings == ()
    with pytest.raises(UsageError, match="unknown preflight check 'inotfy'"):
        LocalProvider().preflight(fleet(), PreflightOptions(skip={"inotfy"}))


def test_ports_held_by_the_fleets_own_clusters_and_registry_pass():
    probes = Probes(busy={8080, 5001})
    options = PreflightOptions(existing={"pf-hub"}, registry_running=True)
    report = preflight.run(fleet(), probes, options)
    assert report.errors == []


# --- the real probes -----------------------------------------------------------------


def test_port_free_sees_a_listening_socket():
    probes = preflight.SystemProbes(runner=None)  # type: ignore[arg-type]
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        assert probes.port_free("127.0.0.1", port, "TCP") is False
        assert probes.port_free("0.0.0.0", port, "TCP") is False
    assert probes.port_free("127.0.0.1", port, "TCP") is True
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        udp.bind(("127.0.0.1", 0))
        assert probes.port_free("127.0.0.1", udp.getsockname()[1], "UDP") is False
    assert probes.port_free("127.0.0.1", port, "SCTP") is True


def test_sysctl_reads_proc(tmp_path):
    (tmp_path / "sys/fs/inotify").mkdir(parents=True)
    (tmp_path / "sys/fs/inotify/max_user_instances").write_text("128\n")
    probes = preflight.SystemProbes(runner=None, proc=tmp_path)  # type: ignore[arg-type]
    assert probes.sysctl("fs.inotify.max_user_instances") == 128
    assert probes.sysctl("fs.inotify.max_user_watches") is None


@pytest.mark.parametrize(
    ("env", "info", "local"),
    [
        ({}, {}, True),
        ({"DOCKER_HOST": "unix:///run/user/1000/docker.sock"}, {}, True),
        ({"DOCKER_HOST": "tcp://build-box:2376"}, {}, False),
        ({}, {"OperatingSystem": "Docker Desktop"}, False),
    ],
)
def test_engine_is_local(env, info, local):
    probes = preflight.SystemProbes(runner=None, env=env, proc=Path("/proc"))  # type: ignore[arg-type]
    assert probes.engine_is_local(info) is local


def test_a_docker_network_that_holds_a_clusters_pod_range_is_refused():
    """Found from outside: with the kind network made by hand on 10.244.0.0/16 (or Docker's
    address pools in 10.x), a node got 10.244.0.2, inside its own pod subnet, and neither
    validate nor up said a word."""
    spec = fleet()
    pod = spec.hub.networking.pod_subnet.split(",")[0]
    report = preflight.run(
        spec, Probes(subnets=[pod, "fc00:f853:ccd:e793::/64"]), PreflightOptions()
    )
    [finding] = [f for f in report.errors if f.check == "network"]
    assert f"docker network kind uses {pod}, which overlaps {spec.hub.name}'s podSubnet" in (
        finding.message
    )
    assert "KIND_EXPERIMENTAL_DOCKER_NETWORK" in finding.fix
    fine = preflight.run(spec, Probes(subnets=["172.18.0.0/16"]), PreflightOptions())
    assert not [f for f in fine.errors if f.check == "network"]
    assert not preflight.run(spec, Probes(), PreflightOptions()).errors
