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

fn p(dir: &Path, name: &str) -> String {
    dir.join(name).display().to_string()
}

fn make(dir: &Path) -> Certs {
    std::fs::create_dir_all(dir).expect("create the certs dir");
    // rustls (webpki) wants v3 certificates: a CA marked CA:TRUE with
    // keyCertSign, and a leaf with CA:FALSE, serverAuth and the address
    // in subjectAltName (the CN is not looked at).
    run_tool(
        "openssl",
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-sha256",
            "-days",
            "3650",
            "-keyout",
            &p(dir, "ca.key"),
            "-out",
            &p(dir, "ca.crt"),
            "-subj",
            "/CN=skiff test CA",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ],
    );
    run_tool(
        "openssl",
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-sha256",
            "-keyout",
            &p(dir, "server.key"),
            "-out",
            &p(dir, "server.csr"),
            "-subj",
            "/CN=127.0.0.1",
        ],
    );
    std::fs::write(
        dir.join("server.ext"),
        "basicConstraints=CA:FALSE\n\
         keyUsage=critical,digitalSignature,keyEncipherment\n\
         extendedKeyUsage=serverAuth\n\
         subjectAltName=IP:127.0.0.1,DNS:localhost\n",
    )
    .expect("write server.ext");
    run_tool(
        "openssl",
        &[
            "x509",
            "-req",
            "-sha256",
            "-days",
            "3650",
            "-in",
            &p(dir, "server.csr"),
            "-CA",
            &p(dir, "ca.crt"),
            "-CAkey",
            &p(dir, "ca.key"),
            "-CAcreateserial",
            "-extfile",
            &p(dir, "server.ext"),
            "-out",
            &p(dir, "server.crt"),
        ],
    );
    run_tool(
        "openssl",
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-sha256",
            "-days",
            "3650",
            "-keyout",
            &p(dir, "token.key"),
            "-out",
            &p(dir, "token.crt"),
            "-subj",
            "/CN=skiff test token issuer",
        ],
    );
    let der = run_tool(
        "openssl",
        &["x509", "-in", &p(dir, "token.crt"), "-outform", "DER"],
    )
    .stdout;
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
