//! TLS client settings of SSL_GET: rustls with the `ring` provider, and either no
//! certificate verification (keepalived's behaviour: check_ssl.c never sets a verify mode,
//! so OpenSSL's client default SSL_VERIFY_NONE applies) or full verification against the
//! Mozilla roots or a configured CA file.

use std::path::Path;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{ring, verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};

/// A client config for one SSL_GET. `enable_sni` decides whether the server name is sent;
/// with `verify`, the chain must lead to `ca_file`'s CAs (or the Mozilla roots when
/// unset) and name the server. Errors are reasons ("ca_file /x: ...").
pub(crate) fn client_config(
    verify: bool,
    ca_file: Option<&Path>,
    enable_sni: bool,
) -> Result<Arc<ClientConfig>, String> {
    // The provider is named, not taken from the process default, so no other crate's
    // choice of provider can make this ambiguous (rustls panics on an ambiguous default).
    let provider = Arc::new(ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup: {e}"))?;
    let mut config = if verify {
        let mut roots = RootCertStore::empty();
        match ca_file {
            Some(path) => {
                let certs = CertificateDer::pem_file_iter(path)
                    .map_err(|e| format!("ca_file {}: {e}", path.display()))?;
                for cert in certs {
                    let cert = cert.map_err(|e| format!("ca_file {}: {e}", path.display()))?;
                    roots
                        .add(cert)
                        .map_err(|e| format!("ca_file {}: {e}", path.display()))?;
                }
                if roots.is_empty() {
                    return Err(format!("ca_file {}: no certificate in it", path.display()));
                }
            }
            None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
        }
        builder.with_root_certificates(roots).with_no_client_auth()
    } else {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAnyCert(provider)))
            .with_no_client_auth()
    };
    config.enable_sni = enable_sni;
    Ok(Arc::new(config))
}

/// The name a TLS connection is made for (and, with verification, checked against): a
/// DNS name when one is given, else the server's IP address.
pub(crate) fn server_name(name: Option<&str>, ip: std::net::Ipv4Addr) -> ServerName<'static> {
    name.and_then(|n| ServerName::try_from(n.to_string()).ok())
        .unwrap_or(ServerName::IpAddress(std::net::IpAddr::V4(ip).into()))
}

/// keepalived's SSL_GET default: any certificate is accepted, whoever issued it and
/// whatever name it carries. The handshake signatures are still verified with the
/// certificate's key (as OpenSSL does under SSL_VERIFY_NONE), so the session is a real
/// TLS session with whoever holds that key; it just proves nothing about who that is.
#[derive(Debug)]
struct AcceptAnyCert(Arc<CryptoProvider>);

impl ServerCertVerifier for AcceptAnyCert {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
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
            &self.0.signature_verification_algorithms,
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
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configs_build_and_a_missing_ca_file_is_a_reason() {
        assert!(client_config(false, None, false).is_ok());
        assert!(client_config(true, None, true).is_ok());
        let e = client_config(true, Some(Path::new("/nonexistent/ca.pem")), false).unwrap_err();
        assert!(e.starts_with("ca_file /nonexistent/ca.pem: "), "{e}");
    }

    #[test]
    fn names() {
        let ip = std::net::Ipv4Addr::new(192, 0, 2, 12);
        assert!(matches!(
            server_name(Some("www.example.test"), ip),
            ServerName::DnsName(_)
        ));
        assert!(matches!(server_name(None, ip), ServerName::IpAddress(_)));
    }
}
