//! `WinPath`: a validated absolute Windows path, and its SFTP spelling.
//!
//! Playbooks name remote files the Windows way (`C:\icm\tomcat\bin\i386\web.config`).
//! Windows OpenSSH's SFTP server wants `/C:/icm/tomcat/bin/i386/web.config`, and the local
//! transport maps the same path below a root folder. This is the only place where that
//! mapping is done. Validation refuses anything that could escape the intended file: relative
//! paths, `..`, wildcards, NUL and the characters Windows forbids in names.

use std::fmt;

use crate::TransportError;

/// An absolute Windows path with a drive letter, e.g. `C:\icm\tomcat\bin\i386\web.config`.
///
/// Stored normalised: upper-case drive letter, backslash separators, no trailing separator
/// (except for the drive root `C:\`). Forward slashes in the input are accepted as separators.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct WinPath(String);

/// Characters Windows never allows in a file name, plus the wildcards.
const FORBIDDEN: &[char] = &['<', '>', '"', '|', '?', '*', ':'];

impl WinPath {
    /// Validate and normalise `s`.
    pub fn parse(s: &str) -> Result<WinPath, TransportError> {
        let bad = |reason: &'static str| TransportError::InvalidPath {
            path: s.to_owned(),
            reason,
        };
        let mut chars = s.chars();
        let drive = match (chars.next(), chars.next(), chars.next()) {
            (Some(d), Some(':'), Some('\\' | '/')) if d.is_ascii_alphabetic() => {
                d.to_ascii_uppercase()
            }
            (Some(d), Some(':'), None) if d.is_ascii_alphabetic() => {
                return Err(bad(
                    "a drive without a backslash is relative to that drive's current folder",
                ));
            }
            _ => {
                return Err(bad(
                    "it must start with a drive letter and a backslash, e.g. C:\\",
                ));
            }
        };
        let rest = &s[3..];
        let mut out = format!("{drive}:");
        for component in rest.split(['\\', '/']) {
            if component.is_empty() {
                // Tolerate `C:\a\\b` and a trailing separator; Windows does too.
                continue;
            }
            validate_component(component).map_err(bad)?;
            out.push('\\');
            out.push_str(component);
        }
        if out.len() == 2 {
            out.push('\\');
        }
        Ok(WinPath(out))
    }

    /// The SFTP form used by Windows OpenSSH: `/C:/icm/tomcat/bin/i386/web.config`.
    pub fn sftp(&self) -> String {
        let mut s = String::with_capacity(self.0.len() + 1);
        s.push('/');
        s.push_str(&self.0.replace('\\', "/"));
        s
    }

    /// This path with one more component; `name` must be a single valid file name.
    pub fn join(&self, name: &str) -> Result<WinPath, TransportError> {
        if name.is_empty() || name.contains(['\\', '/']) {
            return Err(TransportError::InvalidPath {
                path: name.to_owned(),
                reason: "a single file name is expected, without separators",
            });
        }
        validate_component(name).map_err(|reason| TransportError::InvalidPath {
            path: name.to_owned(),
            reason,
        })?;
        let mut s = self.0.clone();
        if !s.ends_with('\\') {
            s.push('\\');
        }
        s.push_str(name);
        Ok(WinPath(s))
    }

    /// The containing folder, or `None` for a drive root.
    pub fn parent(&self) -> Option<WinPath> {
        if self.is_root() {
            return None;
        }
        let cut = self.0.rfind('\\')?;
        if cut == 2 {
            Some(WinPath(self.0[..3].to_owned()))
        } else {
            Some(WinPath(self.0[..cut].to_owned()))
        }
    }

    /// The last component (`web.config`); empty for a drive root.
    pub fn file_name(&self) -> &str {
        if self.is_root() {
            return "";
        }
        self.0.rsplit('\\').next().unwrap_or("")
    }

    /// The normalised Windows spelling.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The drive letter, upper case.
    pub fn drive(&self) -> char {
        self.0.chars().next().unwrap_or('C')
    }

    /// The components after the drive root (`["icm", "tomcat", …]`).
    pub fn components(&self) -> impl Iterator<Item = &str> {
        self.0[2..].split('\\').filter(|c| !c.is_empty())
    }

    fn is_root(&self) -> bool {
        self.0.len() == 3
    }
}

