"""`systemctl`: asks PID 1 (init) over its control socket, as systemctl asks systemd."""

from __future__ import annotations

import json
import socket
import sys

from .init import CONTROL

FLAGS = {"--no-pager", "--quiet", "-q", "--now", "--no-block", "--system"}


def main(argv: list[str] | None = None) -> None:
    argv = [a for a in (sys.argv[1:] if argv is None else argv) if a not in FLAGS]
    if not argv:
        sys.stderr.write("systemctl: no verb given\n")
        sys.exit(1)
    request = {"verb": argv[0], "units": argv[1:]}
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.connect(str(CONTROL))
            sock.sendall((json.dumps(request) + "\n").encode())
            answer = json.loads(sock.makefile("rb").readline() or b"{}")
    except OSError:
        sys.stderr.write("System has not been booted with systemd as init system (PID 1). Can't operate.\n"
                         "Failed to connect to bus: Host is down\n")  # fmt: skip
        sys.exit(1)
    if answer.get("out"):
        stream = sys.stdout if answer.get("code", 1) in (0, 3) else sys.stderr
        stream.write(answer["out"] + "\n")
    sys.exit(int(answer.get("code", 1)))


if __name__ == "__main__":
    main()
