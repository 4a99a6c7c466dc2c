//! IIS configuration: 500.19 for invalid or unsupported configuration, re-reading on change.

use std::fs;

use crate::common::{FINESSE, SEED_CORS, Sim, auth, h};

async fn status_of_paths(sim: &Sim) -> Vec<u16> {
    let mut out = Vec::new();
    for path in ["/", "/unifiedconfig/config/agent", "/anything/else.aspx"] {
        let r = auth(sim.client.get(sim.url(path)))
            .send()
            .await
            .expect("send");
        out.push(r.status().as_u16());
    }
    let pre = sim
        .client
        .request(
            reqwest::Method::OPTIONS,
            sim.url("/unifiedconfig/config/agent"),
        )
        .header("Origin", FINESSE)
        .header("Access-Control-Request-Method", "PUT")
        .send()
        .await
        .expect("send");
    out.push(pre.status().as_u16());
    out
}

#[tokio::test]
async fn stock_server_has_no_cors_and_preflight_meets_authentication() {
    let sim = Sim::start().await;
    let r = auth(sim.client.get(sim.url("/unifiedconfig/config/agent")))
        .header("Origin", FINESSE)
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 200);
    assert_eq!(h(&r, "access-control-allow-origin"), None);
    let pre = sim
        .client
        .request(
            reqwest::Method::OPTIONS,
            sim.url("/unifiedconfig/config/agent"),
        )
        .header("Origin", FINESSE)
        .header("Access-Control-Request-Method", "PUT")
        .send()
        .await
        .expect("send");
    assert_eq!(
        pre.status(),
        401,
        "no module: the preflight reaches authentication"
    );
    sim.stop().await;
}

#[tokio::test]
async fn cors_section_without_module_breaks_every_path_with_500_19() {
    let sim = Sim::start().await;
    sim.write_cors(SEED_CORS);
    assert_eq!(status_of_paths(&sim).await, vec![500, 500, 500, 500]);
    let body = sim
        .client
        .get(sim.url("/unifiedconfig/config/agent"))
        .send()
        .await
        .expect("send")
        .text()
        .await
        .expect("body");
    assert!(body.contains("<title>HTTP Error 500.19 - Internal Server Error</title>"));
    assert!(body.contains("0x8007000d"));
    assert!(body.contains(r"\\?\C:\icm\tomcat\bin\i386\web.config"));
    assert!(body.contains("missing a section declaration"));

    // Installing the module fixes it without a restart.
    sim.install_module();
    let r = auth(sim.client.get(sim.url("/unifiedconfig/config/agent")))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 200);
    sim.stop().await;
}

#[tokio::test]
async fn malformed_web_config_is_500_19_until_a_patch_restores_it() {
    let sim = Sim::start().await;
    sim.install_module();
    fs::write(
        &sim.paths.web_config,
        "<configuration>\r\n<system.webServer>\r\n<cors enabled=\"true\">\r\n</system.webServer>\r\n</configuration>\r\n",
    )
    .expect("write");
    assert_eq!(status_of_paths(&sim).await, vec![500, 500, 500, 500]);
    let body = sim
        .client
        .get(sim.url("/"))
        .send()
        .await
        .expect("send")
        .text()
        .await
        .expect("body");
    assert!(body.contains("Error Code</th><td>0x8007000d"), "{body}");
    assert!(body.contains("not well-formed"));

    ucce_sim::restore_stock_web_config(sim.root()).expect("restore");
    assert_eq!(status_of_paths(&sim).await, vec![404, 200, 404, 401]);
    sim.stop().await;
}

#[tokio::test]
async fn schema_errors_and_duplicates_are_500_19_with_their_codes() {
    let sim = Sim::start().await;
    sim.install_module();
    sim.write_cors(r#"<cors enabled="true" failUnlistedOrigin="true"><add origin="*"/></cors>"#);
    let body = sim
        .client
        .get(sim.url("/"))
        .send()
        .await
        .expect("send")
        .text()
        .await
        .expect("body");
    assert!(
        body.contains("Unrecognized attribute 'failUnlistedOrigin'"),
        "{body}"
    );
    sim.write_cors(
        r#"<cors enabled="true"><add origin="https://a"/><add origin="https://a"/></cors>"#,
    );
    let r = sim.client.get(sim.url("/")).send().await.expect("send");
    assert_eq!(r.status(), 500);
    let body = r.text().await.expect("body");
    assert!(body.contains("0x800700b7"), "{body}");
    sim.stop().await;
}

#[tokio::test]
async fn broken_application_host_config_names_that_file() {
    let sim = Sim::start().await;
    fs::write(
        &sim.paths.app_host_config,
        "<configuration><configSections>",
    )
    .expect("write");
    let r = sim.client.get(sim.url("/")).send().await.expect("send");
    assert_eq!(r.status(), 500);
    let body = r.text().await.expect("body");
    assert!(
        body.contains(r"inetsrv\config\applicationHost.config"),
        "{body}"
    );
    sim.stop().await;
}
