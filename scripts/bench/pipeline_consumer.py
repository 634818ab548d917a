#!/usr/bin/env python3
"""The Python consumer of the pipeline benchmark (scripts/bench/pipeline.sh).

    python3 pipeline_consumer.py SERVER ROOM

Logs in as carol@localhost (password carolcarol) at SERVER (host:port, plaintext
loopback), joins ROOM with rcclient, prints "joined", then one line per change:
"<rcid> <time.time_ns() when the change reached this loop>", until the benchmark
kills it.
"""
import sys
import time

import rcclient


def main() -> int:
    server, room = sys.argv[1], sys.argv[2]
    client = rcclient.Client("carol@localhost", "carolcarol", rooms=[room], server=server,
                             tls="plaintext-loopback", nick="bench-py")
    if not client.wait_until_joined(30):
        print(f"not joined: {client.status}", file=sys.stderr, flush=True)
        return 1
    print("joined", flush=True)
    out = sys.stdout
    for rc in client:  # the callback: one change, as a Python object
        t = time.time_ns()
        out.write(f"{rc.rcid} {t}\n")
        out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
