"""Two-namespace test lab used by record_all.py.

Layout (fresh for every scenario, deleted afterwards):

    netns td-a                                netns td-b
    td-va 10.77.0.1/24 fd00:77::1/64  <--->   td-vb 10.77.0.2/24 fd00:77::2/64
    MAC 02:77:00:00:00:01                     MAC 02:77:00:00:00:02

Sockets are created *inside* a namespace by switching the calling thread's
network namespace with setns(2), calling socket(2), and switching back: a
socket stays bound to the namespace it was created in, so one Python thread
can drive both ends of a connection step by step. That keeps the packet order
deterministic, which keeps the frame numbers in the manifest stable across
re-recordings.

Needs root (network namespaces, nftables, tcpdump).
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import os
import signal
import socket
import struct
import subprocess
import threading
import time
from pathlib import Path

NS_A = "td-a"
NS_B = "td-b"
DEV_A = "td-va"
DEV_B = "td-vb"
MAC_A = "02:77:00:00:00:01"
MAC_B = "02:77:00:00:00:02"
IP_A = "10.77.0.1"
IP_B = "10.77.0.2"
IP6_A = "fd00:77::1"
IP6_B = "fd00:77::2"

CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL("libc.so.6", use_errno=True)


def run(*args: str, ns: str | None = None, check: bool = True, stdin: str | None = None) -> str:
    """Run a command (inside namespace `ns` if given) and return its stdout."""
    cmd = (["ip", "netns", "exec", ns] if ns else []) + list(args)
    res = subprocess.run(cmd, input=stdin, capture_output=True, text=True)
    if check and res.returncode != 0:
        raise RuntimeError(f"{cmd} failed: {res.stderr.strip()}")
    return res.stdout


def _setns(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        if _libc.setns(fd, CLONE_NEWNET) != 0:
            err = ctypes.get_errno()
            raise OSError(err, os.strerror(err), path)
    finally:
        os.close(fd)


@contextlib.contextmanager
def in_netns(ns: str):
    """Run the body with the calling thread inside network namespace `ns`."""
    home = f"/proc/self/task/{threading.get_native_id()}/ns/net"
    home_fd = os.open(home, os.O_RDONLY)
    try:
        _setns(f"/run/netns/{ns}")
        yield
    finally:
        _libc.setns(home_fd, CLONE_NEWNET)
        os.close(home_fd)


def sock(ns: str, family: int = socket.AF_INET, kind: int = socket.SOCK_STREAM, proto: int = 0):
    """A socket living in namespace `ns`."""
    with in_netns(ns):
        return socket.socket(family, kind, proto)


def listener(ns: str, addr: str, port: int, family: int = socket.AF_INET) -> socket.socket:
    s = sock(ns, family)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, port))
    s.listen(16)
    return s


def client(ns: str, addr: str, port: int, family: int = socket.AF_INET, reuse: bool = False):
    """A TCP socket in `ns` bound to a fixed local (addr, port): fixed ports keep
    the 4-tuples in the manifest identical on every re-recording."""
    s = sock(ns, family)
    if reuse:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, port))
    return s


def ss_time_wait(ns: str) -> list[str]:
    """Lines of `ss -Htan state time-wait` in `ns` (no header line)."""
    return [ln for ln in run("ss", "-Htan", "state", "time-wait", ns=ns).splitlines() if ln.strip()]


def ss_all(ns: str) -> list[str]:
    return [ln for ln in run("ss", "-Htan", ns=ns).splitlines() if ln.strip()]


# --- ethtool via ioctl (the ethtool binary is not installed) -----------------
SIOCETHTOOL = 0x8946
ETHTOOL_STXCSUM = 0x17
ETHTOOL_STSO = 0x1F
ETHTOOL_SGSO = 0x24
ETHTOOL_SGRO = 0x2C


def _ethtool_set(ns: str, dev: str, cmd: int, value: int) -> None:
    with in_netns(ns):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        ev = ctypes.create_string_buffer(struct.pack("II", cmd, value))
        ifreq = struct.pack("16sP", dev.encode(), ctypes.addressof(ev))
        fcntl.ioctl(s.fileno(), SIOCETHTOOL, ifreq)
    finally:
        s.close()


def disable_offloads(ns: str, dev: str) -> None:
    """No TSO/GSO/GRO so one frame is one segment; no TX checksum offload so
    the checksums in the capture are valid even on the sending side."""
    for cmd in (ETHTOOL_STXCSUM, ETHTOOL_STSO, ETHTOOL_SGSO, ETHTOOL_SGRO):
        with contextlib.suppress(OSError):
            _ethtool_set(ns, dev, cmd, 0)


# --- the lab ------------------------------------------------------------------
def delete_namespaces() -> None:
    for ns in (NS_A, NS_B):
        run("ip", "netns", "del", ns, check=False)


class Lab:
    """Fresh td-a/td-b namespaces joined by a veth pair."""

    def __enter__(self) -> Lab:
        delete_namespaces()  # idempotent: remove leftovers of an aborted run
        for ns in (NS_A, NS_B):
            run("ip", "netns", "add", ns)
            run("ip", "link", "set", "lo", "up", ns=ns)
        run("ip", "link", "add", DEV_A, "netns", NS_A, "address", MAC_A, "type", "veth",
            "peer", "name", DEV_B, "netns", NS_B, "address", MAC_B)  # fmt: skip
        for ns, dev, ip4, ip6, peer4, peer6, peer_mac in (
            (NS_A, DEV_A, IP_A, IP6_A, IP_B, IP6_B, MAC_B),
            (NS_B, DEV_B, IP_B, IP6_B, IP_A, IP6_A, MAC_A),
        ):
            run("ip", "addr", "add", f"{ip4}/24", "dev", dev, ns=ns)
            run("ip", "addr", "add", f"{ip6}/64", "dev", dev, "nodad", ns=ns)
            disable_offloads(ns, dev)
            run("ip", "link", "set", dev, "up", ns=ns)
            # Static neighbours: no ARP / neighbour discovery in the captures.
            run(
                "ip",
                "neigh",
                "replace",
                peer4,
                "lladdr",
                peer_mac,
                "dev",
                dev,
                "nud",
                "permanent",
                ns=ns,
            )
            run(
                "ip",
                "neigh",
                "replace",
                peer6,
                "lladdr",
                peer_mac,
                "dev",
                dev,
                "nud",
                "permanent",
                ns=ns,
            )
            # Linux defaults, set explicitly because the verdicts depend on them.
            run("sysctl", "-qw", "net.ipv4.tcp_rfc1337=0", ns=ns)
            run("sysctl", "-qw", "net.ipv4.tcp_timestamps=1", ns=ns)
        time.sleep(0.2)
        return self

    def __exit__(self, *exc) -> None:
        delete_namespaces()

    @staticmethod
    def nft(ns: str, ruleset: str) -> None:
        run("nft", "-f", "-", ns=ns, stdin=ruleset)

    @staticmethod
    @contextlib.contextmanager
    def capture(
        path: Path, ns: str = NS_A, dev: str = DEV_A, snaplen: int = 0, settle: float = 0.3
    ):
        """tcpdump on `dev` in `ns` for the duration of the body (TCP only)."""
        path.unlink(missing_ok=True)
        cmd = ["ip", "netns", "exec", ns, "tcpdump", "-i", dev, "-s", str(snaplen), "-U",
               "--immediate-mode", "-n", "-Z", "root", "-w", str(path), "tcp"]  # fmt: skip
        proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True)
        line = proc.stderr.readline()  # "tcpdump: listening on ..." once armed
        if "data link type" in line:  # `-i any` first names its link type (SLL2)
            line = proc.stderr.readline()
        if "listening" not in line:
            proc.kill()
            raise RuntimeError(f"tcpdump did not start: {line}")
        time.sleep(0.1)
        try:
            yield path
        finally:
            time.sleep(settle)  # let trailing ACKs reach the capture
            proc.send_signal(signal.SIGINT)
            proc.wait(timeout=10)


def bridge_server_side() -> None:
    """Enslave td-vb to a new bridge br0 in td-b and move the server's IPv4
    address (and its static neighbour entry) to br0. br0 takes td-vb's MAC,
    so td-a's static neighbour entry still holds. A capture on `any` in td-b
    then sees every frame twice: on the bridge port td-vb and on br0."""
    run("ip", "link", "add", "br0", "address", MAC_B, "type", "bridge",
        "forward_delay", "0", "stp_state", "0", ns=NS_B)  # fmt: skip
    disable_offloads(NS_B, "br0")
    run("ip", "link", "set", DEV_B, "master", "br0", ns=NS_B)
    run("ip", "addr", "del", f"{IP_B}/24", "dev", DEV_B, ns=NS_B)
    run("ip", "addr", "add", f"{IP_B}/24", "dev", "br0", ns=NS_B)
    run("ip", "link", "set", "br0", "up", ns=NS_B)
    run("ip", "neigh", "replace", IP_A, "lladdr", MAC_A, "dev", "br0", "nud", "permanent",
        ns=NS_B)  # fmt: skip
    time.sleep(0.2)
