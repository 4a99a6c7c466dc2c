//! Reading inventory files, `group_vars/` and `host_vars/` into an [`Inventory`].
//!
//! Loading collects every problem it can find before giving up, so an admin fixes a file in
//! one pass. Variables are merged with Ansible's precedence, lowest first:
//! `all` < parent group < child group < host, where groups of equal depth are ordered by
//! `ansible_group_priority` then name, and at each level the `group_vars/` or `host_vars/`
//! file beats the inline `vars:` of the same group or host.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_json::{Map, Value as Json};

use crate::connection::{self, VarProblem};
use crate::yaml::{self, Diagnostic, Key, Location, Node, Value};
use crate::{Group, Host, Inventory, InventoryError};

const GROUP_KEYS: &[&str] = &["hosts", "vars", "children"];
/// Nesting deeper than this is almost certainly a mistake, and bounds the recursion.
const MAX_GROUP_DEPTH: usize = 32;

type VarDefs = Vec<(String, Json, Location)>;

#[derive(Default)]
struct Builder {
    diagnostics: Vec<Diagnostic>,
    groups: BTreeMap<String, GroupData>,
    group_order: Vec<String>,
    hosts: Vec<HostData>,
    host_index: BTreeMap<String, usize>,
    /// `group_vars`/`host_vars` folders already read (several inventory files may share one).
    vars_dirs: BTreeSet<PathBuf>,
}

#[derive(Default)]
struct GroupData {
    children: Vec<(String, Location)>,
    hosts: Vec<String>,
    location: Option<Location>,
    inline_vars: VarDefs,
    file_vars: VarDefs,
    has_parent: bool,
}

struct HostData {
    name: String,
    location: Location,
    base_dir: PathBuf,
    direct_groups: BTreeSet<String>,
    inline_vars: VarDefs,
    file_vars: VarDefs,
}

impl Builder {
    fn err(&mut self, location: &Location, message: impl Into<String>) {
        self.diagnostics
            .push(Diagnostic::new(location.clone(), message));
    }

    fn err_hint(
        &mut self,
        location: &Location,
        message: impl Into<String>,
        hint: impl Into<String>,
    ) {
        self.diagnostics
            .push(Diagnostic::new(location.clone(), message).with_hint(hint));
    }
}

pub(crate) fn load(sources: &[PathBuf]) -> Result<Inventory, InventoryError> {
    if sources.is_empty() {
        return Err(InventoryError::one(Diagnostic::new(
            Location::new(Path::new("-i"), 0, 0),
            "no inventory given",
        )));
    }
    let mut b = Builder::default();
    let mut vars_dirs_to_read: Vec<PathBuf> = Vec::new();
    for source in sources {
        let whole = Location::new(source, 0, 0);
        let meta = match std::fs::metadata(source) {
            Ok(m) => m,
            Err(_) => {
                b.err(&whole, "inventory not found");
                continue;
            }
        };
        let (files, base) = if meta.is_dir() {
            (inventory_files_in(source, &mut b), source.clone())
        } else {
            let base = source.parent().map(Path::to_path_buf).unwrap_or_default();
            (vec![source.clone()], base)
        };
        if meta.is_dir() && files.is_empty() {
            b.err(&whole, "inventory directory holds no .yml or .yaml file");
        }
        for file in files {
            match yaml::read_file(&file) {
                Ok(Some(node)) => read_inventory(&mut b, &node, &base),
                Ok(None) => {}
                Err(d) => b.diagnostics.push(d),
            }
        }
        if !vars_dirs_to_read.contains(&base) {
            vars_dirs_to_read.push(base);
        }
    }
    // `*_vars/` are read after every inventory file so they can name groups from any of them.
    for base in vars_dirs_to_read {
        read_vars_dirs(&mut b, &base);
    }
    finish(b, &sources[0])
}

/// `.yml`/`.yaml` files directly in an inventory directory, sorted.
fn inventory_files_in(dir: &Path, b: &mut Builder) -> Vec<PathBuf> {
    let mut files = Vec::new();
    match std::fs::read_dir(dir) {
        Ok(entries) => {
            for entry in entries.flatten() {
                let path = entry.path();
                let is_yaml = matches!(
                    path.extension().and_then(|e| e.to_str()),
                    Some("yml") | Some("yaml")
                );
                let hidden = path
                    .file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with('.'));
                if is_yaml && !hidden && path.is_file() {
                    files.push(path);
                }
            }
        }
        Err(_) => b.err(&Location::new(dir, 0, 0), "cannot read inventory directory"),
    }
    files.sort();
    files
}

