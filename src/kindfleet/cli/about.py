"""`kindfleet version`: what a bug report needs."""

from __future__ import annotations

import platform

from kindfleet import __version__
from kindfleet.cli import output
from kindfleet.cli.options import OutputOption
from kindfleet.kind import images


def version(fmt: OutputOption = output.Format.table) -> None:
    """Show kindfleet's version, the kind release it is pinned to and its node images."""
    data = {
        "kindfleet": __version__,
        "kind": images.KIND_VERSION,
        "defaultKubernetes": images.DEFAULT_VERSION,
        "nodeImages": images.IMAGES,
        "python": platform.python_version(),
    }
    if fmt is not output.Format.table:
        output.emit(data, fmt)
        return
    print(f"kindfleet {__version__} (kind {images.KIND_VERSION}, python {data['python']})")
    output.table(
        f"node images published with kind {images.KIND_VERSION}",
        ["KUBERNETES", "IMAGE"],
        [
            (v + (" (default)" if v == images.DEFAULT_VERSION else ""), ref)
            for v, ref in images.IMAGES.items()
        ],
    )
