"""Hosts on one machine without containers: network namespaces on a private bridge (needs root).

Each "host" is a namespace with its own loopback and an address on 10.213.N.0/24; the bridge
also carries an address in the root namespace, so the test itself reaches every host. A process
started with `hostname=` also gets its own UTS namespace, so socket.gethostname() differs per
host as it would on separate machines. Nothing is routed beyond the bridge.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

from processes import process_state

PREFIX = "10.213"  #: a rarely used private range; N in 10.213.N.0/24 is picked free per run
BRIDGE_HOST = 254  #: the root namespace's address on the bridge
MARIADBD = "/usr/sbin/mariadbd"
_IP = ["ip"]


def unusable_reason() -> str | None:
    """Why namespaces can't be made here (not root, no iproute2, no netns support), or None."""
    if os.geteuid() != 0:
        return "network namespaces need root"
    if shutil.which("ip") is None or shutil.which("unshare") is None:
        return "needs iproute2 (ip) and util-linux (unshare)"
    probe = f"bs-probe-{os.getpid()}"
    made = subprocess.run([*_IP, "netns", "add", probe], capture_output=True, text=True)
    if made.returncode != 0:
        return f"`ip netns add` does not work here: {made.stderr.strip()}"
    subprocess.run([*_IP, "netns", "delete", probe], capture_output=True)
    return None


def _ip(*args: str) -> None:
    subprocess.run([*_IP, *args], check=True, capture_output=True, text=True, timeout=30)


def _free_subnet() -> str:
    """10.213.N for an N no route of this machine uses yet (another run may hold one)."""
    routes = subprocess.run([*_IP, "-4", "route", "show", "table", "all"], capture_output=True)
    used = routes.stdout.decode()
    for n in [*range(os.getpid() % 200 + 20, 250), *range(20, 250)]:
        if f"{PREFIX}.{n}." not in used:
            return f"{PREFIX}.{n}"
    raise RuntimeError(f"no free /24 left in {PREFIX}.0.0/16")


class Network:
    """A bridge in the root namespace and one namespace per host name, each with an address.

    Names carry this process's id, so parallel runs don't collide; close() removes everything
    (killing whatever still runs inside the namespaces) and is safe to call more than once.
    """

    def __init__(self, hosts: Sequence[str]) -> None:
        tag = str(os.getpid())
        self.bridge = f"bsbr{tag}"
        self.subnet = _free_subnet()
        self.root_address = f"{self.subnet}.{BRIDGE_HOST}"
        self.namespaces = {host: f"bs-{host}-{tag}" for host in hosts}
        self.addresses = {host: f"{self.subnet}.{i}" for i, host in enumerate(hosts, start=1)}
        self._veths = [f"bs{tag}v{i}" for i in range(1, len(hosts) + 1)]

    def open(self) -> Network:
        self.close()  # leftovers of a killed run that had our pid
        _ip("link", "add", self.bridge, "type", "bridge")
        _ip("addr", "add", f"{self.root_address}/24", "dev", self.bridge)
        _ip("link", "set", self.bridge, "up")
        for veth, (host, ns) in zip(self._veths, self.namespaces.items(), strict=True):
            _ip("netns", "add", ns)
            _ip("link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", ns)
            _ip("link", "set", veth, "master", self.bridge, "up")
            _ip("-n", ns, "addr", "add", f"{self.addresses[host]}/24", "dev", "eth0")
            _ip("-n", ns, "link", "set", "eth0", "up")
            _ip("-n", ns, "link", "set", "lo", "up")
        return self

    def close(self) -> None:
        """Kill what runs in our namespaces, then delete them, the veths and the bridge."""
        existing = subprocess.run([*_IP, "netns", "list"], capture_output=True, text=True).stdout
        for ns in self.namespaces.values():
            if ns in existing.split():
                _kill_pids(ns)
                subprocess.run([*_IP, "netns", "delete", ns], capture_output=True)
        for link in [*self._veths, self.bridge]:  # a veth goes with its namespace; the bridge not
            subprocess.run([*_IP, "link", "delete", link], capture_output=True)

    def args(self, host: str, argv: Sequence[str], *, hostname: str | None = None) -> list[str]:
        """argv run inside `host`'s namespace (exec'd, so the Popen pid is argv's own pid)."""
        prefix = [*_IP, "netns", "exec", self.namespaces[host]]
        if hostname is None:
            return [*prefix, *argv]
        set_name = 'hostname "$0" && exec "$@"'
        return [*prefix, "unshare", "--uts", "sh", "-c", set_name, hostname, *argv]

    def start(
        self,
        host: str,
        argv: Sequence[str],
        log: Path,
        *,
        hostname: str | None = None,
        env: dict[str, str] | None = None,
    ) -> subprocess.Popen[bytes]:
        """Start argv in `host` with stdout and stderr going to `log`."""
        with log.open("ab") as out:
            return subprocess.Popen(
                self.args(host, argv, hostname=hostname), stdout=out, stderr=out, env=env
            )


