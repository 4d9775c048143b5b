"""`crictl images|inspecti|ps|info|version`: the CRI view of containerd (namespace k8s.io),
as kind's `load docker-image` (inspecti) and `export logs` (images) use it; `ps` lists
the static pods the kubelet runs."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from .containerd import VERSION, ask

NAMESPACE = "k8s.io"
PODS = Path("/run/kindnode/pods")


def _size(size: int) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.3g}{unit}"
        size = size / 1000  # type: ignore[assignment]
    return str(size)


def images(args: list[str]) -> None:
    known = ask({"op": "list", "namespace": NAMESPACE}).get("images") or {}
    rows = []
    for name, image in sorted(known.items()):
        if "@" in name:
            continue
        repo, _, tag = name.rpartition(":")
        rows.append((repo, tag, image["id"].split(":")[1][:13], _size(image["size"])))
    if "-q" in args or "--quiet" in args:
        for image_id in dict.fromkeys(r[2] for r in rows):
            print(f"sha256:{image_id}")
        return
    print(f"{'IMAGE':<60} {'TAG':<20} {'IMAGE ID':<15} SIZE")
    for repo, tag, image_id, size in rows:
        print(f"{repo:<60} {tag:<20} {image_id:<15} {size}")


def inspecti(args: list[str]) -> None:
    refs = [a for a in args if not a.startswith("-")]
    code = 0
    for ref in refs:
        answer = ask({"op": "resolve", "namespace": NAMESPACE, "ref": ref})
        if "error" in answer:
            sys.stderr.write(f'E0000 remote_image.go:1] "ImageStatus from image service failed" image="{ref}"\n'
                             f"FATA[0000] no such image \"{ref}\" present\n")  # fmt: skip
            code = 1
            continue
        image = answer["image"]
        repo = answer["name"].rsplit(":", 1)[0].split("@")[0]
        status = {"id": image["id"], "repoTags": answer["tags"],
                  "repoDigests": [f"{repo}@{image['digest']}"], "size": str(image["size"]),
                  "uid": None, "username": "", "spec": None, "pinned": False}  # fmt: skip
        print(json.dumps({"status": status, "info": {}}, indent=2))
    sys.exit(code)


def ps(args: list[str]) -> None:
    del args
    print(
        f"{'CONTAINER':<14} {'IMAGE':<14} {'CREATED':<20} {'STATE':<8} {'NAME':<24} ATTEMPT POD ID  POD"
    )
    for state_file in sorted(PODS.glob("*.json")) if PODS.is_dir() else []:
        state = json.loads(state_file.read_text())
        alive = Path(f"/proc/{state['pid']}").exists()
        created = f"{int(time.time() - state['started'])} seconds ago"
        print(f"{state['hash'][:13]:<14} {state['hash'][-13:]:<14} {created:<20} "
              f"{'Running' if alive else 'Exited':<8} {state['container']:<24} {state['restarts']:<7} "
              f"{state['uid'][:13]} {state_file.stem}")  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    argv = [
        a
        for a in (sys.argv[1:] if argv is None else argv)
        if not a.startswith("--runtime-endpoint")
    ]
    verb, args = (argv[0] if argv else "help"), argv[1:]
    if verb in ("images", "image", "img"):
        images(args)
    elif verb == "inspecti":
        inspecti(args)
    elif verb == "ps":
        ps(args)
    elif verb == "version":
        print(
            f"Version:  0.1.0\nRuntimeName:  containerd\nRuntimeVersion:  {VERSION}\nRuntimeApiVersion:  v1"
        )
    elif verb == "info":
        print(
            json.dumps(
                {"status": {"conditions": [{"type": "RuntimeReady", "status": True}]}}, indent=2
            )
        )
    else:
        sys.stderr.write(
            f"crictl: unsupported command {verb!r} (images, inspecti, ps, info, version)\n"
        )
        sys.exit(1)


if __name__ == "__main__":
    main()
