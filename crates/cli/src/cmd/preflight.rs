//! `corsfleet preflight URL --origin O ...`: judge one cross-origin request the way a browser
//! would, and exit 0 when the verdict meets `--expect`, 3 when it does not, 4 when the server
//! cannot be reached (DNS, connect, TLS, timeout) and 2 on bad flags. Explanations go to
//! stderr in Chromium's console wording; `--output json` prints the whole verdict on stdout.
//! See docs/preflight.md.

use std::path::PathBuf;
use std::time::Duration;

use corsfleet_preflight::{
    Exchange, Expectation, PreflightError, Probe, Timeouts, TlsOptions, Verdict, Verifier,
};

use crate::exit::{CliError, Outcome};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ExpectArg {
    Allowed,
    Denied,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PreflightOutput {
    /// Human-readable explanation on stderr.
    Text,
    /// The verdict as JSON on stdout (explanations included).
    Json,
}

#[derive(Debug, clap::Args)]
pub struct PreflightArgs {
    /// The API resource, e.g. https://aw-a.lab.local/unifiedconfig/config/agent
    pub url: String,
    /// The page's origin, e.g. https://finesse-a.lab.local:8445
    #[arg(long)]
    pub origin: String,
    /// Request method the gadget uses. PUT/DELETE are preflighted, and the actual request is
    /// then sent as GET so that nothing changes.
    #[arg(long, default_value = "GET")]
    pub method: String,
    /// A request header the gadget sets: `Name` or `Name: value` (repeatable).
    #[arg(long = "header", short = 'H', value_name = "HEADER")]
    pub headers: Vec<String>,
    /// The request carries credentials (fetch `credentials: "include"`).
    #[arg(long)]
    pub credentials: bool,
    /// What the browser is expected to do; the exit code says whether it did.
    #[arg(long, value_enum, default_value_t = ExpectArg::Allowed)]
    pub expect: ExpectArg,
    /// PEM file with the CA (or self-signed server) certificates to trust.
    #[arg(long, value_name = "FILE")]
    pub ca_file: Option<PathBuf>,
    /// Verify the certificate against this name (when the URL uses an IP address).
    #[arg(long, value_name = "NAME")]
    pub tls_server_name: Option<String>,
    /// Trust exactly the server certificate with this SHA-256 fingerprint (hex, colons allowed).
    #[arg(long, value_name = "HEX")]
    pub pin_sha256: Option<String>,
    /// Do not verify the server certificate at all (dangerous; warns).
    #[arg(long)]
    pub insecure: bool,
    /// Send requests through this proxy (by default no proxy is used, whatever the environment).
    #[arg(long, value_name = "URL")]
    pub proxy: Option<String>,
    /// Connect timeout in seconds.
    #[arg(long, value_name = "SECS", default_value_t = 5.0)]
    pub connect_timeout: f64,
    /// Read timeout in seconds.
    #[arg(long, value_name = "SECS", default_value_t = 10.0)]
    pub read_timeout: f64,
    /// Output format.
    #[arg(long, value_enum, default_value_t = PreflightOutput::Text)]
    pub output: PreflightOutput,
}

fn seconds(flag: &str, v: f64) -> Result<Duration, CliError> {
    Duration::try_from_secs_f64(v)
        .ok()
        .filter(|d| !d.is_zero())
        .ok_or_else(|| {
            CliError::input(format!(
                "--{flag} must be a positive number of seconds, got {v}"
            ))
        })
}

pub fn run(args: PreflightArgs) -> Result<Outcome, CliError> {
    let timeouts = Timeouts {
        connect: seconds("connect-timeout", args.connect_timeout)?,
        read: seconds("read-timeout", args.read_timeout)?,
    };
    let tls = TlsOptions {
        ca_file: args.ca_file.clone(),
        server_name: args.tls_server_name.clone(),
        pin_sha256: args.pin_sha256.clone(),
        insecure: args.insecure,
    };
    let expectation = match args.expect {
        ExpectArg::Allowed => Expectation::Allowed,
        ExpectArg::Denied => Expectation::Denied,
    };
    let probe = Probe {
        url: args.url.clone(),
        origin: args.origin.clone(),
        method: args.method.clone(),
        headers: args.headers.clone(),
        credentials: args.credentials,
    };
    if args.insecure {
        warn_line(
            "--insecure: the server certificate is NOT verified; anyone on the path can answer for it",
        );
    }

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(CliError::internal)?;
    let result = runtime.block_on(async {
        let verifier = Verifier::with_proxy(&tls, timeouts, args.proxy.as_deref())?;
        verifier.check(&probe).await
    });

    match result {
        Ok(verdict) => {
            let met = verdict.meets(expectation);
            match args.output {
                PreflightOutput::Json => print_json(&serde_json::json!({
                    "url": probe.url,
                    "origin": probe.origin,
                    "method": probe.method,
                    "expect": expectation,
                    "met": met,
                    "verdict": verdict,
                }))?,
                PreflightOutput::Text => explain(&probe, &verdict, expectation, met),
            }
            Ok(if met {
                Outcome::Success
            } else {
                Outcome::Failed
            })
        }
        Err(err @ PreflightError::Transport { .. }) => {
            if args.output == PreflightOutput::Json {
                let kind = match &err {
                    PreflightError::Transport { kind, .. } => Some(*kind),
                    _ => None,
                };
                print_json(&serde_json::json!({
                    "url": probe.url,
                    "origin": probe.origin,
                    "method": probe.method,
                    "expect": expectation,
                    "met": false,
                    "error": { "kind": kind, "message": err.to_string() },
                }))?;
            }
            error_line(&format!("unreachable: {err}"));
            Ok(Outcome::Unreachable)
        }
        Err(err @ PreflightError::Client(_)) => Err(CliError::internal(err)),
        Err(err) => Err(input_error(err)),
    }
}

fn input_error(err: PreflightError) -> CliError {
    match err {
        PreflightError::NoRoots => CliError::input_with_hint(
            err.to_string(),
            "UCCE servers usually have self-signed certificates: pass --ca-file or --pin-sha256",
        ),
        PreflightError::InvalidOrigin { .. } => CliError::input_with_hint(
            err.to_string(),
            "an origin looks like https://finesse-a.example.com:8445",
        ),
        other => CliError::input(other.to_string()),
    }
}

#[allow(clippy::print_stdout)]
fn print_json(value: &serde_json::Value) -> Result<(), CliError> {
    let text = serde_json::to_string_pretty(value).map_err(CliError::internal)?;
    println!("{text}");
    Ok(())
}

#[allow(clippy::print_stderr)]
fn warn_line(msg: &str) {
    eprintln!("warning: {msg}");
}

#[allow(clippy::print_stderr)]
fn error_line(msg: &str) {
    eprintln!("error: {msg}");
}

fn describe_exchange(label: &str, ex: &Exchange, out: &mut String) {
    use std::fmt::Write as _;
    let _ = writeln!(out, "{label}: {} {} -> {}", ex.method, ex.url, ex.status);
    for (n, v) in &ex.request_headers {
        let _ = writeln!(out, "  > {n}: {v}");
    }
    for (n, v) in ex
        .headers
        .iter()
        .filter(|(n, _)| n.starts_with("access-control-") || n == "vary")
    {
        let _ = writeln!(out, "  < {n}: {v}");
    }
}

#[allow(clippy::print_stderr)]
fn explain(probe: &Probe, verdict: &Verdict, expectation: Expectation, met: bool) {
    use std::fmt::Write as _;
    let mut out = String::new();
    if let Some(p) = &verdict.preflight {
        describe_exchange("preflight", p, &mut out);
    } else {
        let _ = writeln!(out, "preflight: not needed (safelisted method and headers)");
    }
    if let Some(a) = &verdict.actual {
        describe_exchange("actual", a, &mut out);
    }
    if let Some(age) = verdict.max_age {
        let _ = writeln!(out, "max-age: {age}s");
    }
    for f in &verdict.failures {
        let _ = writeln!(
            out,
            "blocked: Access to fetch at '{}' from origin '{}' has been blocked by CORS policy: {}",
            probe.url, probe.origin, f.message
        );
        if let Some(h) = &f.hint {
            let _ = writeln!(out, "  hint: {h}");
        }
    }
    for n in &verdict.notes {
        let _ = writeln!(out, "note: {n}");
    }
    let said = if verdict.allowed { "allowed" } else { "denied" };
    let wanted = match expectation {
        Expectation::Allowed => "allowed",
        Expectation::Denied => "denied",
    };
    let _ = writeln!(
        out,
        "verdict: {said} (expected {wanted}) — {}",
        if met { "ok" } else { "expectation not met" }
    );
    eprint!("{out}");
}
