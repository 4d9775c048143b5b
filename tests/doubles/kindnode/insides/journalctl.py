"""`journalctl [--no-pager] [-u UNIT] [-n N] [-o cat]`: the journal init keeps, in
journalctl's short format (`Nov 30 20:13:00 host unit[pid]: message`)."""

from __future__ import annotations

import json
import sys
import time

from .common import args_after
from .init import JOURNAL


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    unit = args_after(argv, "-u") or args_after(argv, "--unit")
    if unit and "." not in unit:
        unit += ".service"
    lines = args_after(argv, "-n") or args_after(argv, "--lines")
    plain = args_after(argv, "-o") == "cat"
    entries = []
    if JOURNAL.exists():
        for raw in JOURNAL.read_text(errors="replace").splitlines():
            try:
                entry = json.loads(raw)
            except ValueError:
                continue
            if unit is None or entry.get("unit") == unit:
                entries.append(entry)
    if lines and lines.isdigit():
        entries = entries[-int(lines) :]
    if not entries:
        print("-- No entries --")
        return
    for entry in entries:
        if plain:
            print(entry["msg"])
            continue
        stamp = time.strftime("%b %d %H:%M:%S", time.localtime(entry["t"]))
        name = entry["unit"].removesuffix(".service").removesuffix(".scope")
        name = "systemd" if name == "init" else name
        print(f"{stamp} {entry.get('host', 'localhost')} {name}[{entry['pid']}]: {entry['msg']}")


if __name__ == "__main__":
    main()
