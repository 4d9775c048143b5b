"""Schema validation before anything is applied: the object and the field on an error,
a clear skip without kubernetes-validate (and the API server's dry run on --dry-run)."""

from __future__ import annotations

import copy

import pytest

from kindfleet.deploy import DeployOptions, deploy
from kindfleet.deploy.manifests import render_manifests
from kindfleet.deploy.validate import InvalidManifest, load_validator, validate_objects
from kindfleet.exec import CommandError
from tests.doubles.deployfakes import Clock, DeployProvider, Hub, Runner, fleet

VALIDATE = load_validator()


def _hub_deployment():
    return copy.deepcopy(
        next(o for o in render_manifests(fleet())["t-hub"] if o["kind"] == "Deployment")
    )


def test_the_error_names_the_cluster_the_object_and_the_field():
    assert VALIDATE is not None  # a dev dependency: the validate extra
    bad = _hub_deployment()
    bad["spec"]["template"]["spec"]["containers"][0]["imagePullPolicyy"] = "Always"
    with pytest.raises(InvalidManifest) as caught:
        validate_objects("t-hub", [bad], "v1.35.8", VALIDATE)
    message = caught.value.message
    assert message.startswith(
        "t-hub: Deployment platform-management/hub is not valid for Kubernetes v1.35.8: "
        "spec.template.spec.containers.0: "
    )
    assert "imagePullPolicyy" in message
    assert "kindfleet manifests --cluster t-hub" in caught.value.hint


def test_a_wrong_type_names_its_field():
    bad = _hub_deployment()
    bad["spec"]["replicas"] = "one"
    with pytest.raises(InvalidManifest) as caught:
        validate_objects("t-hub", [bad], "1.35", VALIDATE)
    assert ": spec.replicas: 'one' is not of type" in caught.value.message


def test_every_rendered_object_is_valid_and_unknown_versions_are_said_to_be_skipped():
    for name, objects in render_manifests(fleet()).items():
        assert validate_objects(name, objects, "v1.35.8", VALIDATE) is None
    assert validate_objects("t-hub", [_hub_deployment()], "v1.99.0", VALIDATE) == (
        "no offline schema for Kubernetes v1.99.0: not checked"
    )


def test_without_kubernetes_validate_the_loader_says_none():
    assert load_validator("kindfleet_no_such_module") is None


def _deploy(tmp_path, runner, *, validator, dry_run=True, provider=None):
    spec = fleet()
    provider = provider or DeployProvider(spec)
    events = []
    clock = Clock()
    result = deploy(
        spec, provider, DeployOptions(image="x:1", dry_run=dry_run, wait=False), runner=runner,
        report=events.append, state_root=tmp_path, validator=lambda: validator,
        hub_client=Hub({}), clock=clock, sleep=clock.sleep,
    )  # fmt: skip
    return result, events, provider


def test_without_the_validator_a_dry_run_asks_the_api_servers(tmp_path):
    runner = Runner(local_images={"x:1": "sha256:1 1"})
    result, events, _ = _deploy(tmp_path, runner, validator=None)
    dry = [c for c in runner.calls if "--dry-run=server" in c.argv and "apply" in c.argv]
    assert [c.argv[c.argv.index("--context") + 1] for c in dry] == [
        "kind-t-hub",
        "kind-t-cpu",
        "kind-t-gpu",
    ]
    assert "kind: Deployment" in dry[0].stdin
    warned = [e.message for e in events if e.phase == "warn"]
    assert any(
        "schema validation skipped: kubernetes-validate is not installed" in w for w in warned
    )
    assert any("pip install 'kindfleet[validate]'" in n for n in result.notes)


def test_a_first_dry_run_in_missing_namespaces_is_a_warning_not_a_failure(tmp_path):
    runner = Runner(  # the apply's dry run is refused; the GPU patch's is not
        local_images={"x:1": "sha256:1 1"},
        fail="--filename=-",
        fail_output='Error from server (NotFound): namespaces "platform-control" not found',
    )
    result, _, _ = _deploy(tmp_path, runner, validator=None)
    assert any(
        "cannot dry-run objects in namespaces that do not exist yet" in n for n in result.notes
    )


def test_any_other_dry_run_error_fails_the_deploy(tmp_path):
    runner = Runner(local_images={"x:1": "sha256:1 1"}, fail="--filename=-",
                    fail_output='Error from server (BadRequest): unknown field "spec.replicaz"')  # fmt: skip
    with pytest.raises(CommandError) as caught:
        _deploy(tmp_path, runner, validator=None)
    assert "unknown field" in str(caught.value)


def test_an_invalid_object_stops_the_deploy_before_anything_is_applied(tmp_path):
    def refuse(obj, version):
        if obj["kind"] == "NetworkPolicy":
            raise ValueError("spec.podSelector is required")

    runner = Runner(local_images={"x:1": "sha256:1 1"})
    spec = fleet()
    provider = DeployProvider(spec)
    with pytest.raises(InvalidManifest) as caught:
        _deploy(tmp_path, runner, validator=refuse, dry_run=False, provider=provider)
    assert "t-hub: NetworkPolicy platform-management/hub is not valid" in caught.value.message
    assert not [e for e in provider.log if e[0] == "apply"]
