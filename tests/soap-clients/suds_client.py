"""suds (suds-community): register over SOAP 1.1, a duplicate, a lookup; from the served WSDLs.

Usage: suds_client.py SOAP_BASE LOOKUP_BASE TAG [limit]  -> one JSON object (tests/tests/it/soap_clients.rs)
suds speaks SOAP 1.1 only: it sends a 1.1 envelope even through the WSDL's 1.2 port.
"""
import json
import sys

from suds import WebFault
from suds.client import Client

soap_base, lookup_base, tag = sys.argv[1:4]
out = {}

reg = Client(soap_base + "/register?wsdl")
if sys.argv[4:] == ["limit"]:
    # Over the registration limit: a WebFault whose detail is the typed RateLimitFault.
    for i in range(100):
        try:
            reg.service.RegisterUser(
                username=f"sudslimit{i}_{tag}", password="s3cret!pw", first_name="Ana", last_name="Peña",
                dni=f"DL{i}{tag}", email=f"sudslimit{i}.{tag}@example.com", city="Málaga",
            )
        except WebFault as e:
            limit = e.fault.detail.RateLimitFault
            print(json.dumps({"limit": {
                "after": i, "retryAfterSeconds": int(limit.retryAfterSeconds),
                "reason": str(e.fault.faultstring),
            }}))
            sys.exit(0)
user = dict(
    username=f"suds11_{tag}", password="s3cret!pw", first_name="Ana", last_name="Peña",
    dni=f"D11{tag}", email=f"suds11.{tag}@example.com", city="Málaga",
)
r = reg.service.RegisterUser(**user)
out["register11"] = {"message": str(r.message), "id": str(r.id), "username": user["username"]}
try:
    reg.service.RegisterUser(**user)
    out["duplicate11"] = "no fault"
except WebFault as e:
    # The faultstring is a suds Text carrying xml:lang: repr() and %r show
    # "... [en]"; str() is the plain text.
    out["duplicate11"] = {
        "field": str(e.fault.detail.RegistrationFault.field),
        "reason": str(e.fault.faultstring),
        "repr": repr(e.fault.faultstring),
    }

look = Client(lookup_base + "/user/soap?wsdl")
res = look.service.getUserByUsername(username=user["username"])
out["lookup"] = {"id": str(res.id), "username": str(res.username)}
print(json.dumps(out))