fn read_inventory(b: &mut Builder, root: &Node, base: &Path) {
    let Value::Map(entries) = &root.value else {
        b.err_hint(
            &root.pos,
            format!(
                "inventory must be a mapping of groups, found {}",
                root.value.kind()
            ),
            "start with `all:` and put `hosts:`, `vars:` and `children:` under it",
        );
        return;
    };
    for (key, node) in entries {
        read_group(b, key, node, None, base, 0);
    }
}

fn valid_group_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

fn valid_host_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
}

fn read_group(
    b: &mut Builder,
    key: &Key,
    node: &Node,
    parent: Option<&str>,
    base: &Path,
    depth: usize,
) {
    let name = key.name.as_str();
    if depth > MAX_GROUP_DEPTH {
        b.err(
            &key.pos,
            format!("groups nested deeper than {MAX_GROUP_DEPTH} levels"),
        );
        return;
    }
    if !valid_group_name(name) {
        b.err_hint(
            &key.pos,
            format!("invalid group name `{name}`"),
            "group names are letters, digits, `_` and `-`, starting with a letter or `_`",
        );
        return;
    }
    if name == "ungrouped" && parent.is_some_and(|p| p != "all") {
        b.err(&key.pos, "`ungrouped` can only be a child of `all`");
    }
    if !b.groups.contains_key(name) {
        b.group_order.push(name.to_string());
    }
    let g = b.groups.entry(name.to_string()).or_default();
    if g.location.is_none() {
        g.location = Some(key.pos.clone());
    }
    if let Some(parent) = parent {
        if name == "all" {
            b.err(&key.pos, "`all` cannot be a child group");
            return;
        }
        if let Some(p) = b.groups.get_mut(parent)
            && !p.children.iter().any(|(c, _)| c == name)
        {
            p.children.push((name.to_string(), key.pos.clone()));
        }
        if let Some(g) = b.groups.get_mut(name) {
            g.has_parent = true;
        }
    }
    let entries = match &node.value {
        Value::Null => return,
        Value::Map(entries) => entries,
        other => {
            b.err_hint(
                &node.pos,
                format!("group `{name}` must be a mapping, found {}", other.kind()),
                "a group holds `hosts:`, `vars:` and `children:`",
            );
            return;
        }
    };
    for (k, v) in entries {
        match k.name.as_str() {
            "hosts" => read_hosts(b, name, v, base),
            "vars" => {
                let defs = read_vars(b, v, &format!("`vars` of group `{name}`"));
                if let Some(g) = b.groups.get_mut(name) {
                    g.inline_vars.extend(defs);
                }
            }
            "children" => match &v.value {
                Value::Null => {}
                Value::Map(children) => {
                    for (ck, cv) in children {
                        read_group(b, ck, cv, Some(name), base, depth + 1);
                    }
                }
                other => b.err_hint(
                    &v.pos,
                    format!(
                        "`children` of group `{name}` must be a mapping, found {}",
                        other.kind()
                    ),
                    "write each child group as `name:` on its own line",
                ),
            },
            other => unknown_key(b, k, other, GROUP_KEYS, &format!("group `{name}`")),
        }
    }
}

fn unknown_key(b: &mut Builder, k: &Key, name: &str, known: &[&str], what: &str) {
    let hint = match crate::suggest(name, known.iter().copied()) {
        Some(s) => format!("did you mean `{s}`? ({what} accepts: {})", known.join(", ")),
        None => format!("{what} accepts: {}", known.join(", ")),
    };
    b.err_hint(&k.pos, format!("unknown key `{name}` in {what}"), hint);
}

