"""The parts of scripts/backup.sh that talk to MongoDB, S3 and RabbitMQ's definitions, on
pymongo and boto3 from scripts/backing.sh's venv.

    backup_stores.py mongo-copy HOST PORT DBPATH DEST
        fsyncLock the mongod (writes wait), print the UTC time of the lock (the MongoDB
        backup's point), copy its data directory DBPATH to DEST (without mongod.lock),
        fsyncUnlock. The copy is consistent: nothing is written while it runs.
    backup_stores.py s3-dump BUCKET DEST
        every object of BUCKET to DEST/objects/<key>, and DEST/index.json (key, content
        type); prints the UTC time the listing started (the S3 backup's point: an object
        acknowledged before it is in the copy)
    backup_stores.py s3-load SRC BUCKET
        create BUCKET (if missing) and put back every object of an s3-dump; prints how many
    backup_stores.py s3-create BUCKET
        create BUCKET if missing
    backup_stores.py s3-drop BUCKET
        delete every object of BUCKET and BUCKET itself (losing it, in the drill)
    backup_stores.py rabbit-filter VHOST < all.json > vhost.json
        from `rabbitmqctl export_definitions -`, only what belongs to VHOST: the vhost, its
        permissions, queues, exchanges, bindings, policies and parameters (users stay the
        broker's own)

S3 settings come from the environment the services read: S3_ENDPOINT, AWS_ACCESS_KEY_ID,
AWS_SECRET_ACCESS_KEY, AWS_REGION (default us-east-1). Every command that opened a MongoDB
client ends with os._exit (pymongo's monitor thread would hold the exit ~0.5 s).
"""

import datetime
import json
import os
import shutil
import sys

import boto3
from pymongo import MongoClient


def utc_now():
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def mongo_copy(host, port, dbpath, dest):
    c = MongoClient(f"mongodb://{host}:{port}/?directConnection=true", serverSelectionTimeoutMS=5000)
    c.admin.command("fsync", lock=True)
    try:
        point = utc_now()
        shutil.copytree(dbpath, dest, ignore=shutil.ignore_patterns("mongod.lock"))
    finally:
        c.admin.command("fsyncUnlock")
    print(point, flush=True)
    os._exit(0)


def s3():
    return boto3.client(
        "s3",
        endpoint_url=os.environ["S3_ENDPOINT"],
        region_name=os.environ.get("AWS_REGION", "us-east-1"),
        aws_access_key_id=os.environ["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=os.environ["AWS_SECRET_ACCESS_KEY"],
    )


def keys(client, bucket):
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for obj in page.get("Contents", []):
            yield obj["Key"]


def s3_dump(bucket, dest):
    client = s3()
    point = utc_now()
    index = []
    for key in keys(client, bucket):
        got = client.get_object(Bucket=bucket, Key=key)
        path = os.path.join(dest, "objects", key)
        if not os.path.realpath(path).startswith(os.path.realpath(dest) + os.sep):
            sys.exit(f"s3-dump: key {key!r} leaves {dest}")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(got["Body"].read())
        index.append({"key": key, "content_type": got.get("ContentType", "application/octet-stream")})
    os.makedirs(dest, exist_ok=True)
    with open(os.path.join(dest, "index.json"), "w") as f:
        json.dump(index, f)
    print(point, flush=True)


def s3_create(bucket, client=None):
    client = client or s3()
    try:
        client.create_bucket(Bucket=bucket)
    except client.exceptions.BucketAlreadyOwnedByYou:
        pass


def s3_load(src, bucket):
    client = s3()
    s3_create(bucket, client)
    with open(os.path.join(src, "index.json")) as f:
        index = json.load(f)
    for obj in index:
        with open(os.path.join(src, "objects", obj["key"]), "rb") as f:
            client.put_object(Bucket=bucket, Key=obj["key"], Body=f.read(), ContentType=obj["content_type"])
    print(len(index), flush=True)


def s3_drop(bucket):
    client = s3()
    try:
        for key in list(keys(client, bucket)):
            client.delete_object(Bucket=bucket, Key=key)
        client.delete_bucket(Bucket=bucket)
    except client.exceptions.NoSuchBucket:
        pass


def rabbit_filter(vhost):
    everything = json.load(sys.stdin)
    own = {"vhosts": [v for v in everything.get("vhosts", []) if v.get("name") == vhost]}
    for part in ("permissions", "topic_permissions", "queues", "exchanges", "bindings", "policies", "parameters"):
        own[part] = [x for x in everything.get(part, []) if x.get("vhost") == vhost]
    if not own["vhosts"]:
        sys.exit(f"rabbit-filter: no vhost {vhost!r} in the definitions")
    json.dump(own, sys.stdout, indent=1)


COMMANDS = {
    "mongo-copy": mongo_copy,
    "s3-dump": s3_dump,
    "s3-load": s3_load,
    "s3-create": s3_create,
    "s3-drop": s3_drop,
    "rabbit-filter": rabbit_filter,
}

if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        sys.exit(__doc__)
    COMMANDS[sys.argv[1]](*sys.argv[2:])
