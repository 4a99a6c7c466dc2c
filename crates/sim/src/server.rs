//! The HTTPS side: IIS with the CORS module in front of the Config API, and optionally the
//! Finesse gadget origin, each on its own listener.
//!
//! Request pipeline, in IIS's order (DOMAIN.md "IIS CORS Module: runtime"):
//! 1. configuration: re-read when changed; invalid → 500.19 for every path;
//! 2. CORS module (when installed and enabled): preflights answered with 204 (or 403) before
//!    authentication; unlisted origins 403 with `failUnlistedOrigins`;
//! 3. Basic authentication (401 + `WWW-Authenticate`) and the Config API;
//! 4. CORS headers added to the response of an actual request.
//!
//! One tracing line per request (target `ucce_sim::access`). Listeners bind before
//! [`start`] returns (port 0 is fine) and stop when the cancellation token fires.

use std::{
    fs,
    net::SocketAddr,
    path::PathBuf,
    sync::Arc,
    time::{Duration, Instant},
};

use axum::{
    Router,
    body::Body,
    extract::{ConnectInfo, Request, State},
    http::{HeaderName, HeaderValue, StatusCode, header},
    response::Response,
};
use axum_server::{Handle, tls_rustls::RustlsConfig};
use base64::Engine;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::{
    DEFAULT_PASSWORD, DEFAULT_USER, SimError,
    configapi::{self, Store},
    cors::{CorsDecision, CorsRequest},
    faults, finesse,
    iis::{self, ConfigWatcher, SiteConfig},
    tls,
    tree::SimPaths,
};

/// Where to serve.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// An initialised server root (see [`crate::init`]).
    pub root: PathBuf,
    /// IIS listener.
    pub listen: SocketAddr,
    /// Finesse gadget listener, if wanted.
    pub finesse_listen: Option<SocketAddr>,
}

/// A started simulator.
#[derive(Debug)]
pub struct RunningSim {
    /// The IIS listener's bound address.
    pub addr: SocketAddr,
    /// The Finesse listener's bound address.
    pub finesse_addr: Option<SocketAddr>,
    tasks: Vec<JoinHandle<Result<(), SimError>>>,
}

impl RunningSim {
    /// Waits until every listener stopped (after the cancellation token fired).
    pub async fn wait(self) -> Result<(), SimError> {
        for t in self.tasks {
            t.await??;
        }
        Ok(())
    }
}

#[derive(Debug)]
struct AppState {
    paths: SimPaths,
    watcher: ConfigWatcher,
    store: Store,
}

/// Binds the listeners, spawns the servers and returns at once.
pub async fn start(
    opts: ServeOptions,
    shutdown: CancellationToken,
) -> Result<RunningSim, SimError> {
    let paths = SimPaths::new(&opts.root);
    let tls = RustlsConfig::from_config(tls::server_config(&paths)?);
    let state = Arc::new(AppState {
        watcher: ConfigWatcher::new(paths.clone()),
        paths,
        store: Store::seeded(),
    });
    let iis_app = Router::new().fallback(iis_handler).with_state(state);
    let (addr, iis_task) = spawn_listener(opts.listen, tls.clone(), iis_app, shutdown.clone())?;
    let mut tasks = vec![iis_task];
    let mut finesse_addr = None;
    if let Some(f) = opts.finesse_listen {
        let app = Router::new().fallback(finesse_handler);
        let (a, t) = spawn_listener(f, tls, app, shutdown)?;
        finesse_addr = Some(a);
        tasks.push(t);
    }
    tracing::info!(%addr, finesse = ?finesse_addr, root = %opts.root.display(), "ucce-sim listening");
    Ok(RunningSim {
        addr,
        finesse_addr,
        tasks,
    })
}

