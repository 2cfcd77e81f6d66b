//! Certificates made with the `openssl` CLI, once per test process: a CA
//! and a server certificate for `127.0.0.1`/`localhost` (the TLS setup),
//! and a self-signed RSA certificate the token server signs JWTs with.

use super::run_tool;
use base64::Engine as _;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

pub struct Certs {
    pub dir: PathBuf,
    pub ca_crt: PathBuf,
    pub server_crt: PathBuf,
    pub server_key: PathBuf,
    pub token_crt: PathBuf,
    pub token_key: PathBuf,
    /// The token certificate, DER, standard base64: the JWT `x5c` entry.
    pub token_x5c: String,
}

pub fn certs() -> &'static Certs {
    static C: OnceLock<Certs> = OnceLock::new();
    C.get_or_init(|| make(&super::work_dir().join("certs")))
}

/// Run openssl with whitespace-separated arguments (no argument here
/// has a space: the paths live under the target dir).
fn openssl(args: &str) -> Vec<u8> {
    let args: Vec<&str> = args.split_whitespace().collect();
    run_tool("openssl", &args).stdout
}

fn make(dir: &Path) -> Certs {
    std::fs::create_dir_all(dir).expect("create the certs dir");
    let d = dir.display();
    // rustls (webpki) wants v3 certificates: a CA marked CA:TRUE with
    // keyCertSign, and a leaf with CA:FALSE, serverAuth and the address
    // in subjectAltName (the CN is not looked at).
    openssl(&format!(
        "req -x509 -newkey rsa:2048 -nodes -sha256 -days 3650 \
         -keyout {d}/ca.key -out {d}/ca.crt -subj /CN=skiff-test-CA \
         -addext basicConstraints=critical,CA:TRUE \
         -addext keyUsage=critical,keyCertSign,cRLSign"
    ));
    openssl(&format!(
        "req -newkey rsa:2048 -nodes -sha256 \
         -keyout {d}/server.key -out {d}/server.csr -subj /CN=127.0.0.1"
    ));
    std::fs::write(
        dir.join("server.ext"),
        "basicConstraints=CA:FALSE\n\
         keyUsage=critical,digitalSignature,keyEncipherment\n\
         extendedKeyUsage=serverAuth\n\
         subjectAltName=IP:127.0.0.1,DNS:localhost\n",
    )
    .expect("write server.ext");
    openssl(&format!(
        "x509 -req -sha256 -days 3650 -in {d}/server.csr \
         -CA {d}/ca.crt -CAkey {d}/ca.key -CAcreateserial \
         -extfile {d}/server.ext -out {d}/server.crt"
    ));
    // The token server's signing certificate: self-signed, and itself the
    // registry's rootcertbundle.
    openssl(&format!(
        "req -x509 -newkey rsa:2048 -nodes -sha256 -days 3650 \
         -keyout {d}/token.key -out {d}/token.crt -subj /CN=skiff-test-token-issuer"
    ));
    let der = openssl(&format!("x509 -in {d}/token.crt -outform DER"));
    Certs {
        dir: dir.to_path_buf(),
        ca_crt: dir.join("ca.crt"),
        server_crt: dir.join("server.crt"),
        server_key: dir.join("server.key"),
        token_crt: dir.join("token.crt"),
        token_key: dir.join("token.key"),
        token_x5c: base64::engine::general_purpose::STANDARD.encode(der),
    }
}
