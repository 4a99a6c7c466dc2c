//! The CORS module over HTTPS: preflights before authentication, rule selection, actual
//! requests, and scripted wrong answers.

use crate::common::{FINESSE, SEED_CORS, Sim, auth, h};

fn preflight(sim: &Sim, origin: &str, method: &str) -> reqwest::RequestBuilder {
    sim.client
        .request(
            reqwest::Method::OPTIONS,
            sim.url("/unifiedconfig/config/agent/5000"),
        )
        .header("Origin", origin)
        .header("Access-Control-Request-Method", method)
        .header(
            "Access-Control-Request-Headers",
            "authorization,content-type",
        )
}

async fn installed_with(cors: &str) -> Sim {
    let sim = Sim::start().await;
    sim.install_module();
    sim.write_cors(cors);
    sim
}

#[tokio::test]
async fn put_preflight_is_answered_with_204_before_authentication() {
    let sim = installed_with(SEED_CORS).await;
    let r = preflight(&sim, FINESSE, "PUT").send().await.expect("send");
    assert_eq!(r.status(), 204);
    assert_eq!(
        h(&r, "access-control-allow-origin").as_deref(),
        Some(FINESSE)
    );
    assert_eq!(
        h(&r, "access-control-allow-headers").as_deref(),
        Some("authorization,content-type")
    );
    assert_eq!(
        h(&r, "access-control-allow-methods").as_deref(),
        Some("GET,PUT")
    );
    assert_eq!(
        h(&r, "access-control-allow-credentials").as_deref(),
        Some("true")
    );
    assert_eq!(h(&r, "access-control-max-age").as_deref(), Some("120"));
    assert_eq!(h(&r, "vary").as_deref(), Some("Origin"));
    assert_eq!(h(&r, "www-authenticate"), None);
    sim.stop().await;
}

#[tokio::test]
async fn unlisted_origin_gets_403_without_cors_headers() {
    let sim = installed_with(SEED_CORS).await;
    for origin in [
        "https://evil.example",
        "https://lab12finessea.gaman.local",
        "https://LAB12FINESSEA.gaman.local:8445",
    ] {
        let r = preflight(&sim, origin, "GET").send().await.expect("send");
        assert_eq!(r.status(), 403, "{origin}");
        assert_eq!(h(&r, "access-control-allow-origin"), None);
        let actual = auth(sim.client.get(sim.url("/unifiedconfig/config/agent")))
            .header("Origin", origin)
            .send()
            .await
            .expect("send");
        assert_eq!(actual.status(), 403, "actual request from {origin}");
    }
    sim.stop().await;
}

#[tokio::test]
async fn actual_requests_keep_authentication_and_get_cors_headers() {
    let sim = installed_with(SEED_CORS).await;
    let anon = sim
        .client
        .get(sim.url("/unifiedconfig/config/agent"))
        .header("Origin", FINESSE)
        .send()
        .await
        .expect("send");
    assert_eq!(anon.status(), 401);
    assert_eq!(
        h(&anon, "access-control-allow-origin").as_deref(),
        Some(FINESSE)
    );
    let r = auth(sim.client.get(sim.url("/unifiedconfig/config/agent")))
        .header("Origin", FINESSE)
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 200);
    assert_eq!(
        h(&r, "access-control-allow-origin").as_deref(),
        Some(FINESSE)
    );
    assert_eq!(
        h(&r, "access-control-expose-headers").as_deref(),
        Some("Location")
    );
    assert_eq!(
        h(&r, "access-control-allow-credentials").as_deref(),
        Some("true")
    );
    assert_eq!(h(&r, "access-control-allow-methods"), None);
    assert_eq!(h(&r, "vary").as_deref(), Some("Origin"));
    sim.stop().await;
}

#[tokio::test]
async fn lone_star_rule_answers_star() {
    let sim = installed_with(r#"<cors enabled="true"><add origin="*" /></cors>"#).await;
    let r = preflight(&sim, "https://anyone.example", "GET")
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 204);
    assert_eq!(h(&r, "access-control-allow-origin").as_deref(), Some("*"));
    assert_eq!(h(&r, "vary"), None);
    // No allowMethods configured: no Allow-Methods header [assumed], so a browser refuses PUT.
    assert_eq!(h(&r, "access-control-allow-methods"), None);
    assert_eq!(h(&r, "access-control-allow-headers"), None);
    sim.stop().await;
}

#[tokio::test]
async fn most_specific_rule_wins_over_wildcards() {
    let sim = installed_with(
        r#"<cors enabled="true" failUnlistedOrigins="true">
            <add origin="https://*.gaman.local:8445" allowed="false" />
            <add origin="https://lab12finessea.gaman.local:8445" />
        </cors>"#,
    )
    .await;
    let ok = preflight(&sim, FINESSE, "GET").send().await.expect("send");
    assert_eq!(ok.status(), 204);
    let denied = preflight(&sim, "https://lab12finesseb.gaman.local:8445", "GET")
        .send()
        .await
        .expect("send");
    assert_eq!(denied.status(), 403);
    sim.stop().await;
}

#[tokio::test]
async fn unlisted_origin_passes_through_when_not_failing() {
    let sim =
        installed_with(r#"<cors enabled="true"><add origin="https://other.example" /></cors>"#)
            .await;
    let r = preflight(&sim, FINESSE, "PUT").send().await.expect("send");
    assert_eq!(r.status(), 401, "reaches authentication like any OPTIONS");
    assert_eq!(h(&r, "access-control-allow-origin"), None);
    sim.stop().await;
}

#[tokio::test]
async fn disabled_section_does_nothing() {
    let sim = installed_with(r#"<cors enabled="false"><add origin="*" /></cors>"#).await;
    let r = preflight(&sim, FINESSE, "GET").send().await.expect("send");
    assert_eq!(r.status(), 401);
    sim.stop().await;
}

#[tokio::test]
async fn fault_knobs_script_wrong_preflight_answers() {
    let sim = installed_with(SEED_CORS).await;
    std::fs::write(
        &sim.paths.faults,
        "server:\n  preflight:\n    status: 200\n    drop_headers: [Access-Control-Allow-Methods]\n    set_headers:\n      Access-Control-Allow-Origin: https://wrong.example\n",
    )
    .expect("write faults");
    let r = preflight(&sim, FINESSE, "PUT").send().await.expect("send");
    assert_eq!(r.status(), 200);
    assert_eq!(h(&r, "access-control-allow-methods"), None);
    assert_eq!(
        h(&r, "access-control-allow-origin").as_deref(),
        Some("https://wrong.example")
    );
    std::fs::remove_file(&sim.paths.faults).expect("rm");
    let r = preflight(&sim, FINESSE, "PUT").send().await.expect("send");
    assert_eq!(r.status(), 204);
    sim.stop().await;
}

#[tokio::test]
async fn a_cce_patch_restoring_web_config_removes_cors() {
    let sim = installed_with(SEED_CORS).await;
    assert_eq!(
        preflight(&sim, FINESSE, "PUT")
            .send()
            .await
            .expect("send")
            .status(),
        204
    );
    ucce_sim::restore_stock_web_config(sim.root()).expect("restore");
    assert_eq!(
        preflight(&sim, FINESSE, "PUT")
            .send()
            .await
            .expect("send")
            .status(),
        401
    );
    sim.stop().await;
}
