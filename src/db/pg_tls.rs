//! The rustls client configuration for a PostgreSQL connection, built from the URL's
//! [`PgTls`] settings with libpq's rules: the chain is checked when a root certificate is
//! known (always for `verify-ca`/`verify-full`), the host name only for `verify-full`, and
//! without a root certificate `prefer`/`require` encrypt without authenticating the server.
//! Client certificates and CRLs are read from PEM files; a key file readable by others is
//! refused, as libpq refuses it. Messages name files, never their contents.

use std::path::Path;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{
    CertificateDer, CertificateRevocationListDer, PrivateKeyDer, ServerName, UnixTime,
};
use rustls::{CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore};

use crate::dbtls::{PgTls, RootCert};

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The certificates of a PEM file (at least one).
pub fn read_certs(path: &Path, what: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("cannot read the {what} file \"{}\": {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!(
            "the {what} file \"{}\" holds no PEM certificate",
            path.display()
        ));
    }
    Ok(certs)
}

fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, String> {
    check_key_permissions(path)?;
    // The error names the file only: a parse error could quote key material.
    PrivateKeyDer::from_pem_file(path).map_err(|e| {
        let why = match e {
            rustls::pki_types::pem::Error::Io(io) => io.to_string(),
            rustls::pki_types::pem::Error::NoItemsFound => {
                "no unencrypted PEM private key in it (encrypted keys are not supported)".into()
            }
            _ => "not a PEM private key".into(),
        };
        format!(
            "cannot read the private key file \"{}\": {why}",
            path.display()
        )
    })
}

/// libpq's rule: a key owned by the current user must not be accessible by group or others
/// (0600 or less); one owned by root may be group-readable (0640 or less).
fn check_key_permissions(path: &Path) -> Result<(), String> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(path).map_err(|e| {
        format!(
            "cannot read the private key file \"{}\": {e}",
            path.display()
        )
    })?;
    if !meta.is_file() {
        return Err(format!(
            "private key file \"{}\" is not a regular file",
            path.display()
        ));
    }
    let mode = meta.mode();
    // (libpq checks only keys owned by the current user; any other owner is held to the
    // stricter rule here.)
    let bad = if meta.uid() == 0 {
        mode & 0o037 != 0
    } else {
        mode & 0o077 != 0
    };
    if bad {
        return Err(format!(
            "private key file \"{}\" has group or world access; file must have permissions \
             u=rw (0600) or less if owned by the current user, or permissions u=rw,g=r (0640) \
             or less if owned by root",
            path.display()
        ));
    }
    Ok(())
}

fn root_store(root: &RootCert) -> Result<RootCertStore, String> {
    let mut store = RootCertStore::empty();
    match root {
        RootCert::File(path) => {
            for cert in read_certs(path, "root certificate")? {
                store.add(cert).map_err(|e| {
                    format!(
                        "the root certificate file \"{}\" holds an unusable certificate: {e}",
                        path.display()
                    )
                })?;
            }
        }
        RootCert::System => {
            let found = rustls_native_certs::load_native_certs();
            let (added, _) = store.add_parsable_certificates(found.certs);
            if added == 0 {
                return Err(
                    "sslrootcert=system: no trusted root certificates found on this system".into(),
                );
            }
        }
    }
    Ok(store)
}

/// The rustls configuration for `tls` (whose libpq defaults are already filled in).
pub fn client_config(tls: &PgTls) -> Result<ClientConfig, String> {
    let provider = provider();
    let versions: &[&rustls::SupportedProtocolVersion] = if tls.tls13_only {
        &[&rustls::version::TLS13]
    } else if tls.tls12_only {
        &[&rustls::version::TLS12]
    } else {
        rustls::DEFAULT_VERSIONS
    };
    let verifier: Arc<dyn ServerCertVerifier> = match &tls.root_cert {
        Some(root) => {
            let mut builder = WebPkiServerVerifier::builder_with_provider(
                Arc::new(root_store(root)?),
                provider.clone(),
            );
            if let Some(crl) = &tls.crl {
                let crls = CertificateRevocationListDer::pem_file_iter(crl)
                    .and_then(|it| it.collect::<Result<Vec<_>, _>>())
                    .map_err(|e| format!("cannot read the CRL file \"{}\": {e}", crl.display()))?;
                builder = builder.with_crls(crls);
            }
            let inner = builder
                .build()
                .map_err(|e| format!("cannot use the root certificate: {e}"))?;
            Arc::new(PgVerifier {
                inner: Some(inner),
                check_host: tls.checks_host(),
                provider: provider.clone(),
            })
        }
        None => Arc::new(PgVerifier {
            inner: None,
            check_host: false,
            provider: provider.clone(),
        }),
    };
    let builder = ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(versions)
        .map_err(|e| format!("cannot set up TLS: {e}"))?
        .dangerous()
        .with_custom_certificate_verifier(verifier);
    let mut config = match (&tls.cert, &tls.key) {
        (Some(cert), Some(key)) => builder
            .with_client_auth_cert(read_certs(cert, "client certificate")?, read_key(key)?)
            .map_err(|e| {
                format!(
                    "the client certificate \"{}\" and key \"{}\" cannot be used: {e}",
                    cert.display(),
                    key.display()
                )
            })?,
        _ => builder.with_no_client_auth(),
    };
    config.enable_sni = tls.sni;
    Ok(config)
}

/// libpq's checks: the chain against the root certificates when there are any, the host
/// name only for `verify-full`; with no root certificate, any certificate (the connection
/// is encrypted, not authenticated — exactly `sslmode=require` without a root file).
/// Handshake signatures are always checked.
#[derive(Debug)]
struct PgVerifier {
    inner: Option<Arc<WebPkiServerVerifier>>,
    check_host: bool,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for PgVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let Some(inner) = &self.inner else {
            return Ok(ServerCertVerified::assertion());
        };
        match inner.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now) {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) if !self.check_host => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
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
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_file_permissions_as_libpq() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("client.key");
        std::fs::write(
            &key,
            "-----BEGIN PRIVATE KEY-----\nSECRET*KEY*BYTES\n-----END PRIVATE KEY-----\n",
        )
        .unwrap();
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o604)).unwrap();
        let e = check_key_permissions(&key).unwrap_err();
        assert!(e.contains("group or world access"), "{e}");
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
        check_key_permissions(&key).unwrap();
        // a garbled key: the message names the file, never its content
        let e = read_key(&key).unwrap_err();
        assert!(e.contains("client.key") && !e.contains("SECRET*KEY"), "{e}");
    }

    #[test]
    fn missing_and_empty_root_files_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope.pem");
        let e = root_store(&RootCert::File(missing)).unwrap_err();
        assert!(e.contains("nope.pem"), "{e}");
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "not a certificate").unwrap();
        let e = root_store(&RootCert::File(empty)).unwrap_err();
        assert!(e.contains("holds no PEM certificate"), "{e}");
    }
}
