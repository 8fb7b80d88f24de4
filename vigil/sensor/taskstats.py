"""Exit records from the kernel's taskstats interface: the name of a process that was reaped before /proc was read.

Why: a process that lives ~0.1 ms (a static binary that exits at once) is often reaped before the reader opens
/proc/<pid>, and then /proc has nothing left, not even comm. The kernel's per-task accounting (genetlink family
`TASKSTATS`, `CONFIG_TASKSTATS`) sends one record per exiting task to every listener registered for the CPU it ran
on, with the command name (comm after the exec), real uid/gid, pid, parent pid and start time. The record is sent
in `do_exit()`, before the parent can reap the task, so by the time /proc says "gone" the record is already in our
socket buffer. Registering needs CAP_NET_ADMIN; without it the sensor simply keeps pid-only events.

Wire format (native endianness): nlmsghdr "=IHHII" + genlmsghdr "=BBH" + attributes "=HH" (len, type), 4-aligned.
`struct taskstats` is an append-only ABI; the fields used here sit at fixed offsets in every version:
ac_comm[32] @80, ac_uid @120, ac_gid @124, ac_pid @128, ac_ppid @132, ac_btime (start, wall seconds) @136.
"""

from __future__ import annotations

import os
import socket
import struct
import typing as t
from dataclasses import dataclass

from vigil.sensor.connector import Unavailable, receive, set_receive_buffer

NETLINK_GENERIC = 16
GENL_ID_CTRL = 0x10
CTRL_CMD_GETFAMILY = 3
CTRL_ATTR_FAMILY_ID = 1
CTRL_ATTR_FAMILY_NAME = 2
NLM_F_REQUEST = 1
NLMSG_ERROR = 2

TASKSTATS_CMD_GET = 1
TASKSTATS_CMD_NEW = 2
TASKSTATS_CMD_ATTR_REGISTER_CPUMASK = 3
TASKSTATS_CMD_ATTR_DEREGISTER_CPUMASK = 4
TASKSTATS_TYPE_PID = 1
TASKSTATS_TYPE_STATS = 3
TASKSTATS_TYPE_AGGR_PID = 4

_NLMSGHDR = struct.Struct("=IHHII")
_GENLHDR = struct.Struct("=BBH")
_ATTR = struct.Struct("=HH")
_IDS = struct.Struct("=IIIII")  # ac_uid, ac_gid, ac_pid, ac_ppid, ac_btime
_COMM_AT, _IDS_AT, _STATS_MIN = 80, 120, 140
RCVBUF_BYTES = 4 * 1024 * 1024
KEEP = 32768  # exit records kept for lookups (one per exiting task; older ones are dropped first)


class TaskstatsUnavailable(Unavailable):
    """The kernel's taskstats exit records cannot be used here."""


@dataclass(frozen=True, slots=True)
class ExitRecord:
    pid: int
    comm: str
    uid: int  # real uid
    gid: int  # real gid
    ppid: int
    btime: int  # process start, wall-clock seconds


def _attr(kind: int, payload: bytes) -> bytes:
    size = _ATTR.size + len(payload)
    return _ATTR.pack(size, kind) + payload + b"\0" * ((4 - size % 4) % 4)


def _message(family: int, cmd: int, attrs: bytes, seq: int) -> bytes:
    body = _GENLHDR.pack(cmd, 1, 0) + attrs
    return _NLMSGHDR.pack(_NLMSGHDR.size + len(body), family, NLM_F_REQUEST, seq, 0) + body


def _attrs(data: bytes, start: int, end: int) -> t.Iterator[tuple[int, int, int]]:
    """(type, payload start, payload end) of each attribute in data[start:end]."""
    while start + _ATTR.size <= end:
        length, kind = _ATTR.unpack_from(data, start)
        if length < _ATTR.size or start + length > end:
            return
        yield kind & 0x3FFF, start + _ATTR.size, start + length  # strip NLA_F_NESTED / NLA_F_NET_BYTEORDER
        start += (length + 3) & ~3


def decode_exits(data: bytes) -> list[ExitRecord]:
    """Every per-task exit record in one datagram (other messages and malformed parts are skipped)."""
    out: list[ExitRecord] = []
    offset, size = 0, len(data)
    while offset + _NLMSGHDR.size <= size:
        length, _type, _flags, _seq, _pid = _NLMSGHDR.unpack_from(data, offset)
        if length < _NLMSGHDR.size or offset + length > size:
            break
        body = offset + _NLMSGHDR.size + _GENLHDR.size
        if body <= offset + length and data[offset + _NLMSGHDR.size] == TASKSTATS_CMD_NEW:
            for kind, start, end in _attrs(data, body, offset + length):
                if kind != TASKSTATS_TYPE_AGGR_PID:
                    continue
                for inner, s, e in _attrs(data, start, end):
                    if inner == TASKSTATS_TYPE_STATS and e - s >= _STATS_MIN:
                        comm = data[s + _COMM_AT:s + _COMM_AT + 32].split(b"\0", 1)[0]
                        uid, gid, pid, ppid, btime = _IDS.unpack_from(data, s + _IDS_AT)
                        out.append(ExitRecord(pid, comm.decode("utf-8", "replace"), uid, gid, ppid, btime))
        offset += (length + 3) & ~3
    return out


