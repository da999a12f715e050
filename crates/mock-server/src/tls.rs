//! The committed test certificate (see `certs/README.md`) and the TLS acceptor built from it.

use std::io;

use native_tls::{Identity, TlsAcceptor};

const CA_PEM: &str = include_str!("../certs/ca.pem");
const SERVER_PEM: &str = include_str!("../certs/server.pem");
const SERVER_KEY_PEM: &str = include_str!("../certs/server.key.pem");

/// The test CA that signed the `wss://` server's certificate (valid for `localhost`,
/// 127.0.0.1 and ::1 until 2046). Trust it only in tests.
pub fn test_ca_certificate_pem() -> &'static str {
    CA_PEM
}

/// An acceptor presenting the server certificate and its CA as the chain.
pub fn acceptor() -> io::Result<TlsAcceptor> {
    let chain = format!("{SERVER_PEM}{CA_PEM}");
    let identity = Identity::from_pkcs8(chain.as_bytes(), SERVER_KEY_PEM.as_bytes())
        .map_err(|e| io::Error::other(format!("test identity: {e}")))?;
    TlsAcceptor::new(identity).map_err(|e| io::Error::other(format!("TLS acceptor: {e}")))
}
