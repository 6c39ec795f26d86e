"""PySimpleSOAP: register over SOAP 1.1 and 1.2, a duplicate, a lookup; from the served WSDLs.

Usage: pysimplesoap_client.py SOAP_BASE LOOKUP_BASE TAG  -> one JSON object (tests/tests/it/soap_clients.rs)
"""
import json
import sys
from urllib.error import HTTPError

from pysimplesoap.client import SoapClient, SoapFault
from pysimplesoap.simplexml import SimpleXMLElement

soap_base, lookup_base, tag = sys.argv[1:4]
US = "http://example.com/userservice"
SOAP12 = "http://www.w3.org/2003/05/soap-envelope"
out = {}


def registration_fault(xml):
    # SoapFault.detail comes back as {'RegistrationFault': None}, and a SOAP 1.2
    # fault has no faultstring: read both from the reply itself.
    doc = SimpleXMLElement(xml)
    field = doc("field", ns=US)
    reason = doc("faultstring", error=False) or doc("Text", ns=SOAP12)
    return {"field": str(field), "reason": str(reason)}


# soap_ns="soap12" sends the namespace http://www.w3.org/2003/05/soap-env, which no
# SOAP 1.2 server accepts (VersionMismatch); "soap12env" is the real one.
for v, soap_ns in (("11", "soap11"), ("12", "soap12env")):
    client = SoapClient(wsdl=soap_base + "/register?wsdl", soap_ns=soap_ns)
    user = dict(
        username=f"pss{v}_{tag}", password="s3cret!pw", first_name="Ana", last_name="Peña",
        dni=f"P{v}{tag}", email=f"pss{v}.{tag}@example.com", city="Málaga",
    )
    r = client.RegisterUser(**user)
    out["register" + v] = {"message": r["message"], "id": r["id"], "username": user["username"]}
    try:
        client.RegisterUser(**user)
        out["duplicate" + v] = "no fault"
    except SoapFault:
        # SOAP 1.1: HTTP 500, raised as SoapFault.
        out["duplicate" + v] = registration_fault(client.xml_response)
    except HTTPError as e:
        # SOAP 1.2: the Sender fault comes with HTTP 400, which the default (urllib)
        # transport raises as an HTTP error before looking at the body.
        out["duplicate" + v] = registration_fault(e.read())

look = SoapClient(wsdl=lookup_base + "/user/soap?wsdl", soap_ns="soap12env")
res = look.getUserByUsername(username=out["register11"]["username"])
out["lookup"] = {"id": res["id"], "username": res["username"]}
print(json.dumps(out))
