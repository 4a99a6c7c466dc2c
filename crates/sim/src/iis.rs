//! IIS's view of its configuration: applicationHost.config plus the redirector folder's
//! web.config, re-read whenever either changes (DOMAIN.md: "IIS re-reads .config files when
//! they change"), and the HTTP 500.19 page it serves when they are invalid.
//!
//! A `<cors>` section needs the section declaration in applicationHost.config and the schema
//! file; without them every request under the folder fails with 500.19 / 0x8007000d (DOMAIN.md,
//! KB 942055). The module only acts when it is also listed in `<globalModules>` and its DLL
//! exists [assumed: a declared section with no loaded module is silently ignored].

use std::{
    fs,
    path::{Path, PathBuf},
    sync::{Arc, Mutex},
    time::SystemTime,
};

use crate::{
    cors::{self, CorsSection},
    tree::SimPaths,
    xml::{self, Element},
};

/// The configuration a request sees.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SiteConfig {
    Ready {
        /// The `<cors>` section of web.config, when present and valid.
        cors: Option<CorsSection>,
        /// CorsModule is registered in `<globalModules>` and its DLL exists.
        module_loaded: bool,
    },
    /// Every request gets 500.19.
    Broken(ConfigError),
}

impl SiteConfig {
    /// The section the module enforces, if the module is loaded.
    pub fn active_cors(&self) -> Option<&CorsSection> {
        match self {
            SiteConfig::Ready {
                cors: Some(c),
                module_loaded: true,
            } => Some(c),
            _ => None,
        }
    }
}

/// The details IIS shows on its 500.19 page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// Windows path of the offending file, e.g. `C:\icm\tomcat\bin\i386\web.config`.
    pub config_file: String,
    pub hresult: u32,
    pub message: String,
    pub line: Option<usize>,
    /// The offending line of the file, for the "Config Source" box.
    pub source_line: Option<String>,
}

const WEB_CONFIG_WIN: &str = r"C:\icm\tomcat\bin\i386\web.config";
const APP_HOST_WIN: &str = r"C:\Windows\System32\inetsrv\config\applicationHost.config";

fn broken(
    file: &str,
    bytes: &[u8],
    hresult: u32,
    message: String,
    line: Option<usize>,
) -> SiteConfig {
    let source_line = line.and_then(|l| {
        String::from_utf8_lossy(bytes)
            .lines()
            .nth(l.saturating_sub(1))
            .map(|s| s.trim_end().to_string())
    });
    SiteConfig::Broken(ConfigError {
        config_file: file.to_string(),
        hresult,
        message,
        line,
        source_line,
    })
}

/// Whether applicationHost.config declares the cors section and loads CorsModule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ModuleRegistration {
    pub section_declared: bool,
    pub global_module: bool,
}

/// Reads the registration marks from an applicationHost.config tree.
pub fn registration(app_host: &Element) -> ModuleRegistration {
    let section_declared = app_host
        .path(&["configSections"])
        .into_iter()
        .flat_map(|cs| cs.children_named("sectionGroup"))
        .filter(|g| g.attr("name") == Some("system.webServer"))
        .flat_map(|g| g.children_named("section"))
        .any(|s| s.attr("name") == Some("cors"));
    let global_module = app_host
        .path(&["system.webServer", "globalModules"])
        .into_iter()
        .flat_map(|g| g.children_named("add"))
        .any(|a| a.attr("name") == Some("CorsModule"));
    ModuleRegistration {
        section_declared,
        global_module,
    }
}