def _kill_pids(ns: str) -> None:
    """SIGKILL every process in namespace `ns` (all of them ours: it is our namespace)."""
    listed = subprocess.run([*_IP, "netns", "pids", ns], capture_output=True, text=True).stdout
    pids = [int(p) for p in listed.split()]
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while any(process_state(p) not in ("", "Z") for p in pids) and time.monotonic() < deadline:
        time.sleep(0.05)


def wait_for_port(net: Network, host: str, port: int, process: subprocess.Popen[bytes]) -> None:
    """Until something accepts TCP connections on host:port (from the root namespace)."""
    deadline = time.monotonic() + 60
    while True:
        try:
            socket.create_connection((net.addresses[host], port), timeout=1).close()
            return
        except OSError:
            assert process.poll() is None, f"server in {host} exited {process.returncode}"
            assert time.monotonic() < deadline, f"nothing listens on {host}:{port} after 60 s"
            time.sleep(0.1)


def start_mariadb(
    net: Network, host: str, root: Path, port: int = 3306
) -> tuple[str, subprocess.Popen[bytes]]:
    """A throwaway MariaDB inside `host` as scripts/mariadb-test-server makes one, but bound to
    the namespace's address with a user every host on the bridge may use; its URL and process."""
    data = root / "data"
    root.mkdir(parents=True, exist_ok=True)
    if not (data / "mysql").is_dir():
        install = ["mariadb-install-db", "--no-defaults", f"--datadir={data}", "--user=root"]
        with (root / "install.log").open("wb") as log:
            subprocess.run(
                [*install, "--auth-root-authentication-method=socket"],
                stdout=log,
                stderr=log,
                check=True,
                timeout=120,
            )
    socket_path = root / "mysqld.sock"
    options = [
        *("--no-defaults", f"--datadir={data}", f"--socket={socket_path}", "--user=root"),
        *(f"--pid-file={root / 'mysqld.pid'}", f"--port={port}", "--skip-name-resolve"),
        *(f"--bind-address={net.addresses[host]}", "--innodb-buffer-pool-size=128M"),
        *("--innodb-flush-log-at-trx-commit=2", "--character-set-server=utf8mb4"),
        "--collation-server=utf8mb4_unicode_ci",
    ]
    server = net.start(host, [MARIADBD, *options], root / "server.log")
    wait_for_port(net, host, port, server)
    user = f"'batchscore'@'{net.subnet}.%'"
    sql = (
        "CREATE DATABASE IF NOT EXISTS batchscore CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;"
        f"CREATE USER IF NOT EXISTS {user} IDENTIFIED BY 'batchscore';"
        f"GRANT ALL PRIVILEGES ON batchscore.* TO {user};"
    )
    subprocess.run(
        ["mariadb", f"--socket={socket_path}", "-uroot", "-e", sql],
        check=True,
        capture_output=True,
        timeout=30,
    )
    address = f"{net.addresses[host]}:{port}"
    return f"mysql+pymysql://batchscore:batchscore@{address}/batchscore?charset=utf8mb4", server


def stop(processes: Sequence[subprocess.Popen[bytes]], timeout: float = 60) -> list[int]:
    """SIGTERM each process and wait for it (SIGKILL past `timeout`); their exit codes."""
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    codes = []
    for process in processes:
        try:
            codes.append(process.wait(timeout=timeout))
        except subprocess.TimeoutExpired:
            process.kill()
            codes.append(process.wait())
    return codes
