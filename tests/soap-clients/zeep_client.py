"""Drives user-soap and user-lookup with zeep in strict mode, from their served WSDLs.

Usage: zeep_client.py SOAP_BASE LOOKUP_BASE TAG [limit]  -> prints one JSON object of results.
Called by tests/tests/it/soap_clients.rs; every value it prints is asserted there.
"""
import json
import sys

import zeep
from lxml import etree
from zeep.exceptions import Fault, TransportError

soap_base, lookup_base, tag = sys.argv[1:4]
settings = zeep.Settings(strict=True)
NS = "{http://example.com/userservice}"
LNS = "{http://www.example.org/webservice}"
PASSWORD = "p<&>\"'ss wörd"


def fields(suffix, **over):
    d = dict(
        username=f"<&>\"'zeep_{suffix}_{tag}",
        password=PASSWORD,
        first_name="José",
        last_name="Peña",
        dni=f"Z{suffix}{tag}"[:20],
        email=f"zeep{suffix}.{tag}@example.com",
        city="Málaga",
    )
    d.update(over)
    return d


def fault_info(f):
    detail = f.detail
    field = detail.find(f".//{NS}field") if detail is not None else None
    return {
        "message": f.message,
        "code": f.code,
        "field": field.text if field is not None else None,
    }


out = {}
reg = zeep.Client(soap_base + "/register?wsdl", settings=settings)
svc11 = reg.bind("UserService", "UserServiceSoap")
svc12 = reg.bind("UserService", "UserServiceSoap12")

if sys.argv[4:] == ["limit"]:
    # Over the registration limit: a Fault like any other, whose detail is the WSDL's
    # RateLimitFault with the seconds to wait (also in the Retry-After header).
    for i in range(100):
        try:
            svc12.RegisterUser(**fields(f"limit{i}"))
        except Fault as f:
            secs = f.detail.find(f".//{NS}retryAfterSeconds")
            print(json.dumps({"limit": {
                "after": i, "retryAfterSeconds": int(secs.text), "reason": f.message, "code": f.code,
            }}))
            sys.exit(0)

r = svc11.RegisterUser(**fields("11"))
out["register11"] = {"message": r.message, "id": r.id, "username": fields("11")["username"]}
r = svc12.RegisterUser(**fields("12"))
out["register12"] = {"message": r.message, "id": r.id, "username": fields("12")["username"]}
out["password"] = PASSWORD

for name, svc in (("invalid11", svc11), ("invalid12", svc12)):
    try:
        svc.RegisterUser(**fields("bad" + name[-2:], email="not-an-email"))
        out[name] = "no fault"
    except Fault as f:
        out[name] = fault_info(f)

# A password the policy refuses (too short) is a RegistrationFault naming the password.
for name, svc in (("short11", svc11), ("short12", svc12)):
    try:
        svc.RegisterUser(**fields("short" + name[-2:], password="1234567"))
        out[name] = "no fault"
    except Fault as f:
        out[name] = fault_info(f)

# A duplicate is a RegistrationFault naming what is taken, in both versions.
for name, svc, suffix in (("duplicate11", svc11, "11"), ("duplicate12", svc12, "12")):
    try:
        svc.RegisterUser(**fields(suffix))
        out[name] = "no fault"
    except Fault as f:
        out[name] = fault_info(f)
    except TransportError as e:
        out[name] = {"status": e.status_code, "content": e.content.decode()}

look = zeep.Client(lookup_base + "/user/soap?wsdl", settings=settings)
for name, port in (("lookup11", "UserLookupSoap"), ("lookup12", "UserLookupSoap12")):
    res = look.bind("UserLookupService", port).getUserByUsername(username=out["register11"]["username"])
    out[name] = {"id": res.id, "username": res.username}
get = look.bind("UserLookupService", "UserLookupHttpGet")
res = get.getUserByUsername(username=out["register12"]["username"])
out["lookup_get"] = {"id": res.id, "username": res.username}
try:
    get.getUserByUsername(username="ghost_" + tag)
    out["lookup_get_missing"] = "no fault"
except Fault as f:
    # The HTTP GET binding raises any status but 200 as a Fault whose message is the raw
    # reply body (here the 404's SOAP fault, as bytes) and whose code and detail are
    # None: parse the body to read the LookupFault.
    body = etree.fromstring(f.message)
    out["lookup_get_missing"] = {"code": f.code, "detail": body.findtext(f".//{LNS}message")}
try:
    look.bind("UserLookupService", "UserLookupSoap").getUserByUsername(username="ghost_" + tag)
    out["lookup_missing"] = "no fault"
except Fault as f:
    msg = f.detail.find(f".//{LNS}message") if f.detail is not None else None
    out["lookup_missing"] = {"message": f.message, "detail": msg.text if msg is not None else None}

print(json.dumps(out))
