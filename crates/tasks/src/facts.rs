//! `iis_facts`: IIS major version, whether the IIS CORS Module is installed, whether the
//! web.config is there. Read-only in every mode.
//!
//! "Installed" means all three marks of DOMAIN.md: the DLL, the schema file, and the
//! registration in applicationHost.config (`<globalModules><add name="CorsModule">` and the
//! `cors` section under `system.webServer`). ProductCode is not published, so we never rely
//! on it.

use corsfleet_playbook::IisFactsArgs;
use corsfleet_transport::{RemoteCommand, WinPath};
use quick_xml::events::Event;

use crate::{HostContext, TaskOutcome};

pub const CORS_DLL: &str = r"C:\Windows\System32\inetsrv\iiscors.dll";
pub const CORS_SCHEMA: &str = r"C:\Windows\System32\inetsrv\config\schema\cors_schema.xml";
pub const APPLICATION_HOST_CONFIG: &str =
    r"C:\Windows\System32\inetsrv\config\applicationHost.config";

pub(crate) async fn run(ctx: &HostContext, args: &IisFactsArgs) -> TaskOutcome {
    let major = match iis_major_version(ctx).await {
        Ok(major) => major,
        Err(message) => return TaskOutcome::failed(message),
    };
    ctx.facts().iis_major = Some(major);
    if major < args.min_iis_major {
        return TaskOutcome::failed(format!(
            "IIS {major} found, the IIS CORS Module needs IIS {} or later",
            args.min_iis_major
        ));
    }
    let installed = match cors_module_installed(ctx).await {
        Ok(installed) => installed,
        Err(message) => return TaskOutcome::failed(message),
    };
    let web_config = match WinPath::parse(&args.web_config) {
        Ok(path) => path,
        Err(err) => return TaskOutcome::failed(format!("invalid web_config path: {err}")),
    };
    let present = match ctx.blocking(move |t| Ok(t.stat(&web_config)?)).await {
        Ok(stat) => stat.is_some(),
        Err(err) => return TaskOutcome::failed(format!("cannot stat {}: {err}", args.web_config)),
    };
    if !present {
        return TaskOutcome::failed(format!(
            "{} not found: is this a UCCE Logger or Distributor (AW)?",
            args.web_config
        ));
    }
    TaskOutcome::ok(format!(
        "IIS {major}; CORS module {}; web.config present",
        if installed {
            "installed"
        } else {
            "not installed"
        }
    ))
}

/// Ask `reg query` for `HKLM\SOFTWARE\Microsoft\InetStp\MajorVersion`.
async fn iis_major_version(ctx: &HostContext) -> Result<u32, String> {
    let cmd = RemoteCommand {
        program: "reg".into(),
        args: vec![
            "query".into(),
            r"HKLM\SOFTWARE\Microsoft\InetStp".into(),
            "/v".into(),
            "MajorVersion".into(),
        ],
        wait_gui: false,
    };
    let out = ctx
        .blocking(move |t| Ok(t.exec(&cmd)?))
        .await
        .map_err(|err| format!("cannot query the IIS version: {err}"))?;
    if out.exit_code != 0 {
        return Err(format!(
            "cannot query the IIS version: reg query exited with {} ({}): is IIS installed?",
            out.exit_code,
            first_line(&out.stderr).unwrap_or("no message")
        ));
    }
    parse_reg_dword(&out.stdout, "MajorVersion")
        .ok_or_else(|| "cannot read MajorVersion from the output of reg query".to_string())
}

/// Parse `    MajorVersion    REG_DWORD    0xa` out of reg.exe's output.
pub(crate) fn parse_reg_dword(output: &str, name: &str) -> Option<u32> {
    output.lines().find_map(|line| {
        let mut parts = line.split_whitespace();
        if !parts.next()?.eq_ignore_ascii_case(name) || parts.next()? != "REG_DWORD" {
            return None;
        }
        let value = parts.next()?;
        let hex = value
            .strip_prefix("0x")
            .or_else(|| value.strip_prefix("0X"))?;
        u32::from_str_radix(hex, 16).ok()
    })
}