/// Loads the configuration once, as IIS would for the next request.
pub fn load(paths: &SimPaths) -> SiteConfig {
    let app_bytes = fs::read(&paths.app_host_config).unwrap_or_default();
    let app = match xml::parse(&app_bytes) {
        Ok(a) => a,
        Err(e) => {
            return broken(
                APP_HOST_WIN,
                &app_bytes,
                0x8007_000d,
                format!("Configuration file is not well-formed XML ({})", e.reason),
                Some(e.line),
            );
        }
    };
    let reg = registration(&app);
    let schema_present = paths.cors_schema.exists();
    let module_loaded = reg.global_module && paths.cors_dll.exists();

    // No web.config is valid: the folder inherits the server's configuration.
    let Ok(web_bytes) = fs::read(&paths.web_config) else {
        return SiteConfig::Ready {
            cors: None,
            module_loaded,
        };
    };
    let web = match xml::parse(&web_bytes) {
        Ok(w) => w,
        Err(e) => {
            return broken(
                WEB_CONFIG_WIN,
                &web_bytes,
                0x8007_000d,
                format!("Configuration file is not well-formed XML ({})", e.reason),
                Some(e.line),
            );
        }
    };
    let mut cors_elems = web
        .children_named("system.webServer")
        .flat_map(|s| s.children_named("cors"));
    let Some(cors_el) = cors_elems.next() else {
        return SiteConfig::Ready {
            cors: None,
            module_loaded,
        };
    };
    if let Some(dup) = cors_elems.next() {
        return broken(
            WEB_CONFIG_WIN,
            &web_bytes,
            0x8007_00b7,
            "There is a duplicate 'system.webServer/cors' section defined".into(),
            Some(dup.line),
        );
    }
    if !reg.section_declared || !schema_present {
        return broken(
            WEB_CONFIG_WIN,
            &web_bytes,
            0x8007_000d,
            "The configuration section 'cors' cannot be read because it is missing a section declaration".into(),
            Some(cors_el.line),
        );
    }
    match cors::parse_section(cors_el) {
        Ok(section) => SiteConfig::Ready {
            cors: Some(section),
            module_loaded,
        },
        Err(e) => broken(
            WEB_CONFIG_WIN,
            &web_bytes,
            e.hresult,
            e.message,
            Some(e.line),
        ),
    }
}

/// What identifies a file version without reading it: existence, length and mtime.
type Fingerprint = Vec<Option<(u64, Option<SystemTime>)>>;

fn fingerprint(files: &[&Path]) -> Fingerprint {
    files
        .iter()
        .map(|p| fs::metadata(p).ok().map(|m| (m.len(), m.modified().ok())))
        .collect()
}

/// Re-reads the configuration only when one of its files changed (a few `stat`s per request).
#[derive(Debug)]
pub struct ConfigWatcher {
    paths: SimPaths,
    watched: Vec<PathBuf>,
    cache: Mutex<Option<(Fingerprint, Arc<SiteConfig>)>>,
}

impl ConfigWatcher {
    pub fn new(paths: SimPaths) -> Self {
        let watched = vec![
            paths.app_host_config.clone(),
            paths.web_config.clone(),
            paths.cors_dll.clone(),
            paths.cors_schema.clone(),
        ];
        ConfigWatcher {
            paths,
            watched,
            cache: Mutex::new(None),
        }
    }

    /// The configuration as of now.
    pub fn current(&self) -> Arc<SiteConfig> {
        let refs: Vec<&Path> = self.watched.iter().map(PathBuf::as_path).collect();
        let fp = fingerprint(&refs);
        let mut guard = match self.cache.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        // File timestamps tick coarsely (a few ms), so two same-length writes can share one;
        // a file changed in the last two seconds is therefore always re-read.
        let settled = fp.iter().flatten().all(|(_, mtime)| {
            mtime
                .and_then(|m| m.elapsed().ok())
                .is_some_and(|age| age > std::time::Duration::from_secs(2))
        });
        if settled
            && let Some((old, cfg)) = guard.as_ref()
            && *old == fp
        {
            return Arc::clone(cfg);
        }
        let cfg = Arc::new(load(&self.paths));
        *guard = Some((fp, Arc::clone(&cfg)));
        cfg
    }
}

/// Escapes `<`, `>` and `&` only, so quoted names in messages read as IIS shows them.
fn html_escape(s: &str) -> String {
    quick_xml::escape::partial_escape(s).into_owned()
}

