// Calls user-soap and user-lookup with node-soap's WSSecurity (PasswordText and
// PasswordDigest, its default Timestamp, mustUnderstand on one of them), over SOAP 1.1
// and 1.2, from their served WSDLs.
// Usage: node wsse_node.js SOAP_BASE LOOKUP_BASE TAG  (WSSE_TEST_USER / WSSE_TEST_PASSWORD
// in the environment: the service credentials) -> prints one JSON object of results.
// Called by tests/tests/it/wsse.rs; every value it prints is asserted there.
const soap = require('soap');

const [soapBase, lookupBase, tag] = process.argv.slice(2);
const user = process.env.WSSE_TEST_USER;
const password = process.env.WSSE_TEST_PASSWORD;

// The operation called `name` in any case (its WSDL spelling may change).
function operation(client, name) {
  const key = Object.keys(client).find((k) => k.toLowerCase() === `${name}Async`.toLowerCase());
  return client[key].bind(client);
}

function faultInfo(err) {
  const fault = err && err.root && err.root.Envelope && err.root.Envelope.Body && err.root.Envelope.Body.Fault;
  if (!fault) return { error: String(err && err.message) };
  // An element with attributes (xml:lang) decodes as { attributes, $value }.
  const text = (v) => (v && typeof v === 'object' ? v.$value : v);
  const reason = text(fault.faultstring || (fault.Reason && fault.Reason.Text));
  const code = fault.faultcode || (fault.Code && fault.Code.Value);
  const subcode = fault.Code && fault.Code.Subcode && fault.Code.Subcode.Value;
  return { code, subcode: subcode || null, reason, status: err.response && err.response.status };
}

async function call(fn, args) {
  try {
    const [r] = await fn(args);
    return { ok: r };
  } catch (err) {
    return { fault: faultInfo(err) };
  }
}

function fields(suffix) {
  return {
    username: `wsse_node_${suffix}_${tag}`,
    password: 'user password',
    first_name: 'José',
    last_name: 'Peña',
    dni: `NW${suffix}${tag}`.slice(0, 20),
    email: `nodewsse${suffix}.${tag}@example.com`,
    city: 'Málaga',
  };
}

(async () => {
  const out = {};
  for (const [kind, passwordType, mustUnderstand] of [['text', 'PasswordText', false], ['digest', 'PasswordDigest', true]]) {
    for (const [version, options] of [['11', {}], ['12', { forceSoap12Headers: true }]]) {
      const suffix = kind + version;
      const security = new soap.WSSecurity(user, password, { passwordType, mustUnderstand });
      const reg = await soap.createClientAsync(`${soapBase}/register?wsdl`, options);
      reg.setSecurity(security);
      const r = await call(operation(reg, 'RegisterUser'), fields(suffix));
      out[`register_${suffix}`] = r.ok ? { ok: { message: r.ok.message, id: r.ok.id } } : r;
      const look = await soap.createClientAsync(`${lookupBase}/user/soap?wsdl`, options);
      look.setSecurity(security);
      const l = await call(operation(look, 'getUserByUsername'), { username: fields(suffix).username });
      out[`lookup_${suffix}`] = l.ok ? { ok: { id: l.ok.id, username: l.ok.username } } : l;
    }
  }
  // Wrong password, both kinds, both versions: the standard fault.
  for (const [kind, passwordType] of [['text', 'PasswordText'], ['digest', 'PasswordDigest']]) {
    for (const [version, options] of [['11', {}], ['12', { forceSoap12Headers: true }]]) {
      const look = await soap.createClientAsync(`${lookupBase}/user/soap?wsdl`, options);
      look.setSecurity(new soap.WSSecurity(user, `${password}x`, { passwordType }));
      out[`wrong_${kind}${version}`] = await call(operation(look, 'getUserByUsername'), { username: 'anyone' });
    }
  }
  console.log(JSON.stringify(out));
})().catch((err) => {
  console.error(err && err.stack ? err.stack : err);
  process.exit(1);
});
