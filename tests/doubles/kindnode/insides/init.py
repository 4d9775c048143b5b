"""PID 1 of the node: kind's entrypoint and systemd, reduced to what kind relies on.

kind starts a node container and then follows `docker logs -f` until a line matches
"Reached target .*Multi-User System.*|detected cgroup v1" before it runs anything inside.
This init prints the entrypoint's lines (cgroup version, addresses; the snapshotter
switch of KIND_EXPERIMENTAL_CONTAINERD_SNAPSHOTTER), starts the enabled units
(/etc/systemd/system/*.service with WantedBy=multi-user.target: containerd, kubelet),
then prints "Reached target multi-user.target - Multi-User System.".

Only once its control socket listens does it print a line kind waits for, so every
`systemctl` kind or kubeadm runs afterwards finds it. Units: ExecStart, Environment,
EnvironmentFile, Restart=always|on-failure|no, RestartSec, Type=notify (READY=1 through
$NOTIFY_SOCKET, which `systemctl restart` waits for, as systemd does). Their output goes
to the journal (/var/log/journal/journal.jsonl, read by `journalctl`). PID 1 reaps
orphans and stops the units on SIGTERM or SIGRTMIN+3 (the node image's STOPSIGNAL).
Units are stopped by signalling their main process only (KillMode=process), so the
kubelet's static pods outlive a kubelet restart, as containers do.
"""

from __future__ import annotations

import configparser
import contextlib
import json
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, BinaryIO

UNITS = Path("/etc/systemd/system")
CONTROL = Path("/run/kindnode/init.sock")
NOTIFY = Path("/run/systemd/notify")
JOURNAL = Path("/var/log/journal/journal.jsonl")
CONTAINERD_CONFIG = Path("/etc/containerd/config.toml")
LOCK = threading.RLock()


def journal(unit: str, pid: int, message: str) -> None:
    entry = {
        "t": time.time(),
        "unit": unit,
        "pid": pid,
        "host": socket.gethostname(),
        "msg": message,
    }
    line = (json.dumps(entry) + "\n").encode()
    JOURNAL.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(JOURNAL, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)


def console(message: str) -> None:
    """What systemd and the entrypoint print: kind reads it with `docker logs`."""
    sys.stdout.write(message + "\n")
    sys.stdout.flush()
    journal("init.scope", 1, message)


class Unit:
    def __init__(self, name: str, path: Path) -> None:
        parser = configparser.ConfigParser(interpolation=None, strict=False)
        parser.optionxform = str  # type: ignore[assignment,method-assign]
        parser.read(path)
        service = parser["Service"] if parser.has_section("Service") else {}
        self.name = name
        self.description = parser.get("Unit", "Description", fallback=name)
        self.exec_start = service.get("ExecStart", "")
        self.environment = service.get("Environment", "")
        self.environment_file = service.get("EnvironmentFile", "")
        self.restart = service.get("Restart", "no")
        self.restart_sec = float(str(service.get("RestartSec", "0.1")).rstrip("s") or 0.1)
        self.notify = service.get("Type", "simple") == "notify"
        self.enabled = "multi-user.target" in parser.get("Install", "WantedBy", fallback="")
        self.proc: subprocess.Popen[bytes] | None = None
        self.state = "inactive"
        self.stopping = False
        self.ready = threading.Event()
        self.exit_code: int | None = None

    def env(self) -> dict[str, str]:
        env = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
               "NOTIFY_SOCKET": str(NOTIFY), "LANG": "C.UTF-8"}  # fmt: skip
        for word in shlex.split(self.environment):
            key, _, value = word.partition("=")
            env[key] = value
        path = self.environment_file.lstrip("-")
        if path and Path(path).exists():
            for line in Path(path).read_text().splitlines():
                if "=" in line and not line.lstrip().startswith("#"):
                    key, _, value = line.partition("=")
                    env[key.strip()] = value.strip().strip('"')
        return env

    def argv(self, env: dict[str, str]) -> list[str]:
        expanded = re.sub(r"\$\{?(\w+)\}?", lambda m: env.get(m.group(1), ""), self.exec_start)
        return shlex.split(expanded.lstrip("-"))


