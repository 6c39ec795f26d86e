#!/usr/bin/perl
# SOAP::WSDL: register over SOAP 1.1, a duplicate, a lookup; through classes generated with
#   wsdl2perl -b DIR -p Hub  SOAP_BASE/register?wsdl
#   wsdl2perl -b DIR -p Look LOOKUP_BASE/user/soap?wsdl
# Usage: perl -I DIR soap_wsdl_client.pl TAG  -> one JSON object (run by soap_wsdl_client.sh)
# SOAP::WSDL speaks SOAP 1.1 only (wsdl2perl generates the 1.1 ports); the generated
# classes post to the address the WSDL gave when they were generated.
use strict;
use warnings;
use utf8;
use JSON::PP;
use HubInterfaces::UserService::UserServiceSoap;
use LookInterfaces::UserLookupService::UserLookupSoap;

# The generated typemap knows no class for a fault's detail ("Cannot resolve class for
# Fault/detail/RegistrationFault"), so every RegistrationFault would surface as a
# client-side Server fault. Map the detail to the generated element class.
package RegistrationFaultDetail {
    use Class::Std::Fast::Storable constructor => 'none';
    use base qw(SOAP::WSDL::XSD::Typelib::ComplexType);
    my %fault_of : ATTR(:get<RegistrationFault>);
    __PACKAGE__->_factory([qw(RegistrationFault)], { RegistrationFault => \%fault_of },
        { RegistrationFault => 'HubElements::RegistrationFault' });
}
package FaultTypemap {
    my $string = 'SOAP::WSDL::XSD::Typelib::Builtin::string';
    my %map = (%{ HubTypemaps::UserService->get_typemap },
        'Fault/detail' => 'RegistrationFaultDetail',
        'Fault/detail/RegistrationFault' => 'HubElements::RegistrationFault',
        'Fault/detail/RegistrationFault/field' => $string,
        'Fault/detail/RegistrationFault/message' => $string);
    sub get_typemap { \%map }
    sub get_class { $map{ join '/', @{ $_[1] } } }
}
# When the detail is not needed, skipping it is the one-line fix: the fault then decodes
# as a Fault11 with its faultcode and faultstring.
package SkipDetailTypemap {
    my %map = (%{ HubTypemaps::UserService->get_typemap }, 'Fault/detail' => '__SKIP__');
    sub get_typemap { \%map }
    sub get_class { $map{ join '/', @{ $_[1] } } }
}
package main;

my ($tag) = @ARGV;
my %out;
my $service = HubInterfaces::UserService::UserServiceSoap->new({ class_resolver => 'FaultTypemap' });
my %user = (
    username => "wsdl11_$tag", password => 's3cret!pw', first_name => 'Ana', last_name => 'Peña',
    dni => "W11$tag", email => "wsdl11.$tag\@example.com", city => 'Málaga',
);
# A reply is the generated response element; a fault is a Fault11 object, false in
# boolean context.
my $r = $service->RegisterUser(\%user);
die "$r" if !$r;
$out{register11} = { message => $r->get_message->get_value, id => $r->get_id->get_value,
    username => $user{username} };
$r = $service->RegisterUser(\%user);
$out{duplicate11} = $r ? 'no fault' : {
    field => $r->get_detail->get_RegistrationFault->get_field->get_value,
    reason => $r->get_faultstring->get_value,
};
$r = HubInterfaces::UserService::UserServiceSoap->new({ class_resolver => 'SkipDetailTypemap' })
    ->RegisterUser(\%user);
$out{duplicate11_skip} = $r ? 'no fault' : {
    code => $r->get_faultcode->get_value, reason => $r->get_faultstring->get_value,
};

my $look = LookInterfaces::UserLookupService::UserLookupSoap->new();
$r = $look->getUserByUsername({ username => $user{username} });
die "$r" if !$r;
$out{lookup} = { id => $r->get_id->get_value, username => $r->get_username->get_value };
print JSON::PP->new->canonical->encode(\%out), "\n";
