//! TLS for the verifier: a `rustls::ClientConfig` built by hand (ring provider) so that the
//! options UCCE fleets need are explicit:
//!
//! - **default**: verify the chain against the system CA bundle (`SSL_CERT_FILE` or the usual
//!   Linux paths; no root-store crate is used) and the URL's host name;
//! - **`ca_file`**: verify against the PEM certificates in that file instead;
//! - **`server_name`**: when the URL names the server by IP, verify the certificate against
//!   this DNS name instead of the IP. We connect to the URL's host unchanged and only swap the
//!   name handed to the WebPKI verifier (no URL rewriting, no resolver override), so the
//!   request's `Host` header and the connection stay what the user typed;
//! - **`pin_sha256`**: SHA-256 of the server's leaf certificate (DER), as printed by
//!   `openssl x509 -noout -fingerprint -sha256`. Alone, the pin *is* the trust decision (for
//!   self-signed UCCE certs: chain, name and dates are not checked); with `ca_file` both must hold;
//! - **`insecure`**: accept any certificate. Logged as a warning on every handshake.
//!
//! Handshake signatures are always verified, so even the pin and insecure modes prove the
//! server holds the certificate's private key.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::error::PreflightError;

/// How the verifier trusts servers. The default verifies against the system CA bundle.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TlsOptions {
    /// PEM file with the CA (or self-signed server) certificates to trust.
    pub ca_file: Option<PathBuf>,
    /// DNS name to verify the certificate against when connecting by IP address.
    pub server_name: Option<String>,
    /// SHA-256 of the leaf certificate, hex, colons allowed.
    pub pin_sha256: Option<String>,
    /// Accept any certificate. Never use against production servers.
    pub insecure: bool,
}

const SYSTEM_BUNDLES: [&str; 5] = [
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/ca-bundle.pem",
    "/etc/ssl/cert.pem",
    "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
];

/// Parse a pin: 64 hex digits, optionally separated by colons (openssl's format).
pub fn parse_pin(pin: &str) -> Result<[u8; 32], PreflightError> {
    let cleaned: String = pin
        .chars()
        .filter(|c| *c != ':' && !c.is_whitespace())
        .collect();
    let bytes = hex::decode(&cleaned).map_err(|e| PreflightError::InvalidPin {
        reason: format!("not hex: {e}"),
    })?;
    bytes
        .try_into()
        .map_err(|b: Vec<u8>| PreflightError::InvalidPin {
            reason: format!("expected 32 bytes (64 hex digits), got {}", b.len()),
        })
}

/// SHA-256 of a DER certificate as lower-case hex: the form `--pin-sha256` accepts.
pub fn cert_sha256_hex(der: &[u8]) -> String {
    hex::encode(Sha256::digest(der))
}

fn load_pem_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, PreflightError> {
    let err = |reason: String| PreflightError::CaFile {
        path: path.to_owned(),
        reason,
    };
    let bytes = std::fs::read(path).map_err(|e| err(e.to_string()))?;
    let certs = rustls_pemfile::certs(&mut bytes.as_slice())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| err(format!("bad pem: {e}")))?;
    if certs.is_empty() {
        return Err(err("no CERTIFICATE block found".to_owned()));
    }
    Ok(certs)
}

fn system_roots() -> Vec<CertificateDer<'static>> {
    let env = std::env::var_os("SSL_CERT_FILE").map(PathBuf::from);
    env.into_iter()
        .chain(SYSTEM_BUNDLES.iter().map(PathBuf::from))
        .find_map(|p| load_pem_certs(&p).ok())
        .unwrap_or_default()
}

