-- POST /user/soap: the getUserByUsername operation for the seeded user.
wrk.method = "POST"
wrk.headers["Content-Type"] = "text/xml; charset=utf-8"
wrk.body = '<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><w:getUserByUsername xmlns:w="http://www.example.org/webservice"><w:username>bench_login</w:username></w:getUserByUsername></s:Body></s:Envelope>'