/// The detailed 500.19 page, shaped like IIS 10's.
pub fn error_page_500_19(err: &ConfigError, url: &str) -> String {
    let source = match (&err.line, &err.source_line) {
        (Some(l), Some(s)) => format!("<pre>{:>5}:  {}</pre>", l, html_escape(s)),
        _ => String::new(),
    };
    format!(
        r#"<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Strict//EN" "http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd">
<html xmlns="http://www.w3.org/1999/xhtml">
<head>
<meta http-equiv="Content-Type" content="text/html; charset=iso-8859-1"/>
<title>HTTP Error 500.19 - Internal Server Error</title>
</head>
<body>
<div id="header"><h1>Server Error in Application "DEFAULT WEB SITE"</h1></div>
<div id="content">
<div class="content-container">
<h3>HTTP Error 500.19 - Internal Server Error</h3>
<h4>The requested page cannot be accessed because the related configuration data for the page is invalid.</h4>
</div>
<div class="content-container">
<fieldset><h4>Detailed Error Information</h4>
<table border="0" cellpadding="0" cellspacing="0">
<tr><th>Module</th><td>IIS Web Core</td></tr>
<tr><th>Notification</th><td>BeginRequest</td></tr>
<tr><th>Handler</th><td>Not yet determined</td></tr>
<tr><th>Error Code</th><td>0x{hresult:08x}</td></tr>
<tr><th>Config Error</th><td>{message}</td></tr>
<tr><th>Config File</th><td>\\?\{file}</td></tr>
<tr><th>Requested URL</th><td>{url}</td></tr>
<tr><th>Physical Path</th><td>C:\icm\tomcat\bin\i386</td></tr>
<tr><th>Logon Method</th><td>Not yet determined</td></tr>
<tr><th>Logon User</th><td>Not yet determined</td></tr>
</table>
<h4>Config Source:</h4>
{source}
</fieldset>
</div>
</div>
</body>
</html>
"#,
        hresult = err.hresult,
        message = html_escape(&err.message),
        file = err.config_file,
        url = html_escape(url),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tree;

    #[test]
    fn stock_tree_is_ready_without_cors() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = tree::init(dir.path(), &[]).expect("init");
        assert_eq!(
            load(&p),
            SiteConfig::Ready {
                cors: None,
                module_loaded: false
            }
        );
    }

    #[test]
    fn cors_section_without_module_is_500_19() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = tree::init(dir.path(), &[]).expect("init");
        let patched = tree::STOCK_WEB_CONFIG.replace(
            "<system.webServer>\r\n",
            "<system.webServer>\r\n<cors enabled=\"true\"><add origin=\"*\"/></cors>\r\n",
        );
        fs::write(&p.web_config, patched).expect("write");
        let SiteConfig::Broken(err) = load(&p) else {
            panic!("expected 500.19");
        };
        assert_eq!(err.hresult, 0x8007_000d);
        assert_eq!(err.line, Some(4));
        let page = error_page_500_19(&err, "/unifiedconfig/config/agent");
        assert!(page.contains("Error Code</th><td>0x8007000d"));
        assert!(page.contains(r"\\?\C:\icm\tomcat\bin\i386\web.config"));
    }

    #[test]
    fn watcher_sees_a_same_length_rewrite_at_once() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = tree::init(dir.path(), &[]).expect("init");
        let w = ConfigWatcher::new(p.clone());
        fs::write(&p.web_config, "<configuration></configuration>").expect("write");
        assert!(matches!(*w.current(), SiteConfig::Ready { .. }));
        fs::write(&p.web_config, "<configuration><configuration>").expect("write");
        assert!(matches!(*w.current(), SiteConfig::Broken(_)));
    }

    #[test]
    fn watcher_sees_a_rewrite() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = tree::init(dir.path(), &[]).expect("init");
        let w = ConfigWatcher::new(p.clone());
        assert!(matches!(*w.current(), SiteConfig::Ready { .. }));
        fs::write(&p.web_config, "<configuration>").expect("write");
        assert!(matches!(*w.current(), SiteConfig::Broken(_)));
    }
}
