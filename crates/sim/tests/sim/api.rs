//! The Config API over HTTPS: Basic authentication, listing, paging, changeStamp, and the
//! Finesse gadget listener.

use crate::common::{Sim, auth, h};

#[tokio::test]
async fn requires_basic_auth_from_the_users_file() {
    let sim = Sim::start().await;
    let url = sim.url("/unifiedconfig/config/agent");
    let r = sim.client.get(&url).send().await.expect("send");
    assert_eq!(r.status(), 401);
    assert!(h(&r, "www-authenticate").is_some_and(|v| v.starts_with("Basic")));
    let r = sim
        .client
        .get(&url)
        .basic_auth(ucce_sim::DEFAULT_USER, Some("wrong"))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 401);
    std::fs::write(&sim.paths.users, "ops@lab.local:s3cret\n").expect("users");
    let r = sim
        .client
        .get(&url)
        .basic_auth("OPS@lab.local", Some("s3cret"))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 200);
    let r = auth(sim.client.get(&url)).send().await.expect("send");
    assert_eq!(
        r.status(),
        401,
        "the default user was removed from the file"
    );
    sim.stop().await;
}

#[tokio::test]
async fn lists_pages_gets_and_updates_with_change_stamp() {
    let sim = Sim::start().await;
    let list = auth(
        sim.client
            .get(sim.url("/unifiedconfig/config/agent?startIndex=20&resultsPerPage=5")),
    )
    .send()
    .await
    .expect("send")
    .text()
    .await
    .expect("body");
    assert!(list.contains("<startIndex>20</startIndex>"));
    assert!(list.contains("<totalResults>30</totalResults>"));
    assert_eq!(list.matches("<agent>").count(), 5);
    assert!(list.contains("/unifiedconfig/config/agent/5020"));

    for res in ["skillgroup", "calltype", "dialednumber"] {
        let r = auth(
            sim.client
                .get(sim.url(&format!("/unifiedconfig/config/{res}"))),
        )
        .send()
        .await
        .expect("send");
        assert_eq!(r.status(), 200, "{res}");
    }

    let url = sim.url("/unifiedconfig/config/dialednumber/5300");
    let put = |stamp: u64| {
        auth(sim.client.put(&url))
            .header("Content-Type", "application/xml")
            .body(format!(
                "<dialedNumber><changeStamp>{stamp}</changeStamp><callType>/unifiedconfig/config/calltype/5204</callType></dialedNumber>"
            ))
            .send()
    };
    assert_eq!(put(0).await.expect("send").status(), 200);
    let stale = put(0).await.expect("send");
    assert_eq!(stale.status(), 409);
    assert!(stale.text().await.expect("body").contains("<apiErrors>"));
    let now = auth(sim.client.get(&url))
        .send()
        .await
        .expect("send")
        .text()
        .await
        .expect("body");
    assert!(now.contains("<changeStamp>1</changeStamp>"));
    assert!(now.contains("calltype/5204"));
    let missing = auth(sim.client.get(sim.url("/unifiedconfig/config/agent/1")))
        .send()
        .await
        .expect("send");
    assert_eq!(missing.status(), 404);
    sim.stop().await;
}

