//! corsfleet-inventory: hosts, groups and variables from Ansible-style YAML inventories.
//!
//! UCCE admins often already keep an Ansible inventory, so corsfleet reads that format as it
//! is (`all` → `hosts` / `vars` / `children`, `group_vars/`, `host_vars/`, Ansible's variable
//! precedence and host patterns). It is stricter than Ansible where strictness protects
//! production: an unknown key, a group cycle or a pattern that selects nothing is an error with
//! `FILE:LINE:COL`, never a warning. This crate knows connection *settings*
//! ([`ConnectionSpec`]), never how to connect. See docs/inventory.md for the full reference.
#![deny(clippy::print_stdout, clippy::print_stderr)]

mod connection;
mod load;
pub mod pattern;
pub mod yaml;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::PathBuf;

pub use connection::{
    ANSIBLE_IGNORED_VARS, ANSIBLE_VARS, CORSFLEET_VARS, ConnectionKind, ConnectionSpec,
    RemoteShell, VarProblem, check_var_name, is_secret_var, is_valid_address,
};
pub use pattern::PatternError;
pub use yaml::{Diagnostic, Location};

/// One host with its merged variables and connection settings. Debug output redacts secret
/// variables.
#[derive(Clone, PartialEq)]
pub struct Host {
    pub name: String,
    /// Every group the host belongs to, directly or through a child group, sorted; without
    /// `all` and `ungrouped` (like Ansible's `group_names`).
    pub groups: Vec<String>,
    /// Variables merged by precedence (docs/inventory.md).
    pub vars: serde_json::Map<String, serde_json::Value>,
    pub connection: ConnectionSpec,
    /// Where the host is first named.
    pub location: Location,
    /// Where each variable's winning value was defined.
    pub var_locations: BTreeMap<String, Location>,
    /// The folder relative paths in this host's variables resolve against: the folder of the
    /// inventory file (or the inventory directory) that first named the host.
    pub base_dir: PathBuf,
}

impl fmt::Debug for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Host")
            .field("name", &self.name)
            .field("groups", &self.groups)
            .field("vars", &redact(&self.vars))
            .field("connection", &self.connection)
            .field("location", &self.location)
            .finish_non_exhaustive()
    }
}

impl Host {
    /// Returns a copy with `overrides` set on top of every other variable (as `-e` does) and
    /// the connection settings derived again. Used by callers that adjust hosts at run time
    /// (the demo points `corsfleet_local_root` and `corsfleet_https_port` at its servers).
    pub fn with_overrides(
        &self,
        overrides: &serde_json::Map<String, serde_json::Value>,
        origin: &Location,
    ) -> Result<Host, InventoryError> {
        let mut host = self.clone();
        let mut diagnostics = Vec::new();
        for (k, v) in overrides {
            if let Err((message, hint)) = connection::check_var_name(k) {
                diagnostics.push(Diagnostic {
                    location: origin.clone(),
                    message,
                    hint,
                });
                continue;
            }
            host.vars.insert(k.clone(), v.clone());
            host.var_locations.insert(k.clone(), origin.clone());
        }
        match connection::from_vars(&host.name, &host.vars, &host.base_dir) {
            Ok(c) => host.connection = c,
            Err(problems) => diagnostics.extend(load::problems_to_diagnostics(&host, problems)),
        }
        if diagnostics.is_empty() {
            Ok(host)
        } else {
            Err(InventoryError { diagnostics })
        }
    }
}

/// A group as written in the inventory.
#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    pub name: String,
    /// Direct child groups, in order of first appearance.
    pub children: Vec<String>,
    /// Hosts named directly under this group, in order of first appearance.
    pub hosts: Vec<String>,
    /// Where the group is first named (`None` for the implicit `all` and `ungrouped`).
    pub location: Option<Location>,
}

/// Everything wrong with an inventory, each with its position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InventoryError {
    pub diagnostics: Vec<Diagnostic>,
}

impl InventoryError {
    pub(crate) fn one(d: Diagnostic) -> Self {
        Self {
            diagnostics: vec![d],
        }
    }
}

impl fmt::Display for InventoryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.diagnostics.as_slice() {
            [] => f.write_str("invalid inventory"),
            [one] => write!(f, "{one}"),
            [first, rest @ ..] => write!(f, "{first} (and {} more errors)", rest.len()),
        }
    }
}

impl std::error::Error for InventoryError {}

