"""The kind double: kept only where the real kind cannot reach on a 2-core machine.

Every lifecycle test (`up`, `status`, `down`, kubeconfigs, registry wiring, `kind load`,
HA control planes, failures) runs the real kind CLI over simulated nodes
(tests/integration/kindreal, tests/doubles/kindnode). This double remains for three
uses, each named here so that nothing else grows on it:

- `local_api`: two Kubernetes API servers as local processes, for the `existing`
  provider (clusters kindfleet does not run): no kind is involved there at all;
- tests/integration/deploy/test_deploy_double.py: `deploy` onto a hub and two spokes
  read back with the real kubectl, three times per run. Through the real kind each fleet
  costs about two minutes of this machine's two cores (eight simulated nodes), which
  `make test`'s 15 minutes cannot hold next to the article fleet; the real-KIND suite
  (tests/e2e_kind, `make e2e-kind`) deploys onto real kind clusters;
- tests/integration/docker: the fault verbs (stop, pause, partition) on real containers
  that only need to exist, not to be kind nodes.
"""
