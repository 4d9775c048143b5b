"""Where docker parses `--privileged`: among the options of `run`, `create` and `exec`
(also `docker container run|create|exec`), before the image or container name; never in
the command that follows it. Imports nothing, so the wrapper script starts fast."""

from __future__ import annotations

GLOBAL_WITH_VALUE = {"--config", "-c", "--context", "-H", "--host", "-l", "--log-level",
                     "--tlscacert", "--tlscert", "--tlskey"}  # fmt: skip
# Options of run/create/exec that take no value (every other option takes one).
BOOLEAN_LONG = {"--detach", "--tty", "--interactive", "--rm", "--privileged", "--init",
                "--publish-all", "--read-only", "--no-healthcheck", "--oom-kill-disable",
                "--sig-proxy", "--quiet", "--help", "--disable-content-trust",
                "--use-api-socket"}  # fmt: skip
BOOLEAN_SHORT = set("dtiPq")
PRIVILEGED = {"--privileged", "--privileged=true"}
VERBS = {"run", "create", "exec"}


def _verb_start(argv: list[str]) -> int | None:
    """Index of the first option after `run`/`create`/`exec`, or None for other calls."""
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg in GLOBAL_WITH_VALUE:
            i += 2
            continue
        if arg.startswith("-"):
            i += 1
            continue
        if arg == "container" and i + 1 < len(argv) and argv[i + 1] in VERBS:
            return i + 2
        return i + 1 if arg in VERBS else None
    return None


def strip_privileged(argv: list[str]) -> tuple[list[str], list[str]]:
    """(argv without --privileged among the verb's options, what was removed)."""
    start = _verb_start(argv)
    if start is None:
        return list(argv), []
    out, removed = list(argv[:start]), []
    i = start
    while i < len(argv):
        arg = argv[i]
        if arg == "--" or not arg.startswith("-") or arg == "-":
            break  # the image or container: what follows is the command
        if arg in PRIVILEGED:
            removed.append(arg)
            i += 1
            continue
        takes_value = False
        if arg.startswith("--"):
            takes_value = "=" not in arg and arg not in BOOLEAN_LONG
        elif len(arg) == 2:
            takes_value = arg[1] not in BOOLEAN_SHORT
        elif not set(arg[1:]) <= BOOLEAN_SHORT:  # -it, -dit; or -eVALUE
            takes_value = False
        out.append(arg)
        if takes_value and i + 1 < len(argv):
            out.append(argv[i + 1])
            i += 1
        i += 1
    out.extend(argv[i:])
    return out, removed
