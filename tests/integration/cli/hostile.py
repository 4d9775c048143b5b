"""A corpus of hostile fleet files, and a way to run the real CLI on each in a process of
its own (bounded in time and memory), cheaply.

Starting `kindfleet` costs about a second of imports, so each run is a fork of the test
process, which has them already: a separate process all the same (a crash, a runaway
allocation or an endless loop stays there), running the real entry point `main()` with
its own stdout and stderr.
"""

from __future__ import annotations

import contextlib
import io
import os
import resource
import signal
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass

HEAD = "apiVersion: kindfleet.dev/v1alpha1\nkind: Fleet\nname: h\n"
CRASHED = 99  # the child's exit code when something escaped main()


@dataclass(frozen=True)
class Run:
    code: int
    out: str
    err: str
    seconds: float


def run_cli(argv: list[str], *, timeout: float = 60, memory: int = 2**30) -> Run:
    """`kindfleet ARGV` through the real entry point, in a child process (`run_in_child`)."""

    def kindfleet() -> None:
        sys.argv = ["kindfleet", *argv]
        os.environ["NO_COLOR"] = "1"
        from kindfleet.cli import main

        main()

    return run_in_child(kindfleet, timeout=timeout, memory=memory)


def run_in_child(work: Callable[[], None], *, timeout: float = 60, memory: int = 2**30) -> Run:
    """`work()` in a forked child with `memory` bytes more address space than the parent
    has now, its own stdout and stderr; its exit code (SystemExit's, 0 when it returns,
    CRASHED when anything else escapes), or -9 when killed after `timeout` seconds."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.monotonic()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child
            _child(work, out.fileno(), err.fileno(), memory)
        code = _wait(pid, timeout)
        seconds = time.monotonic() - start
        out.seek(0)
        err.seek(0)
        return Run(code, _text(out.read()), _text(err.read()), seconds)


def _child(work: Callable[[], None], out: int, err: int, memory: int) -> None:  # pragma: no cover
    code = CRASHED
    try:
        limit = _address_space() + memory
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        os.dup2(out, 1)
        os.dup2(err, 2)
        sys.stdout = io.TextIOWrapper(os.fdopen(1, "wb", closefd=False), write_through=True)
        sys.stderr = io.TextIOWrapper(os.fdopen(2, "wb", closefd=False), write_through=True)
        sys.stdin = io.TextIOWrapper(io.BytesIO(b""))
        try:
            work()
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:
        with contextlib.suppress(BaseException):
            traceback.print_exc()
    finally:
        with contextlib.suppress(BaseException):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)


def _address_space() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[0]) * resource.getpagesize()


def _wait(pid: int, timeout: float) -> int:
    deadline = time.monotonic() + timeout
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            return -signal.SIGKILL
        time.sleep(0.01)


def _text(data: bytes) -> str:
    return data.decode("utf-8", "replace")


# -- the corpus -----------------------------------------------------------------------------
# name -> (file bytes, expected exit code, words the error must hold, or None when valid)


def _laughs(levels: int = 10) -> str:
    lines = ['l0: &l0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [f"l{i}: &l{i} [{','.join([f'*l{i - 1}'] * 10)}]" for i in range(1, levels)]
    return HEAD + "hub:\n  kindConfig:\n" + "".join(f"    {line}\n" for line in lines)


def _spokes(count: int) -> str:
    one = "  - name: s{i}\n    labels: {{plane: compute, zone: z{i}}}\n    nodes: [{{role: control-plane}}]\n"
    return HEAD + "spokes:\n" + "".join(one.format(i=i) for i in range(count))


# Small files are written out here; big ones are made when the test runs.
Case = tuple[bytes | Callable[[], bytes], int, str | None]


def content(case: Case) -> bytes:
    made = case[0]
    return made if isinstance(made, bytes) else made()


CORPUS: dict[str, Case] = {
    # explicit tags
    "tag-int-word": ((HEAD + "spokes: !!int three\n").encode(), 2, "not a valid int"),
    "tag-bool-word": ((HEAD + "registry: !!bool maybe\n").encode(), 2, "not a valid bool"),
    "tag-timestamp": (
        (HEAD + "hub: {name: !!timestamp yesterday}\n").encode(),
        2,
        "!!timestamp",
    ),
    "tag-bare-int": ((HEAD + "spokes: !!int\n").encode(), 2, "'!!int' is not a valid"),
    "tag-python-object": (
        (HEAD + 'hub: !!python/object/apply:os.system ["touch /tmp/kf-pwned"]\n').encode(),
        2,
        "!!python/object/apply:os.system",
    ),
    "tag-local": ((HEAD + "hub: !mine {}\n").encode(), 2, "tag !mine"),
    "tag-directive": (
        ("%TAG ! tag:evil.example,2000:\n---\n" + HEAD + "hub: !x {}\n").encode(),
        2,
        "tag:evil.example,2000:x",
    ),
    "tag-set": ((HEAD + "spokes: !!set {a, b}\n").encode(), 2, "!!set"),
    # anchors and aliases
    "billion-laughs": (lambda: _laughs().encode(), 2, "alias bomb"),
    "alias-loop": ((HEAD + "hub: &h {kindConfig: *h}\n").encode(), 2, "contains it"),
    "alias-unknown": ((HEAD + "hub: *nowhere\n").encode(), 2, "no anchor &nowhere"),
    "merge-not-a-map": ((HEAD + "hub: {<<: 3}\n").encode(), 2, "can only merge maps"),
    # size and depth
    "nesting-600": (
        (HEAD + "hub: {kindConfig: {x: " + "[" * 600 + "]" * 600 + "}}\n").encode(),
        2,
        "deeper than",
    ),
    "nesting-100k": ((HEAD + "hub: " + "[" * 100_000).encode(), 2, "nesting depth"),
    "spokes-5mb": (lambda: _spokes(45_000).encode(), 2, "at most 100"),
    "spokes-101": (lambda: _spokes(101).encode(), 2, "at most 100"),
    "long-line-5mb": ((HEAD + "hub: {name: " + "a" * 5_000_000 + "}\n").encode(), 2, None),
    "keys-100k": (
        (HEAD + "hub:\n" + "".join(f"  k{i}: 1\n" for i in range(100_000))).encode(),
        2,
        "more problems like these",
    ),
    "same-key-100k": (
        (HEAD + "hub:\n" + "  name: x\n" * 100_000).encode(),
        2,
        "is written 100000 times",
    ),
    "huge-int": ((HEAD + "spokes: 1" + "0" * 5000 + "\n").encode(), 2, "5,001 digits"),
    # 0x and 0o numbers of any size become ints; quoting one in a message failed
    "huge-hex": ((HEAD + "spokes: 0x" + "f" * 5000 + "\n").encode(), 2, "5,002 digits"),
    "huge-octal": ((HEAD + "spokes: 0o" + "7" * 5000 + "\n").encode(), 2, "5,002 digits"),
    # an empty name (a template's variable unset) became the default one in silence
    "spoke-name-empty": ((HEAD + "spokes: [{name: ''}]\n").encode(), 2, "spokes[0].name: is empty"),
    "hub-name-blank": ((HEAD + "hub: {name: '  '}\n").encode(), 2, "hub.name: is empty"),
    # past the hundred shown, the count is still every problem's
    "label-keys-150": (
        (
            HEAD + "hub: {labels: {" + ", ".join(f"'bad key {i}!': ok" for i in range(150)) + "}}\n"
        ).encode(),
        2,
        "(150 problems)",
    ),
    "infinite-float": ((HEAD + "spokes: 1e400\n").encode(), 2, "finite number"),
    # a whole float becomes an int only after the count's first check (found by the fuzzer)
    "spokes-1e12": ((HEAD + "spokes: 1e12\n").encode(), 2, "at most 100"),
    # text encodings and odd characters
    "bom-utf8": (b"\xef\xbb\xbf" + HEAD.encode(), 0, None),
    "utf16": (HEAD.encode("utf-16"), 0, None),
    "crlf": (HEAD.replace("\n", "\r\n").encode(), 0, None),
    "cr-only": (HEAD.replace("\n", "\r").encode(), 0, None),
    "tabs": ((HEAD + "hub:\n\tname: x\n").encode(), 2, "tabs"),
    "nul-byte": ((HEAD + "hub: {name: a\x00b}\n").encode(), 2, "not valid YAML"),
    "not-utf8": (HEAD.encode() + b"hub: {name: \xff\xfe\xfd}\n", 2, "UTF-8"),
    "lone-surrogate": ((HEAD + 'hub: {name: "\\ud800"}\n').encode(), 2, "surrogate"),
    "homoglyph-key": ((HEAD + "sp\u043ekes: 2\n").encode(), 2, "\\u043e"),
    "zero-width-name": (
        ("apiVersion: kindfleet.dev/v1alpha1\nkind: Fleet\nname: h\u200bx\n").encode(),
        2,
        "DNS-1123",
    ),
    "rtl-label": ((HEAD + 'hub: {labels: {a: "x\u202ey"}}\n').encode(), 2, "label value"),
    "emoji-key": ((HEAD + "hub: {\U0001f680: 1}\n").encode(), 2, "unknown field"),
    "ansi-escape": ((HEAD + 'hub: {name: "\\e[31mred"}\n').encode(), 2, "\\x1b[31mred"),
    "markup-key": ((HEAD + 'hub: {"[/x]": 1, "[bold]y": 2}\n').encode(), 2, "'[/x]'"),
    # documents
    "empty": (b"", 2, "is empty"),
    "comments-only": (b"# nothing here\n", 2, "is empty"),
    "empty-documents": (b"---\n---\n...\n", 2, "is empty"),
    "two-documents": ((HEAD + "---\n" + HEAD).encode(), 2, "more than one YAML document"),
    "trailing-empty-document": ((HEAD + "---\n").encode(), 0, None),
    "a-list": (b"- a\n- b\n", 2, "must be a map"),
    "a-scalar": (b"hello\n", 2, "must be a map"),
    "complex-key": ((HEAD + "? [a, b]\n: c\n").encode(), 2, "plain name"),
    "duplicate-keys": ((HEAD + "name: again\n").encode(), 2, "written twice"),
    # junk
    "binary-random": (lambda: bytes((i * 7919 + 13) % 256 for i in range(4096)), 2, None),
    "png-header": (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(64), 2, None),
    "gzip": (b"\x1f\x8b\x08\x00" + bytes(range(256)), 2, None),
    "api-version-list": (b"apiVersion: [1]\nkind: Fleet\n", 2, "apiVersion"),
}
