"""Calls user-soap and user-lookup with zeep's WS-Security UsernameToken (text and
digest), over SOAP 1.1 and 1.2, from their served WSDLs.

Usage: wsse_zeep.py SOAP_BASE LOOKUP_BASE TAG   (WSSE_TEST_USER / WSSE_TEST_PASSWORD in
the environment: the service credentials) -> prints one JSON object of results.
Called by tests/tests/it/wsse.rs; every value it prints is asserted there.
"""
import json
import os
import sys

import zeep
from zeep.exceptions import Fault
from zeep.wsse.username import UsernameToken

soap_base, lookup_base, tag = sys.argv[1:4]
user, password = os.environ["WSSE_TEST_USER"], os.environ["WSSE_TEST_PASSWORD"]
settings = zeep.Settings(strict=True)


def operation(proxy, name):
    """The operation called `name` in any case (its WSDL spelling may change)."""
    return next(getattr(proxy, n) for n in dir(proxy) if n.lower() == name.lower())


def fault_info(f):
    return {"code": f.code, "message": f.message, "subcodes": [str(s) for s in (f.subcodes or [])]}


def call(fn, **kwargs):
    try:
        return {"ok": fn(**kwargs)}
    except Fault as f:
        return {"fault": fault_info(f)}


def fields(suffix):
    return dict(
        username=f"wsse_zeep_{suffix}_{tag}",
        password="user password",
        first_name="José",
        last_name="Peña",
        dni=f"ZW{suffix}{tag}"[:20],
        email=f"zeepwsse{suffix}.{tag}@example.com",
        city="Málaga",
    )


out = {}
for kind, digest in (("text", False), ("digest", True)):
    token = UsernameToken(user, password, use_digest=digest)
    reg = zeep.Client(soap_base + "/register?wsdl", settings=settings, wsse=token)
    look = zeep.Client(lookup_base + "/user/soap?wsdl", settings=settings, wsse=token)
    for version, reg_port, look_port in (
        ("11", "UserServiceSoap", "UserLookupSoap"),
        ("12", "UserServiceSoap12", "UserLookupSoap12"),
    ):
        suffix = kind + version
        r = call(operation(reg.bind("UserService", reg_port), "RegisterUser"), **fields(suffix))
        if "ok" in r:
            r = {"ok": {"message": r["ok"].message, "id": r["ok"].id}}
        out["register_" + suffix] = r
        found = call(
            operation(look.bind("UserLookupService", look_port), "getUserByUsername"),
            username=fields(suffix)["username"],
        )
        if "ok" in found:
            found = {"ok": {"id": found["ok"].id, "username": found["ok"].username}}
        out["lookup_" + suffix] = found

# Wrong password, both kinds, both versions: the standard fault.
for kind, digest in (("text", False), ("digest", True)):
    look = zeep.Client(
        lookup_base + "/user/soap?wsdl",
        settings=settings,
        wsse=UsernameToken(user, password + "x", use_digest=digest),
    )
    for version, port in (("11", "UserLookupSoap"), ("12", "UserLookupSoap12")):
        fn = operation(look.bind("UserLookupService", port), "getUserByUsername")
        out[f"wrong_{kind}{version}"] = call(fn, username="anyone")

# No token at all.
look = zeep.Client(lookup_base + "/user/soap?wsdl", settings=settings)
fn = operation(look.bind("UserLookupService", "UserLookupSoap12"), "getUserByUsername")
out["missing12"] = call(fn, username="anyone")

print(json.dumps(out))
