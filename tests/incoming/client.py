#!/usr/bin/env python3
"""A test client for tests/incoming, run in a service of the cluster:
   client.py HOST PORT PATH [TIMEOUT]
prints the body, or "error: WHAT" when the request fails; exit 0 either way."""
import http.client
import sys

try:
    c = http.client.HTTPConnection(sys.argv[1], int(sys.argv[2]),
                                   timeout=float(sys.argv[4]) if len(sys.argv) > 4 else 5)
    c.request("GET", sys.argv[3])
    print(c.getresponse().read().decode().strip())
except Exception as e:  # noqa: BLE001 - the kind of failure is the output
    print("error:", type(e).__name__)
