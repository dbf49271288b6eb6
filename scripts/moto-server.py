#!/usr/bin/env python3
"""Run moto's S3 server for bucketfs tests and the demo.

Same as `python3 -m moto.server -H HOST -p PORT`, plus a watchdog: when the process that
started us dies (a test runner killed with -9, a demo shell closed), the server exits too,
so no test ever leaves a server behind.
"""
import os
import sys
import threading
import time


def watch_parent(parent: int) -> None:
    while True:
        if os.getppid() != parent:
            os._exit(0)
        time.sleep(0.5)


def main() -> None:
    parent = os.getppid()
    threading.Thread(target=watch_parent, args=(parent,), daemon=True).start()
    from moto.server import main as moto_main
    moto_main(sys.argv[1:])


if __name__ == "__main__":
    main()
