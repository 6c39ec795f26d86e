// strong-soap: register over SOAP 1.1 and 1.2, a duplicate, a lookup; from the served WSDLs.
// Usage: node strong_soap_client.js SOAP_BASE LOOKUP_BASE TAG  -> one JSON object (tests/tests/it/soap_clients.rs)
const { soap } = require('strong-soap');

const [soapBase, lookupBase, tag] = process.argv.slice(2);

const client = (url) => new Promise((resolve, reject) =>
  soap.createClient(url, {}, (err, c) => (err ? reject(err) : resolve(c))));

// A fault rejects with err.root.Envelope.Body.Fault: faultcode/faultstring/detail (1.1)
// or Code/Reason/Detail (1.2); the typed detail is decoded either way.
function fault(err) {
  const f = err.root.Envelope.Body.Fault;
  const detail = (f.detail || f.Detail).RegistrationFault;
  const reason = f.faultstring || f.Reason.Text;
  return { field: detail.field, reason: reason.$value || reason };
}

(async () => {
  const out = {};
  const reg = await client(`${soapBase}/register?wsdl`);
  for (const [v, port] of [['11', 'UserServiceSoap'], ['12', 'UserServiceSoap12']]) {
    const user = {
      username: `strong${v}_${tag}`, password: 's3cret!pw', first_name: 'Ana', last_name: 'Peña',
      dni: `S${v}${tag}`, email: `strong${v}.${tag}@example.com`, city: 'Málaga',
    };
    const { result } = await reg.UserService[port].RegisterUser(user);
    out[`register${v}`] = { message: result.message, id: result.id, username: user.username };
    try {
      await reg.UserService[port].RegisterUser(user);
      out[`duplicate${v}`] = 'no fault';
    } catch (err) {
      out[`duplicate${v}`] = fault(err);
    }
  }
  const look = await client(`${lookupBase}/user/soap?wsdl`);
  const { result } = await look.UserLookupService.UserLookupSoap12
    .getUserByUsername({ username: out.register11.username });
  out.lookup = { id: result.id, username: result.username };
  console.log(JSON.stringify(out));
})().catch((err) => {
  console.error(err && err.stack ? err.stack : err);
  process.exit(1);
});
