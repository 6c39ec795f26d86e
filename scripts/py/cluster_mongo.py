"""The MongoDB replica set of scripts/cluster.sh, with pymongo from backing.sh's venv.

    cluster_mongo.py HOST PORT,PORT,... RS COMMAND [ARG...]

COMMAND (what scripts/cluster.sh's mongo_rs runs):
  init SECS               initiate if new; wait until one primary and every member
                          PRIMARY/SECONDARY; print the primary's port
  primary                 the port of the primary (exit 1 if none)
  wait-primary SECS PORT  wait until a member other than PORT is primary; print its port
  members                 one line per member: "port state" ("down" when it does not answer)
  shutdown                shut every member down at once, without a primary's wait for a
                          secondary
"""

import os
import sys
import time

from pymongo import MongoClient
from pymongo.errors import OperationFailure, PyMongoError

host, ports, rs, cmd, args = sys.argv[1], sys.argv[2].split(","), sys.argv[3], sys.argv[4], sys.argv[5:]

def client(port, ms=1000):
    return MongoClient(f"mongodb://{host}:{port}/?directConnection=true",
                       serverSelectionTimeoutMS=ms, connectTimeoutMS=ms)

clients = {p: client(p) for p in ports}

def state(port):
    try:
        h = clients[port].admin.command("hello")
    except PyMongoError:
        return "down"
    if h.get("isWritablePrimary"):
        return "PRIMARY"
    return "SECONDARY" if h.get("secondary") else "starting"

def primary(exclude=None):
    return next((p for p in ports if p != exclude and state(p) == "PRIMARY"), None)

def done(code=0):
    sys.stdout.flush()
    os._exit(code)   # skip pymongo's monitor threads' wind-down

if cmd == "init":
    end = time.monotonic() + float(args[0])
    # Elections after 2 s without a heartbeat from the primary (MongoDB's default is 10 s).
    config = {"_id": rs, "members": [{"_id": i, "host": f"{host}:{p}"} for i, p in enumerate(ports)],
              "settings": {"electionTimeoutMillis": 2000, "heartbeatIntervalMillis": 500}}
    while True:
        try:
            client(ports[0], 2000).admin.command("replSetInitiate", config)
        except OperationFailure as e:
            if e.code != 23:   # AlreadyInitialized
                raise
        except PyMongoError:
            pass   # the member is not up yet
        else:
            pass
        states = [state(p) for p in ports]
        if states.count("PRIMARY") == 1 and all(s in ("PRIMARY", "SECONDARY") for s in states):
            print(primary())
            done()
        if time.monotonic() > end:
            print("members: " + ", ".join(f"{p} {s}" for p, s in zip(ports, states, strict=True)), file=sys.stderr)
            done(1)
        time.sleep(0.2)
elif cmd == "primary":
    p = primary()
    if p is None:
        done(1)
    print(p)
    done()
elif cmd == "wait-primary":
    end = time.monotonic() + float(args[0])
    while time.monotonic() < end:
        p = primary(exclude=args[1])
        if p:
            print(p)
            done()
        time.sleep(0.1)
    done(1)
elif cmd == "shutdown":
    # Without the wait for a caught-up secondary (up to 15 s) a primary does on SIGTERM.
    for p in ports:
        try:
            clients[p].admin.command("shutdown", force=True, timeoutSecs=0)
        except PyMongoError:
            pass   # the connection closes as it goes down, or it was not running
    done()
elif cmd == "members":
    for p in ports:
        print(p, state(p))
    done()
sys.exit(f"unknown mongo_rs command {cmd}")
