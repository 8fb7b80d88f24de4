"""The kernel process-events connector (NETLINK_CONNECTOR / CN_IDX_PROC) over a raw stdlib netlink socket.

Why raw sockets and not pyroute2: pyroute2 hard-codes the 4-byte subscribe op (no exec-only filter), costs about
12x the CPU, and its buffering loses half the events behind `select()` (docs/live-collection.md §1).

Wire format (native endianness):

    nlmsghdr  "=IHHII"  len, type (NLMSG_DONE=3), flags, seq, pid
    cn_msg    "=IIIIHH" idx=1 (CN_IDX_PROC), val=1, seq, ack, data_len, flags
    subscribe "=I" PROC_CN_MCAST_LISTEN (legacy, the kernel ACKs) or "=II" (LISTEN, PROC_EVENT_EXEC) (exec-only)
    event     "=IIQ" what, cpu, timestamp_ns (CLOCK_MONOTONIC) + a per-type union

The exec-only filter exists on newer kernels only; older ones ignore the 8-byte message, so events are always
filtered in userspace too, and `filter_active` records whether the kernel did it (no fork/exit seen).
`ENOBUFS` from recv is the only sign that the kernel dropped events: it is counted in `lost_batches`.
"""

from __future__ import annotations

import errno
import os
import select
import socket
import struct
import time
import typing as t
from dataclasses import dataclass

NETLINK_CONNECTOR = 11
CN_IDX_PROC = 1
CN_VAL_PROC = 1
NLMSG_DONE = 3
NLMSG_ERROR = 2

PROC_CN_MCAST_LISTEN = 1
PROC_CN_MCAST_IGNORE = 2

PROC_EVENT_NONE = 0x0
PROC_EVENT_FORK = 0x1
PROC_EVENT_EXEC = 0x2
PROC_EVENT_EXIT = 0x80000000

_NLMSGHDR = struct.Struct("=IHHII")
_CN_MSG = struct.Struct("=IIIIHH")
_EVENT_HEAD = struct.Struct("=IIQ")
_EXEC = struct.Struct("=II")
_FORK = struct.Struct("=IIII")
_EXIT = struct.Struct("=IIIIII")
_ACK = struct.Struct("=I")  # PROC_EVENT_NONE carries `err`

RCVBUF_BYTES = 8 * 1024 * 1024  # the kernel doubles it; the default 212,992 bytes holds only ~256 exec messages


class Unavailable(Exception):
    """A kernel interface cannot be used here; `reason` says why in words a user can act on."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class ConnectorUnavailable(Unavailable):
    """The proc connector cannot be used here."""


SO_RCVBUFFORCE = 33  # not exported by Python's socket module


def set_receive_buffer(sock: socket.socket, size: int) -> bool:
    """Size a netlink socket's receive buffer: SO_RCVBUFFORCE (beats rmem_max, needs CAP_NET_ADMIN), else
    SO_RCVBUF (capped by net.core.rmem_max). Returns whether the forced size was taken."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, size)
        return True
    except OSError:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, size)
        return False


def receive(sock: socket.socket, max_datagrams: int) -> tuple[list[bytes], int]:
    """The datagrams queued now on a non-blocking netlink socket (at most `max_datagrams`), and how many times the
    kernel said ENOBUFS (it dropped messages for lack of buffer room; reading goes on after each)."""
    datagrams: list[bytes] = []
    lost = 0
    recv = sock.recv
    for _ in range(max_datagrams):
        try:
            datagrams.append(recv(65536))
        except BlockingIOError:
            break
        except OSError as error:
            if error.errno != errno.ENOBUFS:
                raise
            lost += 1
    return datagrams, lost


@dataclass(frozen=True, slots=True)
class ProcEvent:
    """One decoded connector event. `pid`/`tgid` are the exec'd (or forked child / exiting) task's ids."""

    what: int
    cpu: int
    timestamp_ns: int
    pid: int = 0
    tgid: int = 0
    parent_pid: int = 0
    parent_tgid: int = 0
    err: int = 0  # PROC_EVENT_NONE (ACK) only


# ------------------------------------------------------------------------------------------------ encode / decode
def encode_subscribe(op: int = PROC_CN_MCAST_LISTEN, event_filter: t.Optional[int] = None, *, seq: int = 0,
                     pid: int = 0) -> bytes:
    """A subscribe message: legacy 4-byte op, or the 8-byte (op, event mask) `proc_input` of filtering kernels."""
    data = struct.pack("=I", op) if event_filter is None else struct.pack("=II", op, event_filter)
    cn = _CN_MSG.pack(CN_IDX_PROC, CN_VAL_PROC, seq, 0, len(data), 0)
    body = cn + data
    return _NLMSGHDR.pack(_NLMSGHDR.size + len(body), NLMSG_DONE, 0, seq, pid) + body


def decode_datagram(data: bytes) -> list[ProcEvent]:
    """Every proc event in one received datagram (several netlink messages may share it). Unknown parts are skipped."""
    events: list[ProcEvent] = []
    offset = 0
    size = len(data)
    while offset + _NLMSGHDR.size <= size:
        length, mtype, _flags, _seq, _pid = _NLMSGHDR.unpack_from(data, offset)
        if length < _NLMSGHDR.size or offset + length > size:
            break  # truncated or corrupt: nothing after it can be trusted
        body = offset + _NLMSGHDR.size
        if mtype == NLMSG_DONE and length >= _NLMSGHDR.size + _CN_MSG.size + _EVENT_HEAD.size:
            idx, val, _s, _a, data_len, _f = _CN_MSG.unpack_from(data, body)
            if idx == CN_IDX_PROC and val == CN_VAL_PROC:
                event = _decode_event(data, body + _CN_MSG.size, data_len)
                if event is not None:
                    events.append(event)
        offset += (length + 3) & ~3  # NLMSG_ALIGN
    return events


