"""``[core] hostname_callable`` for the distributed end-to-end test.

All components run on one machine, so the real host name cannot tell two Celery workers or two
triggerers apart; each process gets its own name through ``LF_E2E_HOSTNAME``, which Airflow then
records (``job.hostname`` of a triggerer, ``task_instance.hostname`` of a task's worker).
"""

from __future__ import annotations

import os
import socket


def hostname() -> str:
    return os.environ.get("LF_E2E_HOSTNAME") or socket.getfqdn()
