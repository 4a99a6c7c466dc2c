//! Against ucce-sim, an independently written double of IIS + the CORS module: the rollout
//! scenarios the verifier exists for.

use corsfleet_preflight::{Probe, Rule, Timeouts, Verdict, Verifier};

use crate::common::{Lab, cors_section};

const ALL_METHODS: &[&str] = &["GET", "PUT", "POST", "DELETE"];
const GADGET_HEADERS: &[&str] = &["authorization", "content-type", "accept"];

/// The PUT a reskilling gadget sends (Basic auth, XML body), with credentials.
fn put_probe(lab: &Lab, origin: &str) -> Probe {
    Probe {
        url: lab.api_url_by_ip("agent/5000"),
        origin: origin.to_owned(),
        method: "PUT".to_owned(),
        headers: vec![
            "Authorization".into(),
            "Content-Type: application/xml".into(),
        ],
        credentials: true,
    }
}

async fn check(lab: &Lab, probe: &Probe) -> Verdict {
    Verifier::new(&lab.tls(), Timeouts::default())
        .expect("verifier")
        .check(probe)
        .await
        .expect("sim reachable")
}

fn rules(v: &Verdict) -> Vec<Rule> {
    v.failures.iter().map(|f| f.rule).collect()
}

#[tokio::test]
async fn before_rollout_put_is_denied() {
    let lab = Lab::start(false).await;
    let v = check(&lab, &put_probe(&lab, &lab.finesse_origin())).await;
    assert!(!v.allowed, "{v:?}");
    assert!(v.preflight_sent);
    assert!(rules(&v).contains(&Rule::AllowOriginMissing), "{v:?}");
}

#[tokio::test]
async fn after_rollout_put_and_get_are_allowed_and_unlisted_origin_is_denied() {
    let lab = Lab::start(false).await;
    let origin = lab.finesse_origin();
    lab.install_module();
    lab.set_cors(Some(&cors_section(
        &[&origin],
        true,
        ALL_METHODS,
        GADGET_HEADERS,
    )));

    let v = check(&lab, &put_probe(&lab, &origin)).await;
    assert!(v.allowed, "{v:#?}");
    assert_eq!(v.max_age, Some(600));
    assert_eq!(v.actual.as_ref().map(|a| a.method.as_str()), Some("GET"));

    let get = Probe {
        method: "GET".into(),
        headers: vec!["Authorization".into()],
        ..put_probe(&lab, &origin)
    };
    assert!(check(&lab, &get).await.allowed);

    let v = check(&lab, &put_probe(&lab, "https://finesse-x.lab.local:8445")).await;
    assert!(!v.allowed);
    assert_eq!(rules(&v).first(), Some(&Rule::AllowOriginMissing), "{v:#?}");
}

#[tokio::test]
async fn methods_restricted_to_get_deny_put_with_an_explanation() {
    let lab = Lab::start(false).await;
    let origin = lab.finesse_origin();
    lab.install_module();
    lab.set_cors(Some(&cors_section(
        &[&origin],
        true,
        &["GET"],
        GADGET_HEADERS,
    )));
    let v = check(&lab, &put_probe(&lab, &origin)).await;
    assert_eq!(rules(&v), [Rule::MethodNotAllowed], "{v:#?}");
    assert_eq!(
        v.failures[0].message,
        "Method PUT is not allowed by Access-Control-Allow-Methods in preflight response."
    );
    let get = Probe {
        method: "GET".into(),
        headers: vec!["Authorization".into()],
        ..put_probe(&lab, &origin)
    };
    assert!(check(&lab, &get).await.allowed);
}
