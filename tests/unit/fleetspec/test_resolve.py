"""The fleet file's meaning: defaults, spoke forms, templates, overrides, fleet-wide checks."""

from kindfleet.kind import images
from tests.unit.fleetspec.helpers import fleet, problems


def test_minimal_file_is_enough():
    spec = fleet("spokes: 3\n")
    assert [c.name for c in spec.clusters] == ["t-hub", "t-spoke1", "t-spoke2", "t-spoke3"]
    assert [c.role for c in spec.clusters] == ["hub", "spoke", "spoke", "spoke"]
    assert spec.provider == "kind"
    assert spec.registry is None
    hub = spec.hub
    assert [n.name for n in hub.nodes] == ["t-hub-control-plane", "t-hub-worker"]
    assert hub.kubernetes_version == images.DEFAULT_VERSION
    assert hub.node_image == images.IMAGES[images.DEFAULT_VERSION]
    assert hub.context == "kind-t-hub"


def test_default_spokes_is_none():
    assert len(fleet().spokes) == 0


def test_node_groups_expand_with_kinds_container_names():
    spec = fleet("""
        hub:
          nodes:
            - role: control-plane
              count: 3
            - role: worker
              count: 2
        """)
    assert [n.name for n in spec.hub.nodes] == [
        "t-hub-control-plane",
        "t-hub-control-plane2",
        "t-hub-control-plane3",
        "t-hub-worker",
        "t-hub-worker2",
    ]


def test_spoke_list_takes_names_and_defaults():
    spec = fleet("""
        spokes:
          - name: gpu-pool
          - {}
        """)
    assert [c.name for c in spec.spokes] == ["gpu-pool", "t-spoke2"]
    assert [c.index for c in spec.spokes] == [1, 2]


def test_template_placeholders_and_overrides():
    spec = fleet("""
        spokes:
          count: 3
          namePattern: "{fleet}-gpu{index}"
          template:
            labels: {spoke-id: "{index}", tier: std}
            nodes:
              - role: control-plane
              - role: worker
                labels: {owner: "{name}"}
          overrides:
            "2":
              labels: {tier: premium}
            t-gpu3:
              name: renamed
              nodes:
                - role: control-plane
        """)
    assert [c.name for c in spec.spokes] == ["t-gpu1", "t-gpu2", "renamed"]
    assert spec.spokes[0].labels["spoke-id"] == "1"
    assert spec.spokes[0].labels["owner"] == "t-gpu1"
    assert spec.spokes[1].labels == {"owner": "t-gpu2", "spoke-id": "2", "tier": "premium"}
    assert len(spec.spokes[2].nodes) == 1  # lists replace, maps merge
    assert spec.spokes[2].labels["tier"] == "std"


def test_override_errors_point_at_the_override():
    found = problems("""
        spokes:
          count: 2
          overrides:
            "1": {networking: {cni: cilium}}
            "7": {}
            nope: {}
        """)
    assert "spokes.overrides.1.networking.cni" in "".join(found) or any(
        "overrides" in p and "cni" in p for p in found
    )
    assert "spokes.overrides['7']" in found
    assert "no spoke has index or name 'nope'" in found["spokes.overrides.nope"]


def test_template_may_not_name_spokes():
    assert "spokes.template.name" in problems("spokes: {count: 2, template: {name: x}}\n")


def test_name_pattern_needs_index():
    found = problems("spokes: {count: 2, namePattern: same}\n")
    assert "{index}" in found["spokes.namePattern"]


def test_duplicate_cluster_names():
    found = problems("hub: {name: x}\nspokes: [{name: x}]\n")
    assert "already used by hub" in found["spokes[0].name"]


def test_cluster_name_leaves_room_for_kinds_container_suffix():
    found = problems("hub: {name: " + "a" * 41 + "}\n")
    assert "limit is 40" in found["hub.name"]


def test_gpu_nodes_get_the_articles_label_and_count():
    spec = fleet("""
        spokes:
          - nodes:
              - role: control-plane
              - role: worker
                gpus: 2
                count: 2
        """)
    spoke = spec.spokes[0]
    assert spoke.gpus == 4
    assert spoke.workers[0].labels["gpu"] == "true"
    assert spoke.labels["gpu"] == "true"
    assert spoke.capacity.gpus == 4


def test_cluster_labels_are_agreed_node_labels_under_explicit_ones():
    spec = fleet("""
        hub:
          labels: {zone: a}
          nodes:
            - role: control-plane
              labels: {plane: management, pool: x}
            - role: worker
              labels: {plane: management, pool: y}
        """)
    assert spec.hub.labels == {"plane": "management", "zone": "a"}


