#!/usr/bin/env bash
# JAX-WS RI: generate the client classes from the served WSDLs, compile JaxWsClient.java
# with them and run it. Needs a JDK and Debian's jaxws (wsimport and the runtime jars).
# Usage: jaxws_client.sh SOAP_BASE LOOKUP_BASE TAG [limit]  -> one JSON object
set -euo pipefail
src=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
mkdir gen classes
# -extension: the WSDLs' SOAP 1.2 ports are outside the JAX-WS standard profile; without
# it wsimport skips them (warning "non-standard SOAP 1.2 binding").
wsimport -extension -Xnocompile -quiet -d gen -p hub.register "$1/register?wsdl"
wsimport -extension -Xnocompile -quiet -d gen -p hub.lookup "$2/user/soap?wsdl"
# Java 11+ has no JAX-WS of its own: the API and the runtime come from /usr/share/java.
jars=(jaxws-api jaxb-api jws-api javax.activation geronimo-annotation-1.3-spec jaxws-rt
  jaxb-runtime jaxb-core saaj-impl stax-ex streambuffer istack-commons-runtime gmbal
  glassfish-management-api metro-policy mimepull)
cp=$(printf '/usr/share/java/%s.jar:' "${jars[@]}")
mapfile -t generated < <(find gen -name '*.java')
javac -nowarn -encoding UTF-8 -cp "$cp" -d classes "${generated[@]}" "$src/JaxWsClient.java"
java -cp "classes:$cp" JaxWsClient "${@:3}" 2> >(grep -v -e 'FactoryFinder find' -e 'deprecated META-INF' >&2)
