"""The single-node MongoDB replica set rs0 of scripts/backing.sh, with pymongo from its venv.

    backing_mongo.py rs-ready HOST PORT SECS    initiate rs0 (if new) and wait until the
                                               member is PRIMARY (exit 1 after SECS)
    backing_mongo.py state HOST PORT           "PRIMARY of rs0", "standalone", ...; fails if
                                               no mongod answers a ping within a second
    backing_mongo.py shutdown HOST PORT FILE   keep the running server's command line in FILE
                                               (JSON), then shut it down (mongo-stop)
    backing_mongo.py restart FILE              start the server FILE describes again, as it
                                               was started (it forks itself; mongo-start)

Every command that opened a client ends with os._exit: a normal exit waits ~0.5 s for
pymongo's monitor thread to finish its heartbeat sleep.
"""

import json
import os
import subprocess
import sys
import time

from pymongo import MongoClient
from pymongo.errors import AutoReconnect, OperationFailure, PyMongoError


def client(host, port, ms):
    return MongoClient(f"mongodb://{host}:{port}/?directConnection=true", serverSelectionTimeoutMS=ms)


def rs_ready(host, port, secs):
    port, secs = int(port), float(secs)
    end = time.monotonic() + secs
    c = client(host, port, int(secs * 1000))
    try:
        c.admin.command("replSetInitiate", {"_id": "rs0", "members": [{"_id": 0, "host": f"{host}:{port}"}]})
    except OperationFailure as e:
        if e.code == 76:
            sys.exit(f"the mongod on {host}:{port} runs without --replSet; stop it first")
        if e.code != 23:  # AlreadyInitialized: an existing data dir
            raise
    while True:
        try:
            if c.admin.command("hello").get("isWritablePrimary"):
                break
        except PyMongoError:
            pass
        if time.monotonic() > end:
            sys.exit(f"mongod on {host}:{port} did not become PRIMARY within {secs:g}s")
        time.sleep(0.1)
    os._exit(0)


def state(host, port):
    c = client(host, port, 1000)
    c.admin.command("ping")
    h = c.admin.command("hello")
    if h.get("isWritablePrimary") and h.get("setName"):
        print("PRIMARY of " + h["setName"], flush=True)
    elif h.get("setName"):
        print("replica set member, not primary", flush=True)
    else:
        print("standalone", flush=True)
    os._exit(0)


def shutdown(host, port, argv_file):
    c = client(host, port, 2000)
    with open(argv_file, "w") as f:
        json.dump(c.admin.command("getCmdLineOpts")["argv"], f)
    try:
        c.admin.command("shutdown", force=True)
    except (AutoReconnect, PyMongoError):
        pass  # the connection closes as the server goes down
    os._exit(0)


def restart(argv_file):
    with open(argv_file) as f:
        argv = json.load(f)
    sys.exit(subprocess.call(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL))


COMMANDS = {"rs-ready": rs_ready, "state": state, "shutdown": shutdown, "restart": restart}

if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        sys.exit(__doc__)
    COMMANDS[sys.argv[1]](*sys.argv[2:])