def test_yaml_booleans_and_numbers_become_label_strings():
    spec = fleet("hub: {nodes: [{role: control-plane, labels: {gpu: true, id: 3}}]}\n")
    assert dict(spec.hub.nodes[0].labels) == {"gpu": "true", "id": "3"}


def test_kubernetes_version_forms():
    assert fleet('kubernetesVersion: "1.35"\n').hub.kubernetes_version == "v1.35.8"
    assert fleet("kubernetesVersion: v1.36.4\n").hub.kubernetes_version == "v1.36.4"
    spec = fleet('kubernetesVersion: "1.35"\nhub: {kubernetesVersion: "1.34"}\nspokes: 1\n')
    assert spec.hub.kubernetes_version == "v1.34.11"
    assert spec.spokes[0].kubernetes_version == "v1.35.8"


def test_unpublished_version_lists_what_is_published():
    found = problems('kubernetesVersion: "1.29"\n')
    assert "v1.37.0" in found["kubernetesVersion"]
    assert "nodeImage" in found["kubernetesVersion"]


def test_bad_version_format():
    assert (
        "is not a Kubernetes version"
        in problems("kubernetesVersion: latest\n")["kubernetesVersion"]
    )


def test_explicit_node_image_wins_and_tells_its_version():
    spec = fleet("nodeImage: my/node:v1.29.1\n")
    assert spec.hub.node_image == "my/node:v1.29.1"
    assert spec.hub.kubernetes_version == "v1.29.1"


def test_host_port_collisions_across_clusters():
    found = problems("""
        registry: {hostPort: 9000}
        hub:
          nodes:
            - role: control-plane
              portMappings: [{containerPort: 80, hostPort: 8080}]
        spokes:
          - nodes:
              - role: control-plane
                portMappings:
                  - {containerPort: 81, hostPort: 8080}
                  - {containerPort: 82, hostPort: 8080, protocol: UDP}
                  - {containerPort: 83, hostPort: 9000, listenAddress: 127.0.0.2}
        """)
    clash = found["spokes[0].nodes[0].portMappings[0].hostPort"]
    assert "t-hub-control-plane" in clash and "hub.nodes[0].portMappings[0].hostPort" in clash
    assert "spokes[0].nodes[0].portMappings[1].hostPort" not in found  # UDP is another port
    assert "registry.hostPort" not in found  # 127.0.0.1 and 127.0.0.2 are different sockets


def test_distinct_listen_addresses_do_not_clash():
    spec = fleet("""
        hub:
          nodes:
            - role: control-plane
              portMappings:
                - {containerPort: 80, hostPort: 8080, listenAddress: 127.0.0.1}
                - {containerPort: 81, hostPort: 8080, listenAddress: 127.0.0.2}
        """)
    assert len(spec.hub.nodes[0].port_mappings) == 2


def test_fixed_host_port_on_a_group_of_many():
    found = problems("""
        hub:
          nodes:
            - role: control-plane
            - role: worker
              count: 2
              portMappings: [{containerPort: 80, hostPort: 8080}]
        """)
    assert "count > 1" in found["hub.nodes[1].portMappings[0].hostPort"]


def test_api_server_port_collision():
    found = problems("""
        hub: {networking: {apiServerPort: 6443}}
        spokes: [{networking: {apiServerPort: 6443}}]
        """)
    assert "t-hub's API server" in found["spokes[0].networking.apiServerPort"]


def test_registry_forms():
    assert fleet("registry: true\n").registry.name == "t-registry"
    assert fleet("registry: false\n").registry is None
    assert fleet("registry: {enabled: false}\n").registry is None
    reg = fleet("registry: {name: kind-registry, hostPort: 5000}\n").registry
    assert (reg.host_endpoint, reg.internal_endpoint) == ("localhost:5000", "kind-registry:5000")


def test_subnet_problems_carry_the_cluster_path():
    found = problems("spokes: [{networking: {podSubnet: 172.20.0.0/16}}]\n")
    assert "spokes[0].networking.podSubnet" in found


def test_existing_provider_contexts():
    spec = fleet("provider: existing\nhub: {context: gke_prod_hub}\nspokes: 1\n")
    assert spec.hub.context == "gke_prod_hub"
    assert spec.spokes[0].context == "t-spoke1"


def test_local_provider_capacity_and_warning():
    spec = fleet("provider: local\nspokes: [{capacity: {cpu: 2, memory: 4Gi, gpu: 1}}]\n")
    cap = spec.spokes[0].capacity
    assert (cap.cpu_millis, cap.memory_bytes, cap.gpus) == (2000, 4 * 2**30, 1)
    assert any("not Kubernetes" in w for w in spec.warnings)