#[tokio::test]
async fn finesse_listener_serves_the_gadget() {
    let sim = Sim::start().await;
    let port = sim.running.finesse_addr.expect("finesse listener").port();
    let r = sim
        .client
        .get(format!(
            "https://127.0.0.1:{port}/desktop/gadget.html?api=x"
        ))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 200);
    assert!(h(&r, "content-type").is_some_and(|c| c.starts_with("text/html")));
    let body = r.text().await.expect("body");
    assert!(body.contains(r#"<pre id="result">pending</pre>"#));
    assert!(body.contains("fetch(url"));
    let nf = sim
        .client
        .get(format!(
            "https://127.0.0.1:{port}/unifiedconfig/config/agent"
        ))
        .send()
        .await
        .expect("send");
    assert_eq!(
        nf.status(),
        404,
        "the Finesse origin does not serve the API"
    );
    sim.stop().await;
}

/// The browser proof in miniature: headless Chromium loads the gadget from the Finesse origin
/// and calls the API through real preflights. A missing Chromium fails the test unless
/// `CORSFLEET_SKIP_BROWSER=1` says so explicitly (as in the verifier's browser test).
#[tokio::test]
async fn chromium_gadget_put_passes_only_when_methods_are_allowed() {
    let Some(chromium) = ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find(|c| {
            std::process::Command::new(c)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        })
    else {
        assert_eq!(
            std::env::var("CORSFLEET_SKIP_BROWSER").as_deref(),
            Ok("1"),
            "chromium not found on PATH: apt-get install chromium, or set CORSFLEET_SKIP_BROWSER=1 to skip explicitly"
        );
        eprintln!("SKIPPED: chromium not found and CORSFLEET_SKIP_BROWSER=1");
        return;
    };
    let sim = Sim::start().await;
    sim.install_module();
    let finesse = sim.running.finesse_addr.expect("finesse");
    let origin = format!("https://127.0.0.1:{}", finesse.port());
    let rule = |methods: &str| {
        format!(
            r#"<cors enabled="true" failUnlistedOrigins="true"><add origin="{origin}" allowCredentials="true"><allowHeaders allowAllRequestedHeaders="true"/>{methods}</add></cors>"#
        )
    };
    let dump = |method: &'static str| {
        let url = format!(
            "{origin}/desktop/gadget.html?api={}&method={method}&resource=agent/5001",
            sim.base
        );
        let chromium = chromium.to_string();
        async move {
            let out = tokio::process::Command::new(chromium)
                .args([
                    "--headless",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--ignore-certificate-errors",
                    "--virtual-time-budget=5000",
                    "--dump-dom",
                    &url,
                ])
                .output()
                .await
                .expect("run chromium");
            let dom = String::from_utf8_lossy(&out.stdout).into_owned();
            let start = dom.find(r#"<pre id="result">"#).expect("result element") + 17;
            let end = dom[start..].find("</pre>").expect("end") + start;
            dom[start..end].to_string()
        }
    };
    sim.write_cors(&rule(
        r#"<allowMethods><add method="GET"/><add method="PUT"/></allowMethods>"#,
    ));
    let put = dump("PUT").await;
    assert!(
        put.starts_with(r#"{"ok":true,"status":200,"step":"PUT""#),
        "{put}"
    );
    sim.write_cors(&rule(""));
    let get = dump("GET").await;
    assert!(
        get.starts_with(r#"{"ok":true,"status":200,"step":"GET""#),
        "{get}"
    );
    let put = dump("PUT").await;
    assert!(
        put.starts_with(r#"{"ok":false,"error":"TypeError: Failed to fetch""#),
        "{put}"
    );
    sim.stop().await;
}

#[tokio::test]
async fn certificate_covers_the_init_names_and_survives_a_second_init() {
    let sim = Sim::start().await;
    let ca_before = std::fs::read(&sim.paths.ca_pem).expect("ca");
    // A second init (new name) keeps the CA and re-issues the server certificate.
    ucce_sim::init(sim.root(), &["ucce-b.lab.local".into()]).expect("re-init");
    assert_eq!(std::fs::read(&sim.paths.ca_pem).expect("ca"), ca_before);
    let restarted = ucce_sim::start(
        ucce_sim::ServeOptions {
            root: sim.root().to_path_buf(),
            listen: "127.0.0.1:0".parse().expect("addr"),
            finesse_listen: None,
        },
        sim.token.clone(),
    )
    .await
    .expect("start");
    let addr = restarted.addr;
    let by_name = |name: &str| {
        let mut roots = rustls::RootCertStore::empty();
        let f = std::fs::File::open(&sim.paths.ca_pem).expect("ca");
        for c in rustls_pemfile::certs(&mut std::io::BufReader::new(f)) {
            roots.add(c.expect("pem")).expect("root");
        }
        let tls = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
        let client = reqwest::Client::builder()
            .use_preconfigured_tls(tls)
            .resolve(name, addr)
            .build()
            .expect("client");
        let url = format!("https://{name}:{}/unifiedconfig/config/agent", addr.port());
        async move { client.get(url).send().await.map(|r| r.status().as_u16()) }
    };
    assert_eq!(by_name("ucce-b.lab.local").await.expect("trusted"), 401);
    assert_eq!(by_name("localhost").await.expect("trusted"), 401);
    assert!(
        by_name("not-in-cert.lab.local").await.is_err(),
        "name mismatch must fail TLS"
    );
    sim.stop().await;
    restarted.wait().await.expect("stopped");
}