fn read_hosts(b: &mut Builder, group: &str, node: &Node, base: &Path) {
    let entries = match &node.value {
        Value::Null => return,
        Value::Map(entries) => entries,
        other => {
            b.err_hint(
                &node.pos,
                format!(
                    "`hosts` of group `{group}` must be a mapping, found {}",
                    other.kind()
                ),
                "write each host as `name:` on its own line (a list is not Ansible's format)",
            );
            return;
        }
    };
    for (k, v) in entries {
        let name = k.name.as_str();
        if !valid_host_name(name) {
            let hint = if name.contains('[') {
                "host ranges like `web[01:10]` are not supported; list each host"
            } else {
                "host names are letters, digits, `-`, `_` and `.`; put an address in `ansible_host`"
            };
            b.err_hint(&k.pos, format!("invalid host name `{name}`"), hint);
            continue;
        }
        let defs = match &v.value {
            Value::Null => Vec::new(),
            Value::Map(_) => read_vars(b, v, &format!("host `{name}`")),
            other => {
                b.err_hint(
                    &v.pos,
                    format!(
                        "host `{name}` must have a mapping of variables or nothing, found {}",
                        other.kind()
                    ),
                    "write `name:` alone, or variables indented under it",
                );
                Vec::new()
            }
        };
        let idx = match b.host_index.get(name) {
            Some(i) => *i,
            None => {
                b.hosts.push(HostData {
                    name: name.to_string(),
                    location: k.pos.clone(),
                    base_dir: base.to_path_buf(),
                    direct_groups: BTreeSet::new(),
                    inline_vars: Vec::new(),
                    file_vars: Vec::new(),
                });
                b.host_index.insert(name.to_string(), b.hosts.len() - 1);
                b.hosts.len() - 1
            }
        };
        b.hosts[idx].direct_groups.insert(group.to_string());
        b.hosts[idx].inline_vars.extend(defs);
        if let Some(g) = b.groups.get_mut(group)
            && !g.hosts.iter().any(|h| h == name)
        {
            g.hosts.push(name.to_string());
        }
    }
}

/// Reads a mapping of variables, checking each name.
fn read_vars(b: &mut Builder, node: &Node, what: &str) -> VarDefs {
    let entries = match &node.value {
        Value::Null => return Vec::new(),
        Value::Map(entries) => entries,
        other => {
            b.err(
                &node.pos,
                format!(
                    "{what} must be a mapping of variables, found {}",
                    other.kind()
                ),
            );
            return Vec::new();
        }
    };
    let mut out = Vec::new();
    for (k, v) in entries {
        if let Err((message, hint)) = connection::check_var_name(&k.name) {
            b.diagnostics.push(Diagnostic {
                location: k.pos.clone(),
                message,
                hint,
            });
            continue;
        }
        out.push((k.name.clone(), v.to_json(), v.pos.clone()));
    }
    out
}

fn read_vars_dirs(b: &mut Builder, base: &Path) {
    if !b.vars_dirs.insert(base.to_path_buf()) {
        return;
    }
    for (kind, is_group) in [("group_vars", true), ("host_vars", false)] {
        let dir = base.join(kind);
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut paths: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
        paths.sort();
        for path in paths {
            let Some(file_name) = path.file_name().and_then(|n| n.to_str()) else {
                continue;
            };
            if file_name.starts_with('.') {
                continue;
            }
            let (target, files) = if path.is_dir() {
                let mut files: Vec<PathBuf> = std::fs::read_dir(&path)
                    .map(|es| {
                        es.flatten()
                            .map(|e| e.path())
                            .filter(|p| is_vars_file(p))
                            .collect()
                    })
                    .unwrap_or_default();
                files.sort();
                (file_name.to_string(), files)
            } else if is_vars_file(&path) {
                let stem = path
                    .file_stem()
                    .and_then(|s| s.to_str())
                    .unwrap_or_default();
                (stem.to_string(), vec![path.clone()])
            } else {
                continue;
            };
            let exists = if is_group {
                b.groups.contains_key(&target) || target == "all" || target == "ungrouped"
            } else {
                b.host_index.contains_key(&target)
            };
            if !exists {
                let what = if is_group { "group" } else { "host" };
                let candidates: Vec<String> = if is_group {
                    b.groups.keys().cloned().collect()
                } else {
                    b.host_index.keys().cloned().collect()
                };
                let hint = crate::suggest(&target, candidates.iter().map(String::as_str))
                    .map(|s| format!("did you mean `{s}`?"))
                    .unwrap_or_else(|| format!("rename or remove it; no {what} has that name"));
                b.err_hint(
                    &Location::new(&path, 0, 0),
                    format!("{kind} file for unknown {what} `{target}`"),
                    hint,
                );
                continue;
            }
            for file in files {
                let defs = match yaml::read_file(&file) {
                    Ok(Some(node)) => read_vars(b, &node, &format!("{kind} file")),
                    Ok(None) => Vec::new(),
                    Err(d) => {
                        b.diagnostics.push(d);
                        Vec::new()
                    }
                };
                if is_group {
                    b.groups
                        .entry(target.clone())
                        .or_default()
                        .file_vars
                        .extend(defs);
                } else if let Some(i) = b.host_index.get(&target).copied() {
                    b.hosts[i].file_vars.extend(defs);
                }
            }
        }
    }
}

fn is_vars_file(p: &Path) -> bool {
    p.is_file()
        && matches!(
            p.extension().and_then(|e| e.to_str()),
            Some("yml") | Some("yaml")
        )
}