fn validate_component(c: &str) -> Result<(), &'static str> {
    if c == "." || c == ".." {
        return Err("`.` and `..` components are not allowed");
    }
    if c.contains('\0') {
        return Err("it contains a NUL character");
    }
    if c.chars().any(|ch| ch.is_control()) {
        return Err("it contains a control character");
    }
    if c.contains(['*', '?']) {
        return Err("wildcards are not allowed");
    }
    if c.contains(FORBIDDEN) {
        return Err("it contains a character Windows forbids in names (< > \" | : ? *)");
    }
    if c.ends_with([' ', '.']) {
        // Win32 silently strips these, so `web.config.` would name `web.config`.
        return Err("a component ending in a space or dot names a different file on windows");
    }
    Ok(())
}

impl fmt::Display for WinPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> WinPath {
        match WinPath::parse(s) {
            Ok(p) => p,
            Err(e) => panic!("{s:?} should parse: {e}"),
        }
    }

    #[test]
    fn parses_and_maps_to_sftp() {
        let w = p(r"C:\icm\tomcat\bin\i386\web.config");
        assert_eq!(w.as_str(), r"C:\icm\tomcat\bin\i386\web.config");
        assert_eq!(w.sftp(), "/C:/icm/tomcat/bin/i386/web.config");
        assert_eq!(w.file_name(), "web.config");
        assert_eq!(w.to_string(), w.as_str());
    }

    #[test]
    fn normalises_drive_case_and_separators() {
        let w = p("c:/icm//tomcat\\");
        assert_eq!(w.as_str(), r"C:\icm\tomcat");
        assert_eq!(w.sftp(), "/C:/icm/tomcat");
        assert_eq!(p(r"d:\").as_str(), r"D:\");
        assert_eq!(p(r"d:\").sftp(), "/D:/");
    }

    #[test]
    fn refuses_unsafe_paths() {
        for bad in [
            "",
            "icm\\web.config",
            "\\icm\\web.config",
            "C:",
            "C:icm",
            "1:\\x",
            r"C:\icm\..\Windows",
            r"C:\icm\.\x",
            "C:\\icm\\a\0b",
            r"C:\icm\*.config",
            r"C:\icm\web?.config",
            r"C:\icm\a:b",
            r"C:\icm\a|b",
            "C:\\icm\\a\nb",
            r"C:\icm\web.config.",
            r"\\server\share\x",
        ] {
            assert!(
                matches!(WinPath::parse(bad), Err(TransportError::InvalidPath { .. })),
                "{bad:?} must be refused"
            );
        }
    }

    #[test]
    fn join_and_parent_round_trip() {
        let dir = p(r"C:\icm\tomcat");
        let file = dir.join("web.config").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(file.as_str(), r"C:\icm\tomcat\web.config");
        assert_eq!(file.parent(), Some(dir.clone()));
        assert_eq!(p(r"C:\icm").parent(), Some(p(r"C:\")));
        assert_eq!(p(r"C:\").parent(), None);
        assert_eq!(p(r"C:\").file_name(), "");
        assert_eq!(
            p(r"C:\").join("x").map(|w| w.as_str().to_owned()).ok(),
            Some(r"C:\x".to_owned())
        );
        assert!(dir.join("..").is_err());
        assert!(dir.join(r"a\b").is_err());
        assert!(dir.join("a/b").is_err());
        assert!(dir.join("").is_err());
    }

    #[test]
    fn components_skip_the_drive() {
        let w = p(r"C:\a\b\c.txt");
        assert_eq!(w.components().collect::<Vec<_>>(), ["a", "b", "c.txt"]);
        assert_eq!(p(r"C:\").components().count(), 0);
        assert_eq!(w.drive(), 'C');
    }
}
