#!/usr/bin/env bash
# Mono: generate the ASMX proxies from the served WSDLs, compile MonoClient.cs with them and
# run it. Needs Debian's mono-devel (wsdl, mcs, mono).
# Usage: mono_client.sh SOAP_BASE LOOKUP_BASE TAG [limit]  -> one JSON object
set -euo pipefail
src=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
# -protocol picks the WSDL port: SOAP (1.1, the default), SOAP12 or HttpGet. Each run
# writes one proxy class; distinct namespaces (-n) keep them apart.
wsdl -nologo -n:Hub.Soap11 -out:register11.cs "$1/register?wsdl" >/dev/null
wsdl -nologo -protocol:SOAP12 -n:Hub.Soap12 -out:register12.cs "$1/register?wsdl" >/dev/null
wsdl -nologo -n:Hub.Lookup -out:lookup.cs "$2/user/soap?wsdl" >/dev/null
wsdl -nologo -protocol:HttpGet -n:Hub.Get -out:lookupget.cs "$2/user/soap?wsdl" >/dev/null
mcs -nologo -out:client.exe -r:System.Web.Services -r:System.Xml -r:System.EnterpriseServices \
  "$src/MonoClient.cs" register11.cs register12.cs lookup.cs lookupget.cs
mono client.exe "${@:3}"