fn spawn_listener(
    listen: SocketAddr,
    tls: RustlsConfig,
    app: Router,
    shutdown: CancellationToken,
) -> Result<(SocketAddr, JoinHandle<Result<(), SimError>>), SimError> {
    let bind_err = |source| SimError::Bind {
        addr: listen,
        source,
    };
    let listener = std::net::TcpListener::bind(listen).map_err(bind_err)?;
    listener.set_nonblocking(true).map_err(bind_err)?;
    let addr = listener.local_addr().map_err(bind_err)?;
    let handle = Handle::new();
    let server = axum_server::from_tcp_rustls(listener, tls)
        .handle(handle.clone())
        .serve(app.into_make_service_with_connect_info::<SocketAddr>());
    let task = tokio::spawn(async move {
        tokio::pin!(server);
        tokio::select! {
            r = &mut server => r.map_err(SimError::Serve),
            () = shutdown.cancelled() => {
                handle.graceful_shutdown(Some(Duration::from_secs(2)));
                server.await.map_err(SimError::Serve)
            }
        }
    });
    Ok((addr, task))
}

fn header_str<'a>(req: &'a Request, name: &HeaderName) -> Option<&'a str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}

fn response(status: StatusCode, content_type: Option<&str>, body: impl Into<Body>) -> Response {
    let mut r = Response::new(body.into());
    *r.status_mut() = status;
    if let Some(v) = content_type.and_then(|ct| HeaderValue::from_str(ct).ok()) {
        r.headers_mut().insert(header::CONTENT_TYPE, v);
    }
    r
}

fn add_headers(resp: &mut Response, headers: &[(String, String)]) {
    for (k, v) in headers {
        if let (Ok(k), Ok(v)) = (
            HeaderName::from_bytes(k.as_bytes()),
            HeaderValue::from_str(v),
        ) {
            resp.headers_mut().append(k, v);
        }
    }
}

/// `METHOD /path?query` (HTTP/2 requests carry an absolute URI; the log wants the path).
fn request_line(req: &Request) -> String {
    let pq = req
        .uri()
        .path_and_query()
        .map_or_else(|| req.uri().path().to_string(), |p| p.as_str().to_string());
    format!("{} {}", req.method(), pq)
}

fn log_line(
    kind: &str,
    peer: SocketAddr,
    req_line: &str,
    origin: Option<&str>,
    status: u16,
    started: Instant,
) {
    tracing::info!(
        target: "ucce_sim::access",
        site = kind,
        %peer,
        request = req_line,
        origin = origin.unwrap_or("-"),
        status,
        ms = started.elapsed().as_millis() as u64,
        "request"
    );
}

async fn iis_handler(
    State(st): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    req: Request,
) -> Response {
    let started = Instant::now();
    let req_line = request_line(&req);
    let origin = header_str(&req, &header::ORIGIN).map(str::to_string);
    let resp = iis_pipeline(&st, req).await;
    log_line(
        "iis",
        peer,
        &req_line,
        origin.as_deref(),
        resp.status().as_u16(),
        started,
    );
    resp
}

async fn iis_pipeline(st: &AppState, req: Request) -> Response {
    let cfg = st.watcher.current();
    if let SiteConfig::Broken(err) = &*cfg {
        let page = iis::error_page_500_19(err, &req.uri().to_string());
        return response(StatusCode::INTERNAL_SERVER_ERROR, Some("text/html"), page);
    }
    let mut extra: Vec<(String, String)> = Vec::new();
    if let Some(cors) = cfg.active_cors() {
        let decision = cors.decide(&CorsRequest {
            method: req.method().as_str(),
            origin: header_str(&req, &header::ORIGIN),
            request_method: header_str(&req, &header::ACCESS_CONTROL_REQUEST_METHOD),
            request_headers: header_str(&req, &header::ACCESS_CONTROL_REQUEST_HEADERS),
        });
        match decision {
            CorsDecision::Preflight(h) => return preflight_response(st, h),
            CorsDecision::Reject => {
                // [assumed body]: IIS's short 403 text.
                return response(
                    StatusCode::FORBIDDEN,
                    Some("text/html"),
                    "<html><head><title>403 - Forbidden</title></head><body><h1>403 - Forbidden: Access is denied.</h1></body></html>\n",
                );
            }
            CorsDecision::Actual(h) => extra = h,
            CorsDecision::NotCors => {}
        }
    }
    let mut resp = handle_app(st, req).await;
    add_headers(&mut resp, &extra);
    resp
}