/// Check the three marks and record the answer in the host's facts.
pub(crate) async fn cors_module_installed(ctx: &HostContext) -> Result<bool, String> {
    let dll = WinPath::parse(CORS_DLL).map_err(|e| e.to_string())?;
    let schema = WinPath::parse(CORS_SCHEMA).map_err(|e| e.to_string())?;
    let app_host = WinPath::parse(APPLICATION_HOST_CONFIG).map_err(|e| e.to_string())?;
    let installed = ctx
        .blocking(move |t| {
            if t.stat(&dll)?.is_none() || t.stat(&schema)?.is_none() {
                return Ok(false);
            }
            let config = t.read_file(&app_host)?;
            Ok(registration_present(&config))
        })
        .await
        .map_err(|err| format!("cannot check whether the IIS CORS module is installed: {err}"))?;
    ctx.facts().cors_module_installed = Some(installed);
    Ok(installed)
}

/// Whether applicationHost.config registers the module and its configuration section.
pub(crate) fn registration_present(config: &[u8]) -> bool {
    let mut reader = quick_xml::Reader::from_reader(config);
    let mut stack: Vec<Vec<u8>> = Vec::new();
    let (mut module, mut section) = (false, false);
    let mut buf = Vec::new();
    loop {
        let event = match reader.read_event_into(&mut buf) {
            Ok(event) => event,
            Err(_) => return false,
        };
        let is_start = matches!(event, Event::Start(_));
        match event {
            Event::Start(e) | Event::Empty(e) => {
                let name = e.name().as_ref().to_vec();
                let attr = |key: &[u8]| {
                    e.attributes()
                        .flatten()
                        .find(|a| a.key.as_ref() == key)
                        .map(|a| a.value.into_owned())
                };
                let parent = stack.last().map(Vec::as_slice);
                if name == b"add"
                    && parent == Some(b"globalModules".as_slice())
                    && attr(b"name").as_deref() == Some(b"CorsModule".as_slice())
                {
                    module = true;
                }
                if name == b"section"
                    && parent == Some(b"sectionGroup".as_slice())
                    && attr(b"name").as_deref() == Some(b"cors".as_slice())
                {
                    section = true;
                }
                if is_start {
                    // remember the sectionGroup's name so `cors` is only accepted under system.webServer
                    if name == b"sectionGroup"
                        && attr(b"name").as_deref() != Some(b"system.webServer".as_slice())
                    {
                        stack.push(b"otherSectionGroup".to_vec());
                    } else {
                        stack.push(name);
                    }
                }
            }
            Event::End(_) => {
                stack.pop();
            }
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    module && section
}

pub(crate) fn first_line(text: &str) -> Option<&str> {
    text.lines().map(str::trim).find(|l| !l.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reg_query_output_is_parsed_as_reg_exe_prints_it() {
        let out = "\r\nHKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\InetStp\r\n    MajorVersion    REG_DWORD    0xa\r\n\r\n";
        assert_eq!(parse_reg_dword(out, "MajorVersion"), Some(10));
        assert_eq!(parse_reg_dword(out, "MinorVersion"), None);
        assert_eq!(
            parse_reg_dword("MajorVersion REG_SZ 10", "MajorVersion"),
            None
        );
    }

    #[test]
    fn registration_needs_module_and_section_in_the_right_places() {
        let both = br#"<configuration><configSections><sectionGroup name="system.webServer"><section name="cors" overrideModeDefault="Allow"/></sectionGroup></configSections><system.webServer><globalModules><add name="CorsModule" image="%SystemRoot%\system32\inetsrv\iiscors.dll"/></globalModules></system.webServer></configuration>"#;
        assert!(registration_present(both));
        let no_section = br#"<configuration><system.webServer><globalModules><add name="CorsModule" image="x"/></globalModules></system.webServer></configuration>"#;
        assert!(!registration_present(no_section));
        let wrong_group = br#"<configuration><configSections><sectionGroup name="system.web"><section name="cors"/></sectionGroup></configSections><system.webServer><globalModules><add name="CorsModule"/></globalModules></system.webServer></configuration>"#;
        assert!(!registration_present(wrong_group));
        let commented = br#"<configuration><configSections><sectionGroup name="system.webServer"><section name="cors"/></sectionGroup></configSections><system.webServer><globalModules><!-- <add name="CorsModule"/> --></globalModules></system.webServer></configuration>"#;
        assert!(!registration_present(commented));
    }
}