def _possible_cpus() -> str:
    try:
        return open("/sys/devices/system/cpu/possible", encoding="ascii").read().strip()
    except OSError:
        return f"0-{max(0, (os.cpu_count() or 1) - 1)}"


class ExitListener:
    """Registered for every CPU's exit records. `drain()` reads what is queued; `take(pid, ...)` looks one up."""

    def __init__(self, *, rcvbuf: int = RCVBUF_BYTES):
        self.records: dict[int, ExitRecord] = {}
        self.lost_batches = 0  # ENOBUFS on this socket: some exit records were dropped (names, not events)
        self.received = 0
        try:
            self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_GENERIC)
        except OSError as error:
            raise TaskstatsUnavailable(f"cannot open a generic netlink socket: {error.strerror}") from None
        try:
            set_receive_buffer(self.sock, rcvbuf)
            self.sock.bind((0, 0))
            self.family = self._resolve_family()
            self.cpus = _possible_cpus()
            self._command(TASKSTATS_CMD_ATTR_REGISTER_CPUMASK)
        except TaskstatsUnavailable:
            self.sock.close()
            raise
        except OSError as error:
            self.sock.close()
            raise TaskstatsUnavailable(f"taskstats refused: {error.strerror or error}") from None
        self.sock.setblocking(False)

    def fileno(self) -> int:
        return self.sock.fileno()

    def _request(self, family: int, cmd: int, attrs: bytes) -> bytes:
        self.sock.settimeout(1.0)
        self.sock.send(_message(family, cmd, attrs, 1))
        while True:
            data = self.sock.recv(65536)
            length, mtype, _f, seq, _p = _NLMSGHDR.unpack_from(data, 0)
            if mtype == NLMSG_ERROR:
                (code,) = struct.unpack_from("=i", data, _NLMSGHDR.size)
                if code:
                    raise OSError(-code, os.strerror(-code))
                return data
            if seq == 1:
                return data

    def _resolve_family(self) -> int:
        try:
            reply = self._request(GENL_ID_CTRL, CTRL_CMD_GETFAMILY, _attr(CTRL_ATTR_FAMILY_NAME, b"TASKSTATS\0"))
        except OSError as error:
            raise TaskstatsUnavailable(f"no TASKSTATS family (kernel without CONFIG_TASKSTATS?): "
                                       f"{error.strerror or error}") from None
        length = _NLMSGHDR.unpack_from(reply, 0)[0]
        for kind, start, _end in _attrs(reply, _NLMSGHDR.size + _GENLHDR.size, length):
            if kind == CTRL_ATTR_FAMILY_ID:
                return struct.unpack_from("=H", reply, start)[0]
        raise TaskstatsUnavailable("the TASKSTATS family has no id")

    def _command(self, attr: int) -> None:
        """Register/deregister. Success is silent (no ACK requested); a refusal comes back as NLMSG_ERROR."""
        self.sock.settimeout(0.2)
        self.sock.send(_message(self.family, TASKSTATS_CMD_GET, _attr(attr, self.cpus.encode() + b"\0"), 2))
        try:
            data = self.sock.recv(65536, socket.MSG_PEEK)
        except (TimeoutError, socket.timeout, BlockingIOError):
            return
        _len, mtype, _f, seq, _p = _NLMSGHDR.unpack_from(data, 0)
        if mtype == NLMSG_ERROR and seq == 2:
            self.sock.recv(65536)
            (code,) = struct.unpack_from("=i", data, _NLMSGHDR.size)
            if code:
                raise TaskstatsUnavailable(f"taskstats registration refused: {os.strerror(-code)} "
                                           "(needs CAP_NET_ADMIN)")

    def drain(self, max_datagrams: int = 4096) -> int:
        """Read every queued exit record into `records`; returns how many arrived."""
        records, got = self.records, 0
        datagrams, lost = receive(self.sock, max_datagrams)
        self.lost_batches += lost
        for data in datagrams:
            for record in decode_exits(data):
                records.pop(record.pid, None)  # re-insert: dict order is arrival order, oldest first
                records[record.pid] = record
                got += 1
        self.received += got
        if len(records) > KEEP:
            for pid in list(records)[:len(records) - KEEP // 2]:
                del records[pid]
        return got

    def take(self, pid: int, exec_wall_s: float) -> t.Optional[ExitRecord]:
        """The exit record of the process `pid` exec'd at `exec_wall_s`, if the kernel sent it (drains first).

        The start-time check rejects a record of an earlier process that had the same pid (pids wrap quickly on a
        busy host: pid_max is often 32768)."""
        record = self.records.get(pid)
        if record is None:
            self.drain()
            record = self.records.get(pid)
        if record is None or not exec_wall_s - 2 <= record.btime <= exec_wall_s + 1:
            return None
        del self.records[pid]
        return record

    def close(self) -> None:
        try:
            self.sock.setblocking(True)
            self._command(TASKSTATS_CMD_ATTR_DEREGISTER_CPUMASK)
        except (OSError, TaskstatsUnavailable):
            pass
        self.sock.close()
