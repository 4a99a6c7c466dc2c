//! A ucce-sim lab for the sim and browser tests: an initialised root in a temp dir, the IIS
//! and Finesse listeners on 127.0.0.1, and helpers to install the CORS module and to write a
//! `<cors>` section by plain string editing (deliberately not corsfleet-webconfig, so these
//! tests stay independent of corsfleet's own patch engine).

#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::PathBuf;

use tokio_util::sync::CancellationToken;

/// Names the sim certificate covers; the browser maps both to 127.0.0.1.
pub const API_HOST: &str = "sim-1";
pub const FINESSE_HOST: &str = "finesse-a.lab.local";

pub struct Lab {
    _dir: tempfile::TempDir,
    pub root: PathBuf,
    pub paths: ucce_sim::SimPaths,
    pub addr: SocketAddr,
    pub finesse_addr: Option<SocketAddr>,
    token: CancellationToken,
}

impl Drop for Lab {
    fn drop(&mut self) {
        self.token.cancel();
    }
}

impl Lab {
    pub async fn start(with_finesse: bool) -> Lab {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path().to_owned();
        let paths = ucce_sim::init(&root, &[API_HOST.to_owned(), FINESSE_HOST.to_owned()])
            .expect("sim init");
        let token = CancellationToken::new();
        let loopback = SocketAddr::from(([127, 0, 0, 1], 0));
        let running = ucce_sim::start(
            ucce_sim::ServeOptions {
                root: root.clone(),
                listen: loopback,
                finesse_listen: with_finesse.then_some(loopback),
            },
            token.clone(),
        )
        .await
        .expect("sim start");
        Lab {
            _dir: dir,
            root,
            paths,
            addr: running.addr,
            finesse_addr: running.finesse_addr,
            token,
        }
    }

    /// The Config API base as a browser would address it (needs host resolver rules).
    pub fn api_base(&self) -> String {
        format!("https://{API_HOST}:{}", self.addr.port())
    }

    /// The Config API URL for the verifier: by IP, with `sim-1` as TLS server name.
    pub fn api_url_by_ip(&self, resource: &str) -> String {
        format!(
            "https://127.0.0.1:{}/unifiedconfig/config/{resource}",
            self.addr.port()
        )
    }

    /// The Finesse origin of the gadget page.
    pub fn finesse_origin(&self) -> String {
        let port = self.finesse_addr.map_or(8445, |a| a.port());
        format!("https://{FINESSE_HOST}:{port}")
    }

    pub fn tls(&self) -> corsfleet_preflight::TlsOptions {
        corsfleet_preflight::TlsOptions {
            ca_file: Some(self.paths.ca_pem.clone()),
            server_name: Some(API_HOST.to_owned()),
            ..Default::default()
        }
    }

    /// Install the IIS CORS module with the sim's msiexec shim, as the rollout does.
    pub fn install_module(&self) {
        let msi = self.root.join("C:/Windows/Temp/IISCORS_amd64.msi");
        ucce_sim::make_msi(&msi).expect("make msi");
        let args: Vec<String> = [
            r"/i",
            r"C:\Windows\Temp\IISCORS_amd64.msi",
            "/qn",
            "/norestart",
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
        let code = ucce_sim::msiexec(&self.root, &args);
        assert_eq!(code, 0, "msiexec shim failed");
    }

    /// Replace any `<cors>` section of web.config with `cors_xml` (or just remove it).
    pub fn set_cors(&self, cors_xml: Option<&str>) {
        let text = std::fs::read_to_string(&self.paths.web_config).expect("read web.config");
        let text = match (text.find("<cors"), text.find("</cors>")) {
            (Some(start), Some(end)) => {
                let line_start = text[..start].rfind('\n').map_or(0, |i| i + 1);
                let mut end = end + "</cors>".len();
                if text[end..].starts_with("\r\n") {
                    end += 2;
                }
                format!("{}{}", &text[..line_start], &text[end..])
            }
            _ => text,
        };
        let text = match cors_xml {
            Some(xml) => {
                let anchor = text
                    .find("</system.webServer>")
                    .expect("system.webServer in web.config");
                let line_start = text[..anchor].rfind('\n').map_or(0, |i| i + 1);
                let indented: String = xml.lines().map(|l| format!("        {l}\r\n")).collect();
                format!("{}{}{}", &text[..line_start], indented, &text[line_start..])
            }
            None => text,
        };
        std::fs::write(&self.paths.web_config, text).expect("write web.config");
    }
}

/// A `<cors>` section allowing `origins`, with the given methods and headers.
pub fn cors_section(
    origins: &[&str],
    credentials: bool,
    methods: &[&str],
    headers: &[&str],
) -> String {
    let mut x = String::from("<cors enabled=\"true\" failUnlistedOrigins=\"true\">\n");
    for o in origins {
        x.push_str(&format!(
            "    <add origin=\"{o}\" allowCredentials=\"{credentials}\" maxAge=\"600\">\n"
        ));
        x.push_str("        <allowHeaders allowAllRequestedHeaders=\"false\">\n");
        for h in headers {
            x.push_str(&format!("            <add header=\"{h}\" />\n"));
        }
        x.push_str("        </allowHeaders>\n        <allowMethods>\n");
        for m in methods {
            x.push_str(&format!("            <add method=\"{m}\" />\n"));
        }
        x.push_str("        </allowMethods>\n    </add>\n");
    }
    x.push_str("</cors>");
    x
}
