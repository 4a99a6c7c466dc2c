//! The simulator's test PKI: one CA per root and a server certificate signed by it.
//!
//! UCCE servers use self-signed certificates by default (DOMAIN.md); a CA lets clients trust
//! all simulated hosts at once with one `sim-ca.pem`. rcgen cannot parse a CA certificate back
//! without x509-parser, so the CA is rebuilt from its stored key and fixed parameters, which
//! yields the same issuer name and key identifier for re-issued server certificates.

use std::{fs, io::BufReader, path::Path, sync::Arc};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};

use crate::{SimError, tree::SimPaths, tree::write_atomic};

fn ca_params() -> Result<CertificateParams, SimError> {
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, "ucce-sim test CA (not for production)");
    dn.push(DnType::OrganizationName, "ucce-sim");
    params.distinguished_name = dn;
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params.not_before = rcgen::date_time_ymd(2024, 1, 1);
    params.not_after = rcgen::date_time_ymd(2049, 12, 31);
    Ok(params)
}

fn read(path: &Path) -> Result<String, SimError> {
    fs::read_to_string(path).map_err(|e| SimError::io(path, e))
}

/// Creates the CA when missing and (re-)issues the server certificate for `hostnames`,
/// `localhost` and `127.0.0.1`.
pub(crate) fn issue(p: &SimPaths, hostnames: &[String]) -> Result<(), SimError> {
    let ca_key = if p.ca_key.exists() && p.ca_pem.exists() {
        KeyPair::from_pem(&read(&p.ca_key)?)?
    } else {
        let key = KeyPair::generate()?;
        let cert = ca_params()?.self_signed(&key)?;
        write_atomic(&p.ca_key, key.serialize_pem().as_bytes())?;
        write_atomic(&p.ca_pem, cert.pem().as_bytes())?;
        key
    };
    let ca_cert = ca_params()?.self_signed(&ca_key)?;

    let mut names: Vec<String> = Vec::new();
    for n in hostnames
        .iter()
        .map(String::as_str)
        .chain(["localhost", "127.0.0.1"])
    {
        if !names.iter().any(|m| m.eq_ignore_ascii_case(n)) {
            names.push(n.to_string());
        }
    }
    let mut params = CertificateParams::new(names.clone())?;
    let mut dn = DistinguishedName::new();
    dn.push(
        DnType::CommonName,
        names.first().cloned().unwrap_or_default(),
    );
    params.distinguished_name = dn;
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.not_before = rcgen::date_time_ymd(2024, 1, 1);
    params.not_after = rcgen::date_time_ymd(2049, 12, 31);
    let key = KeyPair::generate()?;
    let cert = params.signed_by(&key, &ca_cert, &ca_key)?;
    write_atomic(&p.server_key, key.serialize_pem().as_bytes())?;
    // The chain includes the CA so clients that only pin the CA still build a path.
    let chain = format!("{}{}", cert.pem(), ca_cert.pem());
    write_atomic(&p.server_cert, chain.as_bytes())
}

/// Loads the server certificate and key of a root into a rustls configuration with the ring
/// provider (the only provider compiled into the workspace).
pub(crate) fn server_config(p: &SimPaths) -> Result<Arc<rustls::ServerConfig>, SimError> {
    if !p.server_cert.exists() || !p.server_key.exists() {
        return Err(SimError::NotInitialized {
            path: p.server_cert.clone(),
        });
    }
    let cert_file = fs::File::open(&p.server_cert).map_err(|e| SimError::io(&p.server_cert, e))?;
    let certs = rustls_pemfile::certs(&mut BufReader::new(cert_file))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| SimError::Pem {
            path: p.server_cert.clone(),
        })?;
    let key_file = fs::File::open(&p.server_key).map_err(|e| SimError::io(&p.server_key, e))?;
    let key = rustls_pemfile::private_key(&mut BufReader::new(key_file))
        .ok()
        .flatten()
        .ok_or_else(|| SimError::Pem {
            path: p.server_key.clone(),
        })?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(certs, key)?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}