class Manager:
    def __init__(self) -> None:
        self.units = {p.name: Unit(p.name, p) for p in sorted(UNITS.glob("*.service"))}

    def unit(self, name: str) -> Unit | None:
        return self.units.get(name if name.endswith(".service") else f"{name}.service")

    def start(self, unit: Unit, wait: float = 30, announce: bool = True) -> tuple[bool, str]:
        with LOCK:
            if unit.proc is not None and unit.proc.poll() is None:
                return True, ""
            env = unit.env()
            unit.ready.clear()
            unit.stopping = False
            try:
                unit.proc = subprocess.Popen(unit.argv(env), env=env, stdin=subprocess.DEVNULL,
                                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT)  # fmt: skip
            except OSError as exc:
                unit.state = "failed"
                return False, f"{unit.name}: {exc}"
            unit.state = "activating" if unit.notify else "active"
            threading.Thread(target=self.pump, args=(unit, unit.proc), daemon=True).start()
            threading.Thread(target=self.watch, args=(unit, unit.proc), daemon=True).start()
        if unit.notify and not unit.ready.wait(wait):
            return False, f"Job for {unit.name} failed because a timeout was exceeded."
        if unit.notify and unit.state == "failed":  # exited before READY=1
            return False, (f"Job for {unit.name} failed because the control process exited with error code.\n"
                           f'See "systemctl status {unit.name}" and "journalctl -xeu {unit.name}" for details.')  # fmt: skip
        started = f"[  OK  ] Started {unit.name} - {unit.description}."
        if announce:
            console(started)
        else:  # systemd's automatic restarts show in the journal only
            journal("init.scope", 1, started)
        return True, ""

    def stop(self, unit: Unit) -> None:
        with LOCK:
            proc, unit.stopping = unit.proc, True
        if proc is None or proc.poll() is not None:
            unit.state = "inactive"
            return
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        unit.state = "inactive"
        console(f"[  OK  ] Stopped {unit.name} - {unit.description}.")

    def pump(self, unit: Unit, proc: subprocess.Popen[bytes]) -> None:
        stream: BinaryIO = proc.stdout  # type: ignore[assignment]
        for raw in iter(stream.readline, b""):
            journal(unit.name, proc.pid, raw.decode(errors="replace").rstrip("\n"))

    def watch(self, unit: Unit, proc: subprocess.Popen[bytes]) -> None:
        code = proc.wait()
        with LOCK:
            if unit.proc is not proc:
                return
            unit.exit_code = code
            if unit.stopping:
                return
            unit.state = "failed" if code != 0 else "inactive"
            journal(
                "init.scope", 1, f"{unit.name}: Main process exited, code=exited, status={code}"
            )
            unit.ready.set()  # wake a waiting `systemctl start`
            again = unit.restart == "always" or (unit.restart == "on-failure" and code != 0)
        if again:
            time.sleep(unit.restart_sec)
            if not unit.stopping and unit.proc is proc:
                journal("init.scope", 1, f"{unit.name}: Scheduled restart job.")
                self.start(unit, wait=0, announce=False)

    def notified(self, message: str) -> None:
        fields = dict(line.split("=", 1) for line in message.splitlines() if "=" in line)
        pid = int(fields.get("MAINPID", "0"))
        for unit in self.units.values():
            if unit.proc is not None and unit.proc.pid == pid and fields.get("READY") == "1":
                unit.state = "active"
                unit.ready.set()

    def command(self, request: dict[str, Any]) -> dict[str, Any]:
        verb, names = request.get("verb", ""), request.get("units") or []
        if verb == "daemon-reload":
            fresh = {p.name: Unit(p.name, p) for p in sorted(UNITS.glob("*.service"))}
            for name, unit in fresh.items():
                if name not in self.units:
                    self.units[name] = unit
            return {"code": 0, "out": ""}
        out, code = [], 0
        for name in names:
            unit = self.unit(name)
            if unit is None:
                return {"code": 5, "out": f"Failed to {verb} {name}: Unit {name} not found."}
            if verb in ("start", "restart", "stop"):
                if verb != "start":
                    self.stop(unit)
                if verb != "stop":
                    ok, message = self.start(unit)
                    if not ok:
                        code, out = 1, [*out, message]
            elif verb == "is-active":
                out.append(unit.state)
                code = code or (0 if unit.state == "active" else 3)
            elif verb in ("enable", "disable"):
                unit.enabled = verb == "enable"
            elif verb == "status":
                pid = unit.proc.pid if unit.proc is not None and unit.proc.poll() is None else None
                out.append(f"● {unit.name} - {unit.description}\n     Active: {unit.state}"
                           + (f"\n   Main PID: {pid}" if pid else ""))  # fmt: skip
                code = code or (0 if unit.state == "active" else 3)
            else:
                return {"code": 1, "out": f"Unknown command verb {verb}."}
        return {"code": code, "out": "\n".join(out)}


