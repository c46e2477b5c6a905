//! TLS configuration, built once and shared by every driver's transports:
//! the client side for `wss://` peers, the server side for a relay given a
//! certificate and key. rustls on the ring provider.
//!
//! Clients trust the platform's roots, Mozilla's (bundled through
//! `webpki-roots`, so a machine without a CA bundle still reaches public
//! relays), and any extra certificates in [`TlsOptions::ca`].

#[cfg(feature = "tls")]
use std::sync::Arc;

#[cfg(feature = "tls")]
use rustls::{ClientConfig, RootCertStore, ServerConfig};
#[cfg(feature = "tls")]
use rustls_pki_types::pem::PemObject;
#[cfg(feature = "tls")]
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
#[cfg(feature = "tls")]
use tracing::debug;

use super::url::PeerUrl;
use crate::error::{GunError, GunResult};
use crate::options::GunOptions;
#[cfg(feature = "tls")]
use crate::options::TlsOptions;

/// What an instance's transports need: a client configuration when some
/// peer is `wss://`, a server configuration when it serves TLS. (Built
/// without the `tls` feature it is empty, and asking for TLS is an error.)
#[derive(Debug, Clone, Default)]
pub struct Configs {
    /// For dialing `wss://` peers.
    #[cfg(feature = "tls")]
    pub client: Option<Arc<ClientConfig>>,
    /// For serving `wss://` (a relay with a certificate and key).
    #[cfg(feature = "tls")]
    pub server: Option<Arc<ServerConfig>>,
}

impl Configs {
    /// The configurations `opts` call for, built once per instance.
    pub fn for_options(opts: &GunOptions) -> GunResult<Self> {
        let mut any_tls = false;
        for url in &opts.peers {
            any_tls |= PeerUrl::parse(url)?.tls;
        }
        #[cfg(feature = "tls")]
        {
            Ok(Self {
                client: if any_tls {
                    Some(client_config(&opts.tls)?)
                } else {
                    None
                },
                server: if opts.super_peer {
                    server_config(&opts.tls)?
                } else {
                    None
                },
            })
        }
        #[cfg(not(feature = "tls"))]
        {
            let serving = opts.super_peer && (opts.tls.cert.is_some() || opts.tls.key.is_some());
            if any_tls || serving {
                return Err(GunError::Crypto(
                    "TLS asked for, but built without the `tls` feature".into(),
                ));
            }
            Ok(Self {})
        }
    }
}

#[cfg(feature = "tls")]
fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

#[cfg(feature = "tls")]
fn read_certs(path: &str) -> GunResult<Vec<CertificateDer<'static>>> {
    let bytes = std::fs::read(path).map_err(|e| GunError::io(format!("cannot read {path}"), e))?;
    let certs: Vec<_> = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<_, _>>()
        .map_err(|e| GunError::Crypto(format!("{path}: not PEM certificates: {e}")))?;
    if certs.is_empty() {
        return Err(GunError::Crypto(format!("{path}: no certificate in it")));
    }
    Ok(certs)
}

/// The client configuration for `wss://` peers.
#[cfg(feature = "tls")]
pub fn client_config(opts: &TlsOptions) -> GunResult<Arc<ClientConfig>> {
    let mut roots = RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    let native = rustls_native_certs::load_native_certs();
    let (added, ignored) = roots.add_parsable_certificates(native.certs);
    debug!(
        added,
        ignored,
        errors = native.errors.len(),
        "platform roots"
    );
    for path in &opts.ca {
        for cert in read_certs(path)? {
            roots
                .add(cert)
                .map_err(|e| GunError::Crypto(format!("{path}: cannot trust it: {e}")))?;
        }
    }
    let config = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| GunError::Crypto(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// The server configuration a relay serves `wss://` with: `None` when the
/// options name no certificate. Naming only one of `cert` and `key` is an
/// error, as is a key that does not match the certificate.
#[cfg(feature = "tls")]
pub fn server_config(opts: &TlsOptions) -> GunResult<Option<Arc<ServerConfig>>> {
    let (cert, key) = match (&opts.cert, &opts.key) {
        (None, None) => return Ok(None),
        (Some(c), Some(k)) => (c, k),
        _ => {
            return Err(GunError::InvalidData(
                "TLS needs both a certificate and a key".into(),
            ));
        }
    };
    let chain = read_certs(cert)?;
    let bytes = std::fs::read(key).map_err(|e| GunError::io(format!("cannot read {key}"), e))?;
    let key_der = PrivateKeyDer::from_pem_slice(&bytes)
        .map_err(|e| GunError::Crypto(format!("{key}: no usable private key: {e}")))?;
    let config = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| GunError::Crypto(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(chain, key_der)
        .map_err(|e| GunError::Crypto(format!("{cert} with {key}: {e}")))?;
    Ok(Some(Arc::new(config)))
}

/// The name a certificate must carry for `host`.
#[cfg(feature = "tls")]
pub fn server_name(host: &str) -> GunResult<rustls_pki_types::ServerName<'static>> {
    rustls_pki_types::ServerName::try_from(host.to_owned())
        .map_err(|e| GunError::Crypto(format!("{host} cannot be checked by TLS: {e}")))
}

#[cfg(all(test, feature = "tls"))]
mod tests {
    use super::*;

    #[test]
    fn refuses_half_and_missing_settings() {
        assert!(
            server_config(&TlsOptions::default())
                .expect("none")
                .is_none()
        );
        let half = TlsOptions {
            cert: Some("cert.pem".into()),
            ..TlsOptions::default()
        };
        assert!(matches!(
            server_config(&half),
            Err(GunError::InvalidData(_))
        ));
        let missing = TlsOptions {
            cert: Some("/nonexistent/cert.pem".into()),
            key: Some("/nonexistent/key.pem".into()),
            ..TlsOptions::default()
        };
        assert!(matches!(server_config(&missing), Err(GunError::Io(_))));
        let no_ca = TlsOptions {
            ca: vec!["/nonexistent/ca.pem".into()],
            ..TlsOptions::default()
        };
        assert!(matches!(client_config(&no_ca), Err(GunError::Io(_))));
        assert!(client_config(&TlsOptions::default()).is_ok());
    }
}
