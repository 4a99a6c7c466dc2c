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
