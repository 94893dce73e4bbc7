# desired/full.example.com: every key a desired file may hold (DESIGN.md §3), each set to an
# example value with what it means. All are optional; unset keys come from conf/target, then
# from the defaults given here. Unknown keys are warned about and ignored. Keys marked
# "(acmed)" are additions: acmetool ignores them.

satisfy:
  # The names the certificate must cover: the target is satisfied while a certificate for all
  # of them is valid. Default: the file's name. A wildcard only as the whole first label;
  # internationalised names are converted to punycode; IP addresses are allowed.
  names:
    - full.example.com
    - www.full.example.com
  # Renew this many days before expiry. Default: the CA's renewal window (ARI) when it has
  # one, else when a third of the lifetime remains (half, for lifetimes under 10 days).
  margin: 30
  # (acmed) A failed renewal this many days or fewer before expiry is logged at critical
  # level, fires the expiry-warning hook event and makes the pass exit 3. Default: when a
  # tenth of the lifetime remains. From 1 to 3650.
  critical-days: 15
  # (acmed) true: the apex of each www. name is wanted too (www.full.example.com brings
  # full.example.com, listed here already). Not the other way round. Default: false.
  www-apex: true

request:
  # The names to put in the certificate request, which may be more than satisfy.names
  # (default: satisfy.names).
  names:
    - full.example.com
    - www.full.example.com
  # The CA's directory URL, or an alias: letsencrypt, letsencrypt-staging.
  provider: https://acme-staging-v02.api.letsencrypt.org/directory
  # (acmed) Or a central certificate server (acmed serve, acme-mgmtserver's protocol): the key
  # and CSR are made here, the CSR posted there, the chain it answers checked (against
  # trust-anchors, else the system's roots) and installed; no account, no challenge here.
  # provider: mgmt+https://central.example.com:1313/sign
  # (acmed) With such a server: the key it shares with this client (the file's bytes less one
  # trailing newline), sent as the HMAC-SHA256 of the CSR in an Authentication header.
  # mgmt:
  #   hmac-key-file: /etc/acme/central.key
  # (acmed) The ACME profile to ask for, when the CA offers profiles.
  profile: tlsserver
  key:
    # ecdsa (default) or rsa.
    type: ecdsa
    # For ecdsa: nistp256 (default), nistp384 or nistp521 (which the CA may refuse).
    ecdsa-curve: nistp256
    # For rsa: 2048 (default) to 4096 bits.
    rsa-size: 2048
    # Pin an existing key from keys/<key-id>/ (52 lowercase base32 characters).
    # id: abcdefghijklmnopqrstuvwxyz234567abcdefghijklmnopqrst
    # (acmed) true: renewals keep the current key. Default false: a new key each time.
    reuse: false
  # Ask for the OCSP Must-Staple extension.
  ocsp-must-staple: false
  challenge:
    # (acmed) Challenge types in order of preference.
    type: [http-01, tls-alpn-01, dns-01]
    # Directories served as /.well-known/acme-challenge/: <path>/<token> is written before
    # the challenge and removed after.
    webroot-paths:
      - /var/www/html/.well-known/acme-challenge
    # The built-in http-01 listener's addresses: "host:port", "[v6]:port", or a bare port N
    # meaning 127.0.0.1:N and [::1]:N (as acmetool). Default: :80 when free, and 402.
    http-ports: [402]
    # (acmed) The built-in tls-alpn-01 listener's addresses, same forms. Default: :443 when
    # free.
    tls-ports: [":443"]
    # Fetch our own http-01 answer before telling the CA (resolving the names ourselves).
    http-self-test: false
    # Extra environment for the hooks of this target, e.g. for hooks/dns-nsupdate.
    env:
      ACME_NSUPDATE_SERVER: ns1.example.com
  # (acmed) Prefer the chain whose root has this issuer CN, when the CA offers several.
  preferred-chain: "ISRG Root X1"
  # (acmed) An absolute path to a PEM file of roots: the chain must end at one of them (its
  # last certificate is one, or is issued by one). Every chain is checked whatever this says:
  # each certificate issued by the next, all of them within their validity periods.
  # trust-anchors: /etc/acme/roots.pem
  # (acmed) The account to use: one per CA and EAB key id, registered when none matches.
  account:
    contact: ["mailto:hostmaster@example.com"]
    # Agree to the CA's terms of service (else answer in conf/responses).
    agree-tos: false
    # External account binding, for CAs that require one: the key id and a file holding the
    # HMAC key the CA gave you.
    # eab:
    #   kid: kid-1
    #   hmac-key-file: /etc/acme/eab-hmac.key

# Which target gets a hostname several want: the highest priority, then the most names.
priority: 0
# Adds ":<label>" to this target's live links (live/<hostname>:<label>), so two targets can
# hold certificates for the same name (say, an RSA and an ECDSA one).
label: ""

# acmetool's older top-level forms, still read: names when satisfy.names is not set,
# provider when request.provider is not set.
# names: [full.example.com]
# provider: https://acme-v02.api.letsencrypt.org/directory