def test_local_spokes_treat_their_runs_as_the_kubelet_by_default_or_as_the_file_says():
    spec = fleet(
        "provider: local\n"
        "spokes:\n"
        "  - {}\n"
        "  - runs: {logMaxSize: 50Mi, logMaxFiles: 2, memoryLimits: false}\n"
        "  - runs: {logMaxSize: 0}\n"
    )
    default, custom, uncapped = (s.runs for s in spec.spokes)
    assert (default.log_max_bytes, default.log_max_files, default.memory_limits) == (
        10 * 2**20, 5, True,
    )  # fmt: skip
    assert (custom.log_max_bytes, custom.log_max_files, custom.memory_limits) == (
        50 * 2**20, 2, False,
    )  # fmt: skip
    assert uncapped.log_max_bytes == 0


def test_runs_where_they_do_nothing_are_said_to_be_ignored():
    kind = fleet("spokes: [{runs: {logMaxFiles: 2}}]\n")
    assert any("spokes[0].runs: ignored on provider kind" in w for w in kind.warnings)
    hub = fleet("provider: local\nhub: {runs: {memoryLimits: false}}\nspokes: 1\n")
    assert any("hub.runs: ignored on the hub" in w for w in hub.warnings)
    local = fleet("provider: local\nspokes: [{runs: {logMaxFiles: 2}}]\n")
    assert not any(".runs: ignored" in w for w in local.warnings)


def test_bad_runs_name_the_field():
    found = problems(
        "spokes: [{runs: {logMaxSize: 100, logMaxFiles: 500, memoryLimits: 'off'}}, "
        "{runs: {logMaxSize: lots}}, {runs: {logMaxSize: true}}, {runs: {logMaxSize: -1}}]\n"
    )
    assert "true is not a size" in found["spokes[2].runs.logMaxSize"]  # not "quote it"
    assert "'-1' is not a size" in found["spokes[3].runs.logMaxSize"]
    assert "at least 16Ki, or 0" in found["spokes[0].runs.logMaxSize"]
    assert "500" in found["spokes[0].runs.logMaxFiles"]
    assert "true or false" in found["spokes[0].runs.memoryLimits"]
    assert "'lots' is not a size" in found["spokes[1].runs.logMaxSize"]


def test_bad_capacity():
    found = problems("spokes: [{capacity: {memory: 8GB}}]\n")
    assert "512Mi" in found["spokes[0].capacity.memory"]


def test_raw_escape_hatch_checks():
    found = problems("""
        hub:
          kindConfig:
            nodes: []
            featureGatez: {}
            featureGates: {X: "yes"}
            containerdConfigPatches: ["[broken"]
            kubeadmConfigPatches: ["just text"]
          nodes:
            - role: control-plane
              kindConfig: {extraMounts: [], kubeadmConfigPatchesJSON6902: [{grup: x}]}
        """)
    assert "set it as 'nodes'" in found["hub.kindConfig.nodes"]
    assert "did you mean 'featureGates'" in found["hub.kindConfig.featureGatez"]
    assert "true or false" in found["hub.kindConfig.featureGates"]
    assert "TOML" in found["hub.kindConfig.containerdConfigPatches[0]"]
    assert "kubeadm document" in found["hub.kindConfig.kubeadmConfigPatches[0]"]
    assert "'mounts'" in found["hub.nodes[0].kindConfig.extraMounts"]
    assert "hub.nodes[0].kindConfig.kubeadmConfigPatchesJSON6902[0].grup" in found


def test_every_problem_reported_together():
    found = problems("""
        hub: {name: x, networking: {podSubnet: 10.0.0.1/8}}
        spokes: [{name: x}]
        kubernetesVersion: "1.2"
        """)
    assert {"spokes[0].name", "hub.networking.podSubnet", "kubernetesVersion"} <= set(found)


def test_auto_subnets_step_around_an_explicit_one():
    spec = fleet("spokes: [{networking: {podSubnet: 10.244.0.0/16}}]\n")
    assert spec.hub.networking.pod_subnet == "10.245.0.0/16"
    assert spec.spokes[0].networking.pod_subnet == "10.244.0.0/16"


def test_name_pattern_placeholders_are_checked():
    found = problems('spokes: {count: 2, namePattern: "{0fleet}-{index}"}\n')
    assert "{0fleet} is not a placeholder" in found["spokes.namePattern"]


def test_a_spoke_with_declared_gpus_advertises_gpu_true():
    spec = fleet("provider: local\nspokes: [{capacity: {gpu: 2}}, {labels: {gpu: 'false'}}, {}]\n")
    assert spec.spokes[0].labels["gpu"] == "true"
    assert spec.spokes[1].labels["gpu"] == "false"  # no GPUs: the label is the user's to set
    assert "gpu" not in spec.spokes[2].labels