fn finish(mut b: Builder, first_source: &Path) -> Result<Inventory, InventoryError> {
    if b.hosts.is_empty() && b.diagnostics.is_empty() {
        b.err_hint(
            &Location::new(first_source, 0, 0),
            "inventory has no hosts",
            "add hosts under `all: hosts:` or a group's `hosts:`",
        );
    }
    // Implicit groups: every top-level group is a child of `all`; hosts in no group are
    // `ungrouped`.
    b.groups.entry("all".to_string()).or_default();
    let top: Vec<String> = b
        .group_order
        .iter()
        .filter(|g| g.as_str() != "all" && !b.groups.get(g.as_str()).is_some_and(|d| d.has_parent))
        .cloned()
        .collect();
    let all_hosts: Vec<String> = b.hosts.iter().map(|h| h.name.clone()).collect();
    let ungrouped: Vec<String> = b
        .hosts
        .iter()
        .filter(|h| {
            h.direct_groups
                .iter()
                .all(|g| g == "all" || g == "ungrouped")
        })
        .map(|h| h.name.clone())
        .collect();
    {
        let all = b.groups.entry("all".to_string()).or_default();
        for g in top {
            if !all.children.iter().any(|(c, _)| *c == g) {
                all.children
                    .push((g, Location::new(Path::new("inventory"), 0, 0)));
            }
        }
        // Hosts written directly under `all:` are only members through `ungrouped`.
        all.hosts.retain(|_| false);
    }
    {
        let ug = b.groups.entry("ungrouped".to_string()).or_default();
        for h in &ungrouped {
            if !ug.hosts.contains(h) {
                ug.hosts.push(h.clone());
            }
        }
    }
    if !b.groups["all"]
        .children
        .iter()
        .any(|(c, _)| c == "ungrouped")
        && let Some(all) = b.groups.get_mut("all")
    {
        all.children.push((
            "ungrouped".to_string(),
            Location::new(Path::new("inventory"), 0, 0),
        ));
    }
    for h in &ungrouped {
        if let Some(&i) = b.host_index.get(h) {
            b.hosts[i].direct_groups.insert("ungrouped".to_string());
        }
    }

    detect_cycles(&mut b);
    if !b.diagnostics.is_empty() {
        return Err(InventoryError {
            diagnostics: b.diagnostics,
        });
    }

    // Parents, depth and priority per group.
    let mut parents: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (g, data) in &b.groups {
        for (c, _) in &data.children {
            parents.entry(c.clone()).or_default().push(g.clone());
        }
    }
    let mut depth: BTreeMap<String, usize> = BTreeMap::new();
    for g in b.groups.keys() {
        group_depth(g, &parents, &mut depth);
    }
    let mut priority: BTreeMap<String, i64> = BTreeMap::new();
    for (g, data) in &b.groups {
        let p = data
            .inline_vars
            .iter()
            .chain(&data.file_vars)
            .rev()
            .find(|(k, _, _)| k == "ansible_group_priority");
        if let Some((_, v, loc)) = p {
            match v.as_i64() {
                Some(n) => {
                    priority.insert(g.clone(), n);
                }
                None => b.diagnostics.push(Diagnostic::new(
                    loc.clone(),
                    "`ansible_group_priority` must be an integer",
                )),
            }
        }
    }

    // Transitive membership: a host is in each of its direct groups and all their ancestors.
    let mut members: BTreeMap<String, BTreeSet<String>> = b
        .groups
        .keys()
        .map(|g| (g.clone(), BTreeSet::new()))
        .collect();
    let mut hosts = Vec::with_capacity(b.hosts.len());
    for h in &b.hosts {
        let mut groups: BTreeSet<String> = BTreeSet::new();
        let mut stack: Vec<String> = h.direct_groups.iter().cloned().collect();
        stack.push("all".to_string());
        while let Some(g) = stack.pop() {
            if groups.insert(g.clone()) {
                stack.extend(parents.get(&g).cloned().unwrap_or_default());
            }
        }
        for g in &groups {
            members.entry(g.clone()).or_default().insert(h.name.clone());
        }
        let mut ordered: Vec<&String> = groups.iter().collect();
        ordered.sort_by_key(|g| {
            (
                depth.get(*g).copied().unwrap_or(0),
                priority.get(*g).copied().unwrap_or(1),
                (*g).clone(),
            )
        });
        let mut vars = Map::new();
        let mut var_locations = BTreeMap::new();
        let mut apply = |defs: &VarDefs| {
            for (k, v, loc) in defs {
                vars.insert(k.clone(), v.clone());
                var_locations.insert(k.clone(), loc.clone());
            }
        };
        for g in ordered {
            if let Some(data) = b.groups.get(g) {
                apply(&data.inline_vars);
                apply(&data.file_vars);
            }
        }
        apply(&h.inline_vars);
        apply(&h.file_vars);
        let mut host = Host {
            name: h.name.clone(),
            groups: groups
                .into_iter()
                .filter(|g| g != "all" && g != "ungrouped")
                .collect(),
            vars,
            connection: placeholder_connection(),
            location: h.location.clone(),
            var_locations,
            base_dir: h.base_dir.clone(),
        };
        match connection::from_vars(&host.name, &host.vars, &host.base_dir) {
            Ok(c) => host.connection = c,
            Err(problems) => b
                .diagnostics
                .extend(problems_to_diagnostics(&host, problems)),
        }
        hosts.push(host);
    }
    if !b.diagnostics.is_empty() {
        return Err(InventoryError {
            diagnostics: b.diagnostics,
        });
    }
    let groups = b
        .groups
        .into_iter()
        .map(|(name, d)| {
            let group = Group {
                name: name.clone(),
                children: d.children.into_iter().map(|(c, _)| c).collect(),
                hosts: d.hosts,
                location: d.location,
            };
            (name, group)
        })
        .collect();
    Ok(Inventory {
        host_names: all_hosts,
        hosts,
        groups,
        members,
    })
}

