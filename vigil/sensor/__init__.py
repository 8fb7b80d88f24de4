"""The live sensor: process execs on this Linux host, as Elastic-Defend-shaped events, evaluated as they happen.

    connector.py  kernel proc connector (raw netlink): exec events with kernel timestamps
    enrich.py     /proc reading right after the exec (name, argv, exe, ids, cwd, start time)
    ecs.py        Elastic Defend-shaped process start documents and Records
    backend.py    what every capture backend offers (thread, counters, blind spots)
    reader.py     the connector backend: real-time reader loop, loss accounting and /proc rescan
    isolated.py   the same reader in a forked process (the default): enrichment never waits for the GIL
    audit.py      the audit multicast backend (when auditd runs)
    procpoll.py   /proc polling + inotify trigger: the unprivileged last resort
    select.py     probe, choose the backend, explain the choice
    live.py       records → every rule's streaming engine → alerts in the store; the `on_alerts` hook list
    service.py    the `vigil watch` loop: signals, reload, status file
"""
