"""The audit backend: read along on the kernel's audit multicast group while auditd owns the audit rules.

Why read along and never install rules: only one process can be *the* audit daemon and it owns the rule set; a
second consumer joins `AUDIT_NLGRP_READLOG` (group 1) and sees every record auditd receives (needs CAP_AUDIT_READ,
initial user namespace; in a new net namespace the bind succeeds but nothing arrives). Records are race-free (argv,
cwd, exe, uids and the login uid are captured by the kernel), at ~10 ms latency idle and tens of ms under load.

Each netlink message is one record: nlmsg_type is the record type, the payload `audit(SEC.MS:SERIAL): k=v ...`.
They are turned back into audit.log lines and grouped/normalized by `vigil.sources.auditd_log`, so live and file
input give the same Auditbeat-shaped documents (index `auditbeat-default`, `event.action` "executed").
"""

from __future__ import annotations

import os
import select
import socket
import struct
import time
import typing as t

from vigil.sensor.backend import Backend, Emit
from vigil.sensor.connector import ConnectorUnavailable
from vigil.sensor.ecs import HostInfo
from vigil.sources.auditd_log import DEFAULT_INDEX, AuditLogParser
from vigil.sources.base import Record

NETLINK_AUDIT = 9
AUDIT_NLGRP_READLOG = 1
_NLMSGHDR = struct.Struct("=IHHII")
IDLE_FLUSH = 0.05  # close pending groups after this much silence (auditd rarely sends EOE before the next event)

RECORD_TYPES = {
    1006: "LOGIN", 1100: "USER_AUTH", 1101: "USER_ACCT", 1103: "CRED_ACQ", 1104: "CRED_DISP", 1105: "USER_START",
    1106: "USER_END", 1112: "USER_LOGIN", 1130: "SERVICE_START", 1131: "SERVICE_STOP", 1300: "SYSCALL",
    1302: "PATH", 1303: "IPC", 1305: "CONFIG_CHANGE", 1306: "SOCKADDR", 1307: "CWD", 1309: "EXECVE", 1320: "EOE",
    1321: "BPRM_FCAPS", 1327: "PROCTITLE",
}


def decode_audit_datagram(data: bytes) -> list[tuple[int, str]]:
    """(record type, payload text) of each netlink message in one datagram."""
    out: list[tuple[int, str]] = []
    offset = 0
    while offset + _NLMSGHDR.size <= len(data):
        length, mtype, _flags, _seq, _pid = _NLMSGHDR.unpack_from(data, offset)
        if length < _NLMSGHDR.size or offset + length > len(data):
            break
        payload = data[offset + _NLMSGHDR.size: offset + length].rstrip(b"\0").decode("utf-8", "replace")
        out.append((mtype, payload))
        offset += (length + 3) & ~3
    return out


def as_log_line(rtype: int, payload: str) -> str:
    return f"type={RECORD_TYPES.get(rtype, f'UNKNOWN[{rtype}]')} msg={payload}"


def auditd_running(proc_root: str = "/proc") -> bool:
    for name in os.listdir(proc_root):
        if name.isdigit():
            try:
                with open(f"{proc_root}/{name}/comm", "rb") as fh:
                    if fh.read().strip() == b"auditd":
                        return True
            except OSError:
                continue
    return False


class AuditBackend(Backend):
    name = "audit"
    index = DEFAULT_INDEX
    can_miss = ("whatever auditd's rules do not record (an execve rule is needed: `auditctl -a always,exit -F "
                "arch=b64 -S execve,execveat`), and records the kernel drops when its backlog overflows "
                "(see `auditctl -s` lost); latency is tens of ms under load")

    def __init__(self, emit: Emit, *, host: t.Optional[HostInfo] = None, require_daemon: bool = True):
        super().__init__(emit)
        if require_daemon and not auditd_running():
            raise ConnectorUnavailable("auditd is not running (the multicast group carries only what auditd's "
                                       "rules produce)")
        try:
            self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_AUDIT)
        except OSError as error:
            raise ConnectorUnavailable(f"cannot open a NETLINK_AUDIT socket: {error.strerror}") from None
        try:
            self.sock.bind((0, AUDIT_NLGRP_READLOG))
        except OSError as error:
            self.sock.close()
            raise ConnectorUnavailable(f"audit multicast refused: {error.strerror} (needs CAP_AUDIT_READ in the "
                                       "initial user namespace)") from None
        self.sock.setblocking(False)
        self.host_doc = host.document() if host else None
        self.parser = AuditLogParser()
        self.notes.append("records from the audit multicast group (AUDIT_NLGRP_READLOG); auditd keeps the rules")

    def _emit_docs(self, emitted: list) -> None:
        for item in emitted:
            doc = item.doc
            if self.host_doc and "host" in doc and isinstance(doc["host"], dict):
                doc["host"] = {**self.host_doc, **doc["host"]}
            elif self.host_doc:
                doc["host"] = dict(self.host_doc)
            self.stats.events += 1
            self.stats.full += 1
            self.emit(Record(doc=doc, index=DEFAULT_INDEX, path="<audit>", source="sensor"))

    def _run(self) -> None:
        last = time.monotonic()
        while not self.stopping.is_set():
            ready, _, _ = select.select([self.sock], [], [], IDLE_FLUSH)
            if not ready:
                if time.monotonic() - last >= IDLE_FLUSH:
                    self._emit_docs(self.parser.flush())
                continue
            try:
                data = self.sock.recv(65536)
            except BlockingIOError:
                continue
            except OSError as error:
                if error.errno == 105:  # ENOBUFS
                    self.stats.lost_batches += 1
                    continue
                raise
            last = time.monotonic()
            for rtype, payload in decode_audit_datagram(data):
                self._emit_docs(self.parser.feed(as_log_line(rtype, payload)))

    def close(self) -> None:
        self.sock.close()