def serve_control(manager: Manager) -> None:
    CONTROL.parent.mkdir(parents=True, exist_ok=True)
    CONTROL.unlink(missing_ok=True)
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(CONTROL))
    server.listen(16)

    def handle(conn: socket.socket) -> None:
        with conn, conn.makefile("rwb") as stream:
            request = json.loads(stream.readline() or b"{}")
            stream.write((json.dumps(manager.command(request)) + "\n").encode())

    def accept() -> None:
        while True:
            conn, _ = server.accept()
            threading.Thread(target=handle, args=(conn,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()


def serve_notify(manager: Manager) -> None:
    NOTIFY.parent.mkdir(parents=True, exist_ok=True)
    NOTIFY.unlink(missing_ok=True)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(NOTIFY))

    def receive() -> None:
        while True:
            manager.notified(sock.recv(4096).decode(errors="replace"))

    threading.Thread(target=receive, daemon=True).start()


def reap_orphans() -> None:
    """PID 1's duty: collect exited processes that are nobody's child any more."""
    while True:
        time.sleep(1)
        with LOCK:
            ours = {u.proc.pid for u in MANAGER.units.values() if u.proc is not None}
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit() or int(entry.name) in ours:
                continue
            with contextlib.suppress(OSError, IndexError):
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                if fields[0] == "Z" and fields[1] == "1":
                    os.waitpid(int(entry.name), os.WNOHANG)


def entrypoint_lines() -> None:
    """The entrypoint's own work and lines, before it execs systemd."""
    if Path("/sys/fs/cgroup/cgroup.controllers").exists():
        console("INFO: detected cgroup v2")
    else:
        console("INFO: detected cgroup v1")
    snapshotter = os.environ.get("KIND_EXPERIMENTAL_CONTAINERD_SNAPSHOTTER")
    if snapshotter and CONTAINERD_CONFIG.exists():
        console(f'INFO: changing snapshotter from "overlayfs" to "{snapshotter}"')
        text = CONTAINERD_CONFIG.read_text()
        CONTAINERD_CONFIG.write_text(
            re.sub(r'snapshotter = "overlayfs"', f'snapshotter = "{snapshotter}"', text)
        )
    Path("/etc/machine-id").write_text(os.urandom(16).hex() + "\n")
    console("INFO: clearing and regenerating /etc/machine-id")
    with contextlib.suppress(OSError):
        console(f"INFO: detected IPv4 address: {socket.gethostbyname(socket.gethostname())}")
    console("INFO: starting init")


MANAGER: Manager


def main(argv: list[str] | None = None) -> None:
    global MANAGER  # noqa: PLW0603 (PID 1 has one manager)
    del argv
    MANAGER = Manager()
    stopping = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGRTMIN + 3):
        signal.signal(sig, lambda *_: stopping.set())
    serve_notify(MANAGER)
    serve_control(MANAGER)  # before any line kind waits for
    entrypoint_lines()
    console("kindnode init (a stand-in for systemd) running in system mode")
    console(f"Set hostname to <{socket.gethostname()}>.")
    threading.Thread(target=reap_orphans, daemon=True).start()
    for unit in MANAGER.units.values():
        if unit.enabled:
            MANAGER.start(unit, wait=30)
    console("[  OK  ] Reached target multi-user.target - Multi-User System.")
    stopping.wait()
    console("Stopping...")
    for unit in MANAGER.units.values():
        MANAGER.stop(unit)
    sys.exit(0)


if __name__ == "__main__":
    main()
