<?php
// PHP SoapClient (ext/soap): register over SOAP 1.1 and 1.2, a duplicate, a lookup.
// Usage: php php_client.php SOAP_BASE LOOKUP_BASE TAG [limit]  -> one JSON object (tests/tests/it/soap_clients.rs)
[, $soapBase, $lookupBase, $tag] = $argv;
$out = [];
if (($argv[4] ?? '') === 'limit') {
    // Over the registration limit: a SoapFault whose detail is the RateLimitFault (its
    // retryAfterSeconds decoded as a string: cast it).
    $client = new SoapClient("$soapBase/register?wsdl", ['cache_wsdl' => WSDL_CACHE_NONE]);
    for ($i = 0; ; $i++) {
        try {
            $client->RegisterUser([
                'username' => "phplimit{$i}_$tag", 'password' => 's3cret!pw', 'first_name' => 'Ana',
                'last_name' => 'Peña', 'dni' => "HL$i$tag", 'email' => "phplimit$i.$tag@example.com",
                'city' => 'Málaga',
            ]);
        } catch (SoapFault $f) {
            echo json_encode(['limit' => [
                'after' => $i, 'retryAfterSeconds' => (int) $f->detail->RateLimitFault->retryAfterSeconds,
                'reason' => $f->getMessage(), 'code' => $f->faultcode,
            ]]), "\n";
            exit(0);
        }
    }
}
foreach (['11' => SOAP_1_1, '12' => SOAP_1_2] as $v => $version) {
    // soap_version picks the WSDL port of that version; exceptions => true (the
    // default) turns every fault into a SoapFault.
    $client = new SoapClient("$soapBase/register?wsdl", [
        'soap_version' => $version, 'cache_wsdl' => WSDL_CACHE_NONE, 'exceptions' => true,
    ]);
    $user = [
        'username' => "php{$v}_$tag", 'password' => 's3cret!pw', 'first_name' => 'Ana',
        'last_name' => 'Peña', 'dni' => "H$v$tag", 'email' => "php$v.$tag@example.com",
        'city' => 'Málaga',
    ];
    // Document/literal wrapped: one argument, the wrapper's fields.
    $r = $client->RegisterUser($user);
    $out["register$v"] = ['message' => $r->message, 'id' => $r->id, 'username' => $user['username']];
    try {
        $client->RegisterUser($user);
        $out["duplicate$v"] = 'no fault';
    } catch (SoapFault $f) {
        // The detail is decoded with the WSDL's RegistrationFault type, in both versions.
        $out["duplicate$v"] = [
            'field' => $f->detail->RegistrationFault->field,
            'reason' => $f->getMessage(),
            'code' => $f->faultcode,
        ];
    }
}
$look = new SoapClient("$lookupBase/user/soap?wsdl", ['cache_wsdl' => WSDL_CACHE_NONE]);
$res = $look->getUserByUsername(['username' => $out['register11']['username']]);
$out['lookup'] = ['id' => $res->id, 'username' => $res->username];
echo json_encode($out), "\n";
