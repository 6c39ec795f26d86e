#!/usr/bin/perl
# SOAP::Lite: register over SOAP 1.1 and 1.2, a duplicate, a lookup; calls written by hand.
# Usage: perl soap_lite_client.pl SOAP_BASE LOOKUP_BASE TAG  -> one JSON object (tests/tests/it/soap_clients.rs)
use strict;
use warnings;
use utf8;
use JSON::PP;
use SOAP::Lite;

my ($soap_base, $lookup_base, $tag) = @ARGV;
my $USER = 'http://example.com/user';
my %out;

sub register {
    my ($user) = @_;
    my $client = SOAP::Lite->proxy("$soap_base/register")
        ->ns($USER, 'u')
        # The WSDL's action; SOAP::Lite's default would be "<namespace>#RegisterUser".
        ->on_action(sub { '"http://example.com/userservice/RegisterUser"' })
        ->autotype(0);
    # The fields go out qualified, in WSDL order, as the schema says.
    my @fields = map { SOAP::Data->name("u:$_" => $user->{$_})->type('string') }
        qw(username password first_name last_name dni email city);
    return $client->call(SOAP::Data->name('u:RegisterUser'), @fields);
}

for my $v ('11', '12') {
    # The version is class-wide: set it before building the client, and set it back.
    SOAP::Lite->soapversion($v eq '11' ? '1.1' : '1.2');
    my %user = (
        username => "lite${v}_$tag", password => 's3cret!pw', first_name => 'Ana',
        last_name => 'Peña', dni => "L$v$tag", email => "lite$v.$tag\@example.com",
        city => 'Málaga',
    );
    my $som = register(\%user);
    die $som->faultstring // 'fault' if $som->fault;
    $out{"register$v"} = {
        message => $som->valueof('//registerUserResponse/message'),
        id => $som->valueof('//registerUserResponse/id'),
        username => $user{username},
    };
    $som = register(\%user);
    if ($som->fault) {
        # faultstring/faultdetail read the 1.1 paths only: under 1.2 they are undef,
        # so read Reason/Text and Detail by path.
        my $reason = $v eq '11' ? $som->faultstring : $som->valueof('//Fault/Reason/Text');
        my $code = $v eq '11' ? $som->faultcode : $som->valueof('//Fault/Code/Value');
        $out{"duplicate$v"} = {
            field => $som->valueof('//RegistrationFault/field'),
            reason => $reason,
            code => $code,
            faultstring => scalar $som->faultstring,
            faultcode => scalar $som->faultcode,
        };
    } else {
        $out{"duplicate$v"} = 'no fault';
    }
}
SOAP::Lite->soapversion('1.1');

my $som = SOAP::Lite->proxy("$lookup_base/user/soap")
    ->ns('http://www.example.org/webservice', 'web')
    ->on_action(sub { '"http://www.example.org/webservice/getUserByUsername"' })
    ->call(SOAP::Data->name('web:getUserByUsername'),
        SOAP::Data->name('web:username' => $out{register11}{username})->type('string'));
$out{lookup} = {
    id => $som->valueof('//getUserByUsernameResponse/id'),
    username => $som->valueof('//getUserByUsernameResponse/username'),
};
print JSON::PP->new->canonical->encode(\%out), "\n";
