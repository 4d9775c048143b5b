"""`ctr [--namespace NS] images import|ls|tag|rm`: containerd's client, as kind uses it
(`ctr --namespace=k8s.io images import --all-platforms --digests --snapshotter=X -`).
An archive read from stdin is spooled to the node's disk and imported by the daemon."""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

from .containerd import ask


def _human(size: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.1f} {unit}" if unit != "B" else f"{size} B"
        size = size / 1024  # type: ignore[assignment]
    return str(size)


def fail(message: str) -> None:
    sys.stderr.write(f"ctr: {message}\n")
    sys.exit(1)


def import_(namespace: str, args: list[str]) -> None:
    options = [a for a in args if a.startswith("--")]
    sources = [a for a in args if not a.startswith("--")]
    if len(sources) != 1:
        fail("expected exactly one archive (a path, or - for stdin)")
    spool = Path("/var/lib/containerd/tmp")
    spool.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=spool, suffix=".tar") as archive:
        if sources[0] == "-":
            shutil.copyfileobj(sys.stdin.buffer, archive)
        else:
            archive.write(Path(sources[0]).read_bytes())
        archive.flush()
        answer = ask({"op": "import", "namespace": namespace, "path": archive.name,
                      "digests": "--digests" in options})  # fmt: skip
    if "error" in answer:
        fail(answer["error"])
    for name, digest in answer["imported"]:
        print(f"unpacking {name} ({digest})...done")


def list_(namespace: str, args: list[str]) -> None:
    images = ask({"op": "list", "namespace": namespace}).get("images") or {}
    if "-q" in args or "--quiet" in args:
        for name in sorted(images):
            print(name)
        return
    print(f"{'REF':<60} {'TYPE':<55} {'DIGEST':<72} {'SIZE':<10} PLATFORMS   LABELS")
    for name in sorted(images):
        image = images[name]
        kind = "application/vnd.docker.distribution.manifest.v2+json"
        print(
            f"{name:<60} {kind:<55} {image['digest']:<72} {_human(image['size']):<10} linux/amd64 -"
        )


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    namespace = "default"
    rest: list[str] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg.startswith("--namespace=") or arg.startswith("-n="):
            namespace = arg.split("=", 1)[1]
        elif arg in ("--namespace", "-n"):
            namespace, i = argv[i + 1], i + 1
        elif arg.startswith("--address"):
            i += 0 if "=" in arg else 1
        else:
            rest.append(arg)
        i += 1
    if not rest or rest[0] not in ("images", "image", "i"):
        fail(f"unsupported command: {' '.join(rest) or '(none)'} (this ctr knows `images`)")
    verb, args = (rest[1] if len(rest) > 1 else "ls"), rest[2:]
    if verb == "import":
        import_(namespace, args)
    elif verb in ("ls", "list"):
        list_(namespace, args)
    elif verb == "tag":
        names = [a for a in args if not a.startswith("--")]
        answer = ask({"op": "tag", "namespace": namespace, "source": names[0], "target": names[1],
                      "force": "--force" in args})  # fmt: skip
        if "error" in answer:
            fail(answer["error"])
        print(answer["tagged"])
    elif verb in ("rm", "remove", "delete", "del"):
        names = [a for a in args if not a.startswith("--")]
        for name in (
            ask({"op": "remove", "namespace": namespace, "names": names}).get("removed") or []
        ):
            print(name)
    else:
        fail(f"unsupported images command {verb!r}")


if __name__ == "__main__":
    main()
