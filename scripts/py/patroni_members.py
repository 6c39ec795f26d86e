"""Patroni's /cluster answer (JSON, the first argument) as one line per member, for
scripts/cluster.sh's patroni_members: "name role state lag", e.g. "pg1 leader running 0".
Runs with the Patroni venv's python (standard library only).
"""

import json
import sys

for m in json.loads(sys.argv[1]).get("members", []):
    print(m["name"], m.get("role", "?"), m.get("state", "?"), m.get("lag", 0))
