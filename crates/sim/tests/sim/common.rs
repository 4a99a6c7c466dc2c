//! Shared helpers: an initialised root, a running simulator and an HTTPS client that trusts
//! the root's test CA.

use std::{io::BufReader, path::Path, sync::Arc};

use tokio_util::sync::CancellationToken;
use ucce_sim::{DEFAULT_PASSWORD, DEFAULT_USER, RunningSim, ServeOptions, SimPaths};

pub const FINESSE: &str = "https://lab12finessea.gaman.local:8445";

pub struct Sim {
    pub dir: tempfile::TempDir,
    pub paths: SimPaths,
    pub running: RunningSim,
    pub token: CancellationToken,
    pub client: reqwest::Client,
    pub base: String,
}

impl Sim {
    pub async fn start() -> Sim {
        let dir = tempfile::tempdir().expect("tempdir");
        let paths = ucce_sim::init(dir.path(), &["ucce-a.lab.local".into()]).expect("init");
        let token = CancellationToken::new();
        let running = ucce_sim::start(
            ServeOptions {
                root: dir.path().to_path_buf(),
                listen: "127.0.0.1:0".parse().expect("addr"),
                finesse_listen: Some("127.0.0.1:0".parse().expect("addr")),
            },
            token.clone(),
        )
        .await
        .expect("start");
        let client = client_for(&paths.ca_pem);
        let base = format!("https://127.0.0.1:{}", running.addr.port());
        Sim {
            dir,
            paths,
            running,
            token,
            client,
            base,
        }
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// Installs the module through the msiexec shim.
    pub fn install_module(&self) {
        let pkg = self.paths.temp_dir.join("IISCORS_amd64.msi");
        ucce_sim::make_msi(&pkg).expect("make msi");
        let code = ucce_sim::msiexec(
            self.root(),
            &args(&[
                "/i",
                r"C:\Windows\Temp\IISCORS_amd64.msi",
                "/qn",
                "/norestart",
                "/l*v",
                r"C:\Windows\Temp\corsfleet-msi.log",
            ]),
        );
        assert_eq!(code, 0);
    }

    /// Puts `cors` (a `<cors>` element) into the stock web.config.
    pub fn write_cors(&self, cors: &str) {
        let patched = ucce_sim::tree::STOCK_WEB_CONFIG.replace(
            "    <system.webServer>\r\n",
            &format!("    <system.webServer>\r\n{cors}\r\n"),
        );
        std::fs::write(&self.paths.web_config, patched).expect("write web.config");
    }

    pub async fn stop(self) {
        self.token.cancel();
        self.running.wait().await.expect("clean shutdown");
    }
}

pub fn args(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

pub fn client_for(ca: &Path) -> reqwest::Client {
    let mut roots = rustls::RootCertStore::empty();
    let f = std::fs::File::open(ca).expect("ca file");
    for cert in rustls_pemfile::certs(&mut BufReader::new(f)) {
        roots.add(cert.expect("pem")).expect("add root");
    }
    let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("versions")
    .with_root_certificates(roots)
    .with_no_client_auth();
    reqwest::Client::builder()
        .use_preconfigured_tls(tls)
        .build()
        .expect("client")
}

/// The seed configuration of the issue (Appendix A), plus methods so PUT passes.
pub const SEED_CORS: &str = r#"        <cors enabled="true" failUnlistedOrigins="true">
            <add origin="https://lab12finessea.gaman.local:8445" allowed="true" allowCredentials="true" maxAge="120">
                <allowHeaders allowAllRequestedHeaders="true" />
                <allowMethods>
                    <add method="GET" />
                    <add method="PUT" />
                </allowMethods>
                <exposeHeaders>
                    <add header="Location" />
                </exposeHeaders>
            </add>
        </cors>"#;

pub fn auth(rb: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
    rb.basic_auth(DEFAULT_USER, Some(DEFAULT_PASSWORD))
}

pub fn h(resp: &reqwest::Response, name: &str) -> Option<String> {
    resp.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}