/// The one certificate verifier behind every mode (see the module docs).
#[derive(Debug)]
struct FleetCertVerifier {
    webpki: Option<Arc<WebPkiServerVerifier>>,
    name_override: Option<ServerName<'static>>,
    pin: Option<[u8; 32]>,
    insecure: bool,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for FleetCertVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if self.insecure {
            tracing::warn!(
                server = ?server_name,
                "INSECURE: accepting the server certificate without any verification"
            );
            return Ok(ServerCertVerified::assertion());
        }
        if let Some(pin) = &self.pin {
            let got: [u8; 32] = Sha256::digest(end_entity.as_ref()).into();
            if &got != pin {
                return Err(rustls::Error::General(format!(
                    "certificate sha-256 {} does not match the pinned {}",
                    hex::encode(got),
                    hex::encode(pin)
                )));
            }
        }
        match &self.webpki {
            Some(webpki) => {
                let name = self.name_override.as_ref().unwrap_or(server_name);
                webpki.verify_server_cert(end_entity, intermediates, name, ocsp_response, now)
            }
            None => Ok(ServerCertVerified::assertion()),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// Build the rustls client configuration for `opts`.
pub fn client_config(opts: &TlsOptions) -> Result<rustls::ClientConfig, PreflightError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let pin = opts.pin_sha256.as_deref().map(parse_pin).transpose()?;
    let name_override = opts
        .server_name
        .as_deref()
        .map(|n| {
            ServerName::try_from(n.to_owned()).map_err(|e| PreflightError::InvalidServerName {
                name: n.to_owned(),
                reason: e.to_string(),
            })
        })
        .transpose()?;

    // The pin alone is a complete trust decision; a CA file next to it adds chain checks.
    let want_webpki = !opts.insecure && (pin.is_none() || opts.ca_file.is_some());
    let webpki = if want_webpki {
        let certs = match &opts.ca_file {
            Some(path) => load_pem_certs(path)?,
            None => system_roots(),
        };
        let mut roots = rustls::RootCertStore::empty();
        let (_added, _ignored) = roots.add_parsable_certificates(certs);
        if roots.is_empty() {
            return Err(match &opts.ca_file {
                Some(path) => PreflightError::CaFile {
                    path: path.clone(),
                    reason: "no usable certificate in the file".to_owned(),
                },
                None => PreflightError::NoRoots,
            });
        }
        let verifier =
            WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                .build()
                .map_err(|e| PreflightError::Client(e.to_string()))?;
        Some(verifier)
    } else {
        None
    };
    if opts.insecure {
        tracing::warn!("INSECURE: TLS certificate verification is disabled for preflight checks");
    }

    let verifier = FleetCertVerifier {
        webpki,
        name_override,
        pin,
        insecure: opts.insecure,
        provider: provider.clone(),
    };
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| PreflightError::Client(e.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pins_parse_with_and_without_colons() {
        let hex64 = "ab".repeat(32);
        assert_eq!(parse_pin(&hex64).ok(), Some([0xab; 32]));
        let colons = vec!["AB"; 32].join(":");
        assert_eq!(parse_pin(&colons).ok(), Some([0xab; 32]));
        assert!(parse_pin("abcd").is_err());
        assert!(parse_pin(&"zz".repeat(32)).is_err());
    }

    #[test]
    fn missing_or_empty_ca_file_is_an_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let missing = TlsOptions {
            ca_file: Some(dir.path().join("nope.pem")),
            ..Default::default()
        };
        assert!(matches!(
            client_config(&missing),
            Err(PreflightError::CaFile { .. })
        ));
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "not a pem\n").expect("write");
        let empty = TlsOptions {
            ca_file: Some(empty),
            ..Default::default()
        };
        assert!(matches!(
            client_config(&empty),
            Err(PreflightError::CaFile { .. })
        ));
    }

    #[test]
    fn pin_alone_and_insecure_need_no_roots() {
        let pin = TlsOptions {
            pin_sha256: Some("00".repeat(32)),
            ..Default::default()
        };
        assert!(client_config(&pin).is_ok());
        let insecure = TlsOptions {
            insecure: true,
            ..Default::default()
        };
        assert!(client_config(&insecure).is_ok());
        let bad_name = TlsOptions {
            insecure: true,
            server_name: Some("bad name!".into()),
            ..Default::default()
        };
        assert!(matches!(
            client_config(&bad_name),
            Err(PreflightError::InvalidServerName { .. })
        ));
    }
}
