"""A simulated kind node image, for running the REAL kind CLI on a machine where no node
image can be pulled and the container engine refuses `--privileged`.

- `images.node_image(version)`: the node image (built from Debian packages and the
  programs in `insides/`), reused while nothing in it changes;
- `images.load_balancer_image(kind)`: the envoy stand-in under the tag kind runs;
- `wrapper.write(bin_dir, log)`: a `docker` that drops only `--privileged`, logging calls.

README.md says precisely what is simulated and what is real.
"""