/// A loaded, validated inventory.
#[derive(Debug, Clone)]
pub struct Inventory {
    hosts: Vec<Host>,
    groups: BTreeMap<String, Group>,
    /// Transitive members of each group (including `all` and `ungrouped`).
    members: BTreeMap<String, BTreeSet<String>>,
    host_names: Vec<String>,
}

impl Inventory {
    /// Loads one or more inventories (files or directories) into one.
    pub fn load(sources: &[PathBuf]) -> Result<Inventory, InventoryError> {
        load::load(sources)
    }

    /// Hosts in inventory order (order of first appearance).
    pub fn hosts(&self) -> &[Host] {
        &self.hosts
    }

    /// A host by name.
    pub fn host(&self, name: &str) -> Option<&Host> {
        self.hosts.iter().find(|h| h.name == name)
    }

    /// Groups by name, including `all` and `ungrouped`.
    pub fn groups(&self) -> &BTreeMap<String, Group> {
        &self.groups
    }

    /// Hosts selected by an Ansible host pattern, in inventory order.
    pub fn select(&self, pattern: &str) -> Result<Vec<&Host>, PatternError> {
        self.select_with_limit(pattern, None)
    }

    /// Hosts selected by `pattern` and also by `limit` (`--limit`), in inventory order.
    pub fn select_with_limit(
        &self,
        pattern: &str,
        limit: Option<&str>,
    ) -> Result<Vec<&Host>, PatternError> {
        let universe = pattern::Universe {
            hosts: &self.host_names,
            groups: &self.members,
        };
        let mut names: BTreeSet<String> =
            pattern::evaluate(pattern, &universe)?.into_iter().collect();
        if let Some(limit) = limit {
            let limited: BTreeSet<String> =
                pattern::evaluate(limit, &universe)?.into_iter().collect();
            names.retain(|n| limited.contains(n));
            if names.is_empty() {
                return Err(PatternError::NothingSelected {
                    pattern: format!("{pattern} limited to {limit}"),
                });
            }
        }
        Ok(self
            .hosts
            .iter()
            .filter(|h| names.contains(&h.name))
            .collect())
    }

    /// Group name → its hosts (transitively), in inventory order; includes `all` and
    /// `ungrouped`. This is the `groups` template variable.
    pub fn group_members(&self) -> BTreeMap<String, Vec<String>> {
        self.members
            .iter()
            .map(|(g, set)| {
                let hosts = self
                    .host_names
                    .iter()
                    .filter(|h| set.contains(h.as_str()))
                    .cloned()
                    .collect();
                (g.clone(), hosts)
            })
            .collect()
    }

    /// The group tree, like `ansible-inventory --graph`.
    pub fn graph(&self) -> String {
        let mut out = String::new();
        self.graph_group("all", 0, &mut out);
        out
    }

    fn graph_group(&self, name: &str, depth: usize, out: &mut String) {
        let Some(group) = self.groups.get(name) else {
            return;
        };
        let indent = "  |".repeat(depth);
        if depth == 0 {
            out.push_str(&format!("@{name}:\n"));
        } else {
            out.push_str(&format!("{indent}--@{name}:\n"));
        }
        let mut children = group.children.clone();
        children.sort();
        for child in &children {
            self.graph_group(child, depth + 1, out);
        }
        let mut hosts = group.hosts.clone();
        hosts.sort();
        let host_indent = "  |".repeat(depth + 1);
        for h in hosts {
            out.push_str(&format!("{host_indent}--{h}\n"));
        }
    }
}

/// The closest candidate by edit distance, if it is close enough to be a likely typo.
pub fn suggest<'a>(word: &str, candidates: impl Iterator<Item = &'a str>) -> Option<String> {
    let limit = (word.chars().count() / 3).max(2);
    candidates
        .map(|c| (edit_distance(word, c), c))
        .filter(|(d, _)| *d <= limit && *d > 0)
        .min()
        .map(|(_, c)| c.to_string())
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// Redacts secret variables (see [`is_secret_var`]) for display, recursively by key name.
pub fn redact(
    vars: &serde_json::Map<String, serde_json::Value>,
) -> serde_json::Map<String, serde_json::Value> {
    vars.iter()
        .map(|(k, v)| {
            let v = if is_secret_var(k) {
                serde_json::Value::String("<redacted>".to_string())
            } else if let serde_json::Value::Object(inner) = v {
                serde_json::Value::Object(redact(inner))
            } else {
                v.clone()
            };
            (k.clone(), v)
        })
        .collect()
}
