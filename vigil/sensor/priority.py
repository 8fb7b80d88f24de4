"""Scheduling priority of the sensor's threads: the reader runs SCHED_FIFO, the evaluator side may be raised too.

Why the evaluator: on a host whose CPUs are busy (the exec load itself, or other work), a normal-priority evaluator
waits behind every runnable task, and exec → alert latency grows from ~2 ms to hundreds of ms even though the
reader kept up (measured in docs/sensor.md). Modes, per THREAD (Linux applies both calls to the calling thread):

* `realtime`: SCHED_FIFO at EVALUATOR_RT_PRIORITY, below the reader's, so capture always comes first. The kernel's
  RT throttling (95 % per period) still leaves the host some CPU if a rule set ever made evaluation run away.
* `nice`: nice -10 under the normal scheduler: a ~9x larger CPU share than a nice-0 task, and it cannot starve
  anything.
* `normal`: leave it.

Each refused mode (no CAP_SYS_NICE) falls back to the next one, and the note says what was obtained.
"""

from __future__ import annotations

import os
import threading

EVALUATOR_RT_PRIORITY = 5  # the reader uses 10 (reader.RT_PRIORITY)
EVALUATOR_NICE = -10
PRIORITY_MODES = ("realtime", "nice", "normal")


def raise_thread(mode: str) -> str:
    """Raise the calling thread as far as `mode` and the privileges allow; returns what was obtained."""
    if mode not in PRIORITY_MODES:
        raise ValueError(f"unknown priority mode {mode!r} (choose from {', '.join(PRIORITY_MODES)})")
    if mode == "realtime":
        try:
            os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(EVALUATOR_RT_PRIORITY))
            return f"SCHED_FIFO {EVALUATOR_RT_PRIORITY}"
        except OSError:
            mode = "nice"
    if mode == "nice":
        try:
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), EVALUATOR_NICE)
            return f"nice {EVALUATOR_NICE}"
        except OSError:
            pass
    return "normal priority"