def _decode_event(data: bytes, at: int, data_len: int) -> t.Optional[ProcEvent]:
    if data_len < _EVENT_HEAD.size or at + data_len > len(data):
        return None
    what, cpu, ts = _EVENT_HEAD.unpack_from(data, at)
    u = at + _EVENT_HEAD.size
    room = data_len - _EVENT_HEAD.size
    if what == PROC_EVENT_EXEC and room >= _EXEC.size:
        pid, tgid = _EXEC.unpack_from(data, u)
        return ProcEvent(what, cpu, ts, pid, tgid)
    if what == PROC_EVENT_FORK and room >= _FORK.size:
        ppid, ptgid, cpid, ctgid = _FORK.unpack_from(data, u)
        return ProcEvent(what, cpu, ts, cpid, ctgid, ppid, ptgid)
    if what == PROC_EVENT_EXIT and room >= _EXIT.size:
        pid, tgid, _code, _sig, ppid, ptgid = _EXIT.unpack_from(data, u)
        return ProcEvent(what, cpu, ts, pid, tgid, ppid, ptgid)
    if what == PROC_EVENT_NONE and room >= _ACK.size:
        (err,) = _ACK.unpack_from(data, u)
        return ProcEvent(what, cpu, ts, err=err)
    return ProcEvent(what, cpu, ts)


# ------------------------------------------------------------------------------------------------------ the socket
class ProcConnector:
    """A subscribed connector socket. Use `recv_execs()` in a loop; check `lost_batches` for kernel-side drops.

    Args:
        rcvbuf: receive buffer size; `SO_RCVBUFFORCE` is tried first (needs CAP_NET_ADMIN), then `SO_RCVBUF`
            (capped by net.core.rmem_max).
        exec_filter: ask the kernel for exec events only (kernels with the 2023 cn_proc filtering series).
    """

    def __init__(self, *, rcvbuf: int = RCVBUF_BYTES, exec_filter: bool = True):
        self.lost_batches = 0  # ENOBUFS seen: each means one or more events were dropped by the kernel
        self.non_exec_seen = 0
        self.filter_requested = exec_filter
        self.rcvbuf_forced = False
        try:
            self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, NETLINK_CONNECTOR)
        except OSError as error:
            raise ConnectorUnavailable(f"cannot open a NETLINK_CONNECTOR socket: {error.strerror}") from None
        try:
            self.rcvbuf_forced = set_receive_buffer(self.sock, rcvbuf)
            self.sock.bind((0, CN_IDX_PROC))
            self._subscribe(exec_filter)
        except ConnectorUnavailable:
            self.sock.close()
            raise
        except OSError as error:
            self.sock.close()
            raise ConnectorUnavailable(f"proc connector refused: {error.strerror or error}") from None
        self.sock.setblocking(False)

    @property
    def rcvbuf(self) -> int:
        return self.sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)

    @property
    def filter_active(self) -> bool:
        """True when the kernel applied the exec-only filter (no fork/exit/other event has arrived)."""
        return self.filter_requested and self.non_exec_seen == 0

    def fileno(self) -> int:
        return self.sock.fileno()

    def _subscribe(self, exec_filter: bool) -> None:
        try:
            self.sock.send(encode_subscribe(PROC_CN_MCAST_LISTEN, pid=0))
        except ConnectionRefusedError:
            raise ConnectorUnavailable(
                "the proc connector exists only in the initial network namespace (container without --net=host?)"
            ) from None
        self._await_ack()
        if exec_filter:
            # Upgrading the same socket to the exec-only filter works on kernels that know it; others ignore it.
            self.sock.send(encode_subscribe(PROC_CN_MCAST_LISTEN, PROC_EVENT_EXEC))

    def _await_ack(self, timeout: float = 0.5) -> None:
        """Read the PROC_EVENT_NONE ACK of the legacy subscribe; `err != 0` is a refusal (CAP_NET_ADMIN on old kernels).

        No ACK within the timeout is not fatal: kernels in a child user/pid namespace ignore the subscription
        silently, which the self-test (a `/bin/true` that must be seen) detects end to end."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            ready, _, _ = select.select([self.sock], [], [], left)
            if not ready:
                return
            try:
                data = self.sock.recv(65536)
            except OSError as error:
                if error.errno == errno.ENOBUFS:
                    self.lost_batches += 1
                    continue
                raise
            for event in decode_datagram(data):
                if event.what == PROC_EVENT_NONE:
                    if event.err:
                        raise ConnectorUnavailable(
                            f"proc connector subscription denied: {os.strerror(event.err)} "
                            "(this kernel needs CAP_NET_ADMIN)"
                        )
                    return

    def recv_execs(self, max_datagrams: int = 256) -> list[ProcEvent]:
        """Exec events ready now (non-blocking; [] when none). ENOBUFS is counted and reading continues."""
        out: list[ProcEvent] = []
        datagrams, lost = receive(self.sock, max_datagrams)
        self.lost_batches += lost
        for data in datagrams:
            for event in decode_datagram(data):
                if event.what == PROC_EVENT_EXEC:
                    out.append(event)
                elif event.what != PROC_EVENT_NONE:
                    self.non_exec_seen += 1
        return out

    def close(self) -> None:
        try:
            self.sock.send(encode_subscribe(PROC_CN_MCAST_IGNORE))
        except OSError:
            pass
        self.sock.close()

    def __enter__(self) -> "ProcConnector":
        return self

    def __exit__(self, *exc: t.Any) -> None:
        self.close()
