// Drives user-soap and user-lookup with node-soap, from their served WSDLs.
// Usage: node node_client.js SOAP_BASE LOOKUP_BASE TAG  -> prints one JSON object of results.
// Called by tests/tests/it/soap_clients.rs; every value it prints is asserted there.
const soap = require('soap');

const [soapBase, lookupBase, tag] = process.argv.slice(2);
const PASSWORD = 'p<&>"\'ss wörd';

function fields(suffix, over = {}) {
  return Object.assign({
    username: `<&>"'node_${suffix}_${tag}`,
    password: PASSWORD,
    first_name: 'José',
    last_name: 'Peña',
    dni: `N${suffix}${tag}`.slice(0, 20),
    email: `node${suffix}.${tag}@example.com`,
    city: 'Málaga',
  }, over);
}

function faultInfo(err) {
  const fault = err && err.root && err.root.Envelope && err.root.Envelope.Body && err.root.Envelope.Body.Fault;
  if (!fault) return { error: String(err && err.message) };
  const detail = fault.detail || fault.Detail || {};
  const rf = detail.RegistrationFault || {};
  const reason = fault.faultstring || (fault.Reason && fault.Reason.Text && (fault.Reason.Text.$value || fault.Reason.Text));
  const code = fault.faultcode || (fault.Code && fault.Code.Value);
  return { reason: typeof reason === 'object' ? JSON.stringify(reason) : reason, code, field: rf.field || null, status: err.response && err.response.status };
}

(async () => {
  const out = { password: PASSWORD };
  const c11 = await soap.createClientAsync(`${soapBase}/register?wsdl`);
  const c12 = await soap.createClientAsync(`${soapBase}/register?wsdl`, { forceSoap12Headers: true });

  let [r] = await c11.RegisterUserAsync(fields('11'));
  out.register11 = { message: r.message, id: r.id, username: fields('11').username };
  [r] = await c12.RegisterUserAsync(fields('12'));
  out.register12 = { message: r.message, id: r.id, username: fields('12').username };

  for (const [name, client] of [['invalid11', c11], ['invalid12', c12]]) {
    try {
      await client.RegisterUserAsync(fields('bad' + name.slice(-2), { email: 'not-an-email' }));
      out[name] = 'no fault';
    } catch (err) {
      out[name] = faultInfo(err);
    }
  }

  // A password the policy refuses (too short) is a RegistrationFault naming the password.
  for (const [name, client] of [['short11', c11], ['short12', c12]]) {
    try {
      await client.RegisterUserAsync(fields('short' + name.slice(-2), { password: '1234567' }));
      out[name] = 'no fault';
    } catch (err) {
      out[name] = faultInfo(err);
    }
  }

  // A duplicate is a RegistrationFault naming what is taken, in both versions.
  for (const [name, client, suffix] of [['duplicate11', c11, '11'], ['duplicate12', c12, '12']]) {
    try {
      await client.RegisterUserAsync(fields(suffix));
      out[name] = 'no fault';
    } catch (err) {
      out[name] = faultInfo(err);
    }
  }

  const look = await soap.createClientAsync(`${lookupBase}/user/soap?wsdl`);
  const [l] = await look.getUserByUsernameAsync({ username: out.register11.username });
  out.lookup11 = { id: l.id, username: l.username };
  try {
    await look.getUserByUsernameAsync({ username: 'ghost_' + tag });
    out.lookup_missing = 'no fault';
  } catch (err) {
    const fault = err.root && err.root.Envelope.Body.Fault;
    out.lookup_missing = { reason: fault && fault.faultstring, message: fault && fault.detail && fault.detail.LookupFault && fault.detail.LookupFault.message };
  }
  console.log(JSON.stringify(out));
})().catch((err) => {
  console.error(err && err.stack ? err.stack : err);
  process.exit(1);
});
