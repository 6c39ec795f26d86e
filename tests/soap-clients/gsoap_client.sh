#!/usr/bin/env bash
# gSOAP: generate C++ proxies from the served WSDLs, build gsoap_client.cpp once per SOAP
# version and run both. Needs Debian's gsoap and libgsoap-dev.
# Usage: gsoap_client.sh SOAP_BASE LOOKUP_BASE TAG [limit]  -> one JSON object per version
set -euo pipefail
src=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
# One header for both services; -x: no xs:any extension members in the classes.
wsdl2h -x -o hub.h "$1/register?wsdl" "$2/user/soap?wsdl" >/dev/null 2>&1
for v in 1 2; do
  mkdir "soap1$v" && cd "soap1$v"
  # The WSDLs have a SOAP 1.2 binding, so without -1 every call would be SOAP 1.2;
  # -1 / -2 fixes the version of every generated call. -j: C++ proxy classes, -C: client
  # side only, -x: no sample messages.
  soapcpp2 "-$v" -j -C -x -I/usr/share/gsoap/import ../hub.h >/dev/null 2>&1
  g++ -o client -I. "$src/gsoap_client.cpp" soapC.cpp \
    soapUserServiceSoapBindingProxy.cpp soapUserLookupSoapBindingProxy.cpp -lgsoap++
  ./client "${@:3}"
  cd ..
done
