"""Put the kind double on a machine by hand (for demos; the tests do this in fixtures).

    python -m tests.doubles.kind_double DIR     # builds the images, writes DIR/kind, prints exports

then `export` what it prints and run kindfleet as usual.
"""

from __future__ import annotations

import sys
from pathlib import Path

from tests.doubles.kind_double import images
from tests.doubles.kind_double.shim import write_shim


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    bin_dir = Path(argv[0]).resolve()
    node, registry = "kindfleet-test/node:double", "kindfleet-test/registry:double"
    images.build_node_image(node)
    images.build_registry_image(registry)
    write_shim(bin_dir)
    print(f'export PATH="{bin_dir}:$PATH"')
    print(f"export KIND_DOUBLE_NODE_IMAGE={node}")
    print(f"# registry image for the fleet file (registry.image): {registry}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