/// A preflight answer, with the server's fault knobs applied.
fn preflight_response(st: &AppState, headers: Vec<(String, String)>) -> Response {
    let fault = match faults::load(&st.paths) {
        Ok(f) => f.server.preflight,
        Err(e) => {
            tracing::warn!(error = %e, "ignoring unreadable fault knobs");
            None
        }
    };
    let mut headers = headers;
    let mut status = StatusCode::NO_CONTENT;
    if let Some(f) = fault {
        headers.retain(|(k, _)| !f.drop_headers.iter().any(|d| d.eq_ignore_ascii_case(k)));
        for (k, v) in &f.set_headers {
            headers.retain(|(h, _)| !h.eq_ignore_ascii_case(k));
            headers.push((k.clone(), v.clone()));
        }
        if let Some(s) = f.status.and_then(|s| StatusCode::from_u16(s).ok()) {
            status = s;
        }
    }
    let mut resp = response(status, None, Body::empty());
    add_headers(&mut resp, &headers);
    resp
}

/// Whether the request carries Basic credentials listed in the users file.
fn authorized(st: &AppState, req: &Request) -> bool {
    let Some(value) = header_str(req, &header::AUTHORIZATION) else {
        return false;
    };
    let Some((scheme, b64)) = value.split_once(' ') else {
        return false;
    };
    if !scheme.eq_ignore_ascii_case("basic") {
        return false;
    }
    let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(b64.trim()) else {
        return false;
    };
    let Ok(pair) = String::from_utf8(decoded) else {
        return false;
    };
    let Some((user, password)) = pair.split_once(':') else {
        return false;
    };
    let users = fs::read_to_string(&st.paths.users)
        .unwrap_or_else(|_| format!("{DEFAULT_USER}:{DEFAULT_PASSWORD}\n"));
    users
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_once(':'))
        // Windows account names are case-insensitive, passwords are not.
        .any(|(u, p)| u.eq_ignore_ascii_case(user) && p == password)
}

async fn handle_app(st: &AppState, req: Request) -> Response {
    let path = req.uri().path().to_string();
    if !path.starts_with("/unifiedconfig/") {
        return response(
            StatusCode::NOT_FOUND,
            Some("text/html"),
            "<html><head><title>HTTP Error 404.0 - Not Found</title></head><body><h3>HTTP Error 404.0 - Not Found</h3><h4>The resource you are looking for has been removed, had its name changed, or is temporarily unavailable.</h4></body></html>\n",
        );
    }
    if !authorized(st, &req) {
        let mut r = response(
            StatusCode::UNAUTHORIZED,
            Some("text/html"),
            "<html><head><title>401 - Unauthorized</title></head><body><h1>401 - Unauthorized: Access is denied due to invalid credentials.</h1></body></html>\n",
        );
        r.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"ucce-sim\""),
        );
        return r;
    }
    if !path.starts_with(configapi::BASE) {
        let e = configapi::error(
            404,
            "notFound",
            &path,
            "The requested resource was not found.",
        );
        return api_response(e);
    }
    let method = req.method().as_str().to_string();
    let query = req.uri().query().map(str::to_string);
    let body = match axum::body::to_bytes(req.into_body(), 1024 * 1024).await {
        Ok(b) => b,
        Err(_) => {
            return api_response(configapi::error(
                413,
                "invalidInput",
                "",
                "The request body is too large.",
            ));
        }
    };
    api_response(st.store.handle(&method, &path, query.as_deref(), &body))
}

fn api_response(r: configapi::ApiResponse) -> Response {
    let status = StatusCode::from_u16(r.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut resp = response(status, None, r.body);
    add_headers(&mut resp, &r.headers);
    resp
}

async fn finesse_handler(ConnectInfo(peer): ConnectInfo<SocketAddr>, req: Request) -> Response {
    let started = Instant::now();
    let req_line = request_line(&req);
    let resp = match req.uri().path() {
        finesse::GADGET_PATH => response(
            StatusCode::OK,
            Some("text/html; charset=utf-8"),
            finesse::GADGET_HTML,
        ),
        "/desktop" | "/desktop/" => response(
            StatusCode::OK,
            Some("text/html; charset=utf-8"),
            finesse::DESKTOP_HTML,
        ),
        _ => response(StatusCode::NOT_FOUND, Some("text/plain"), "not found\n"),
    };
    log_line(
        "finesse",
        peer,
        &req_line,
        None,
        resp.status().as_u16(),
        started,
    );
    resp
}