fn placeholder_connection() -> crate::ConnectionSpec {
    crate::ConnectionSpec {
        kind: crate::ConnectionKind::Ssh,
        address: String::new(),
        port: 22,
        user: None,
        private_key_file: None,
        password_env: None,
        known_hosts: None,
        remote_shell: crate::RemoteShell::Cmd,
        local_root: None,
        https_port: 443,
        ca_file: None,
        tls_server_name: None,
        pin_sha256: None,
        insecure_tls: false,
    }
}

pub(crate) fn problems_to_diagnostics(host: &Host, problems: Vec<VarProblem>) -> Vec<Diagnostic> {
    problems
        .into_iter()
        .map(|p| {
            let location = host
                .var_locations
                .get(&p.var)
                .cloned()
                .unwrap_or_else(|| host.location.clone());
            Diagnostic::new(location, format!("host `{}`: {}", host.name, p.message))
        })
        .collect()
}

fn group_depth(
    g: &str,
    parents: &BTreeMap<String, Vec<String>>,
    memo: &mut BTreeMap<String, usize>,
) -> usize {
    if let Some(d) = memo.get(g) {
        return *d;
    }
    // Cycles were rejected before, so this recursion terminates.
    let d = parents
        .get(g)
        .map(|ps| {
            ps.iter()
                .map(|p| group_depth(p, parents, memo) + 1)
                .max()
                .unwrap_or(0)
        })
        .unwrap_or(0);
    memo.insert(g.to_string(), d);
    d
}

fn detect_cycles(b: &mut Builder) {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Active,
        Done,
    }
    let mut marks: BTreeMap<String, Mark> =
        b.groups.keys().map(|g| (g.clone(), Mark::New)).collect();
    let mut found: Vec<(Vec<String>, Location)> = Vec::new();
    let names: Vec<String> = b.groups.keys().cloned().collect();
    for start in names {
        if marks[&start] != Mark::New {
            continue;
        }
        // Iterative DFS: (group, next child index); the path is the stack itself.
        let mut stack: Vec<(String, usize)> = vec![(start.clone(), 0)];
        marks.insert(start, Mark::Active);
        while let Some((g, i)) = stack.last().cloned() {
            let child = b.groups.get(&g).and_then(|d| d.children.get(i).cloned());
            match child {
                None => {
                    marks.insert(g, Mark::Done);
                    stack.pop();
                }
                Some((c, loc)) => {
                    if let Some(top) = stack.last_mut() {
                        top.1 += 1;
                    }
                    match marks.get(&c).copied().unwrap_or(Mark::Done) {
                        Mark::New => {
                            marks.insert(c.clone(), Mark::Active);
                            stack.push((c, 0));
                        }
                        Mark::Active => {
                            let from = stack.iter().position(|(n, _)| *n == c).unwrap_or(0);
                            let mut cycle: Vec<String> =
                                stack[from..].iter().map(|(n, _)| n.clone()).collect();
                            cycle.push(c);
                            found.push((cycle, loc));
                        }
                        Mark::Done => {}
                    }
                }
            }
        }
    }
    for (cycle, loc) in found {
        b.err_hint(
            &loc,
            format!("group cycle: {}", cycle.join(" → ")),
            "a group cannot be its own ancestor; remove one `children:` entry",
        );
    }
}
