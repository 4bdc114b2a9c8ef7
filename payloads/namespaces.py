"""XML namespaces of the NETCONF base protocol and the Cisco IOS XE modules this project uses."""

NETCONF_BASE = "urn:ietf:params:xml:ns:netconf:base:1.0"
NATIVE = "http://cisco.com/ns/yang/Cisco-IOS-XE-native"
EEM = "http://cisco.com/ns/yang/Cisco-IOS-XE-eem"
CRYPTO = "http://cisco.com/ns/yang/Cisco-IOS-XE-crypto"
CLI_RPC = "http://cisco.com/ns/yang/Cisco-IOS-XE-cli-rpc"
CISCO_IA = "http://cisco.com/yang/cisco-ia"
PKI_OPER = "http://cisco.com/ns/yang/Cisco-IOS-XE-crypto-pki-oper"
NETCONF_MONITORING = "urn:ietf:params:xml:ns:yang:ietf-netconf-monitoring"
YANG_LIBRARY = "urn:ietf:params:xml:ns:yang:ietf-yang-library"

# Prefixes for XPath expressions over native configuration.
XPATH_PREFIXES = {
    "nc": NETCONF_BASE,
    "ios": NATIVE,
    "eem": EEM,
    "crypto": CRYPTO,
}
