#!/usr/bin/env python3
"""The disk's fdatasync latency, the floor of a put's ack latency:
   bench/fdatasync.py [DIR] [COUNT]
500 (COUNT) syncs each of a 100-byte append (the file grows: its size is
written too) and of a 300-byte write in place into space written ahead (as
redb's write-ahead log does), in a temporary file in DIR (default: the
temporary directory)."""
import os
import sys
import tempfile
import time

where = sys.argv[1] if len(sys.argv) > 1 else tempfile.gettempdir()
count = int(sys.argv[2]) if len(sys.argv) > 2 else 500


def probe(in_place):
    fd, path = tempfile.mkstemp(dir=where, prefix="fdatasync-probe")
    try:
        if in_place:
            os.write(fd, b"\0" * (1 << 20))
            os.fsync(fd)
        took = []
        for i in range(count):
            if in_place:
                os.pwrite(fd, b"x" * 300, (i * 300) % ((1 << 20) - 300))
            else:
                os.write(fd, b"x" * 100)
            began = time.perf_counter()
            os.fdatasync(fd)
            took.append(time.perf_counter() - began)
    finally:
        os.close(fd)
        os.unlink(path)
    took.sort()
    us = lambda q: took[min(int(len(took) * q), len(took) - 1)] * 1e6
    return f"p50 {us(0.5):.0f} us, p99 {us(0.99):.0f} us, max {took[-1] * 1e6:.0f} us"


print(f"fdatasync, {count} times: 100-byte append {probe(False)}; "
      f"300 bytes in place {probe(True)}")
