//! Integration tests for corsfleet-inventory: loading, precedence, patterns (against a naive
//! set model) and bad inputs (snapshot-tested messages).

#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use corsfleet_inventory::{ConnectionKind, Inventory, PatternError};

/// Writes `files` (relative path → bytes) into a fresh temp dir.
fn tree(files: &[(&str, &[u8])]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    for (path, content) in files {
        let p = dir.path().join(path);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).expect("mkdir");
        }
        std::fs::write(&p, content).expect("write");
    }
    dir
}

fn load(
    dir: &tempfile::TempDir,
    sources: &[&str],
) -> Result<Inventory, corsfleet_inventory::InventoryError> {
    let paths: Vec<PathBuf> = sources.iter().map(|s| dir.path().join(s)).collect();
    Inventory::load(&paths)
}

mod loading {
    use super::*;

    const INV: &str = "\
all:
  vars:
    level: all
    only_all: 1
  hosts:
    solo:
  children:
    ucce:
      vars:
        level: ucce
      children:
        loggers:
          vars:
            level: loggers
          hosts:
            logger-a:
              side: a
            logger-b:
              side: b
              level: host-inline
        distributors:
          hosts:
            aw-a:
              side: a
    side_a:
      hosts:
        logger-a:
        aw-a:
";

    #[test]
    fn groups_hosts_and_order() {
        let d = tree(&[("inv.yml", INV.as_bytes())]);
        let inv = load(&d, &["inv.yml"]).unwrap();
        let names: Vec<&str> = inv.hosts().iter().map(|h| h.name.as_str()).collect();
        assert_eq!(names, ["solo", "logger-a", "logger-b", "aw-a"]);
        let la = inv.host("logger-a").unwrap();
        assert_eq!(la.groups, ["loggers", "side_a", "ucce"]);
        assert_eq!(inv.host("solo").unwrap().groups, Vec::<String>::new());
        let members = inv.group_members();
        assert_eq!(members["ungrouped"], ["solo"]);
        assert_eq!(members["ucce"], ["logger-a", "logger-b", "aw-a"]);
        assert_eq!(members["all"].len(), 4);
        assert_eq!(la.connection.address, "logger-a");
        assert_eq!(la.connection.kind, ConnectionKind::Ssh);
    }

    #[test]
    fn precedence_all_parent_child_host() {
        let d = tree(&[("inv.yml", INV.as_bytes())]);
        let inv = load(&d, &["inv.yml"]).unwrap();
        let level = |h: &str| inv.host(h).unwrap().vars["level"].clone();
        assert_eq!(level("solo"), "all");
        assert_eq!(level("aw-a"), "ucce");
        assert_eq!(level("logger-a"), "loggers");
        assert_eq!(level("logger-b"), "host-inline");
        assert_eq!(inv.host("aw-a").unwrap().vars["only_all"], 1);
    }

    #[test]
    fn vars_files_beat_inline_of_same_level_only() {
        let d = tree(&[
            ("inv.yml", INV.as_bytes()),
            ("group_vars/all.yml", b"level: all-file\nfrom_file: yes\n"),
            ("group_vars/ucce/main.yml", b"level: ucce-file\n"),
            ("group_vars/ucce/more.yaml", b"extra: 2\n"),
            ("host_vars/logger-b.yml", b"level: host-file\n"),
        ]);
        let inv = load(&d, &["inv.yml"]).unwrap();
        let level = |h: &str| inv.host(h).unwrap().vars["level"].clone();
        assert_eq!(level("solo"), "all-file");
        assert_eq!(level("aw-a"), "ucce-file");
        // The child group's inline vars still beat the parent's file.
        assert_eq!(level("logger-a"), "loggers");
        assert_eq!(level("logger-b"), "host-file");
        assert_eq!(inv.host("aw-a").unwrap().vars["extra"], 2);
        let loc = &inv.host("logger-b").unwrap().var_locations["level"];
        assert!(loc.file.ends_with("host_vars/logger-b.yml"));
        assert_eq!(loc.line, 1);
    }

    #[test]
    fn several_sources_and_directories() {
        let d = tree(&[
            ("a/hosts.yml", b"all:\n  children:\n    loggers:\n      hosts:\n        logger-a:\n"),
            ("a/more.yaml", b"all:\n  children:\n    loggers:\n      hosts:\n        logger-b:\n"),
            ("a/group_vars/loggers.yml", b"corsfleet_known_hosts: kh\n"),
            ("b.yml", b"all:\n  children:\n    distributors:\n      hosts:\n        aw-a:\n          ansible_ssh_private_key_file: k/id\n"),
        ]);
        let inv = load(&d, &["a", "b.yml"]).unwrap();
        let names: Vec<&str> = inv.hosts().iter().map(|h| h.name.as_str()).collect();
        assert_eq!(names, ["logger-a", "logger-b", "aw-a"]);
        assert_eq!(
            inv.host("logger-b").unwrap().connection.known_hosts,
            Some(d.path().join("a/kh"))
        );
        assert_eq!(
            inv.host("aw-a").unwrap().connection.private_key_file,
            Some(d.path().join("k/id"))
        );
    }

    #[test]
    fn graph_looks_like_ansible() {
        let d = tree(&[("inv.yml", INV.as_bytes())]);
        let inv = load(&d, &["inv.yml"]).unwrap();
        insta::assert_snapshot!(inv.graph());
    }

    #[test]
    fn shipped_inventories_load() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../inventory");
        let lab = Inventory::load(&[root.join("lab.yml")]).unwrap();
        let names: Vec<&str> = lab.hosts().iter().map(|h| h.name.as_str()).collect();
        assert_eq!(names, ["logger-a", "logger-b", "aw-a", "aw-b"]);
        assert!(
            lab.hosts()
                .iter()
                .all(|h| h.connection.kind == ConnectionKind::Local)
        );
        let sides: Vec<&str> = lab
            .hosts()
            .iter()
            .map(|h| h.vars["side"].as_str().unwrap())
            .collect();
        assert_eq!(sides, ["a", "b", "a", "b"]);
        let prod = Inventory::load(&[root.join("example-production.yml")]).unwrap();
        assert_eq!(prod.select("loggers:distributors").unwrap().len(), 8);
        assert_eq!(prod.select("site1:&~.*-a").unwrap().len(), 2);
    }

    #[test]
    fn overrides_rederive_connection() {
        let d = tree(&[("inv.yml", INV.as_bytes())]);
        let inv = load(&d, &["inv.yml"]).unwrap();
        let mut o = serde_json::Map::new();
        o.insert("corsfleet_https_port".into(), 8443.into());
        o.insert("ansible_connection".into(), "local".into());
        let origin = corsfleet_inventory::Location::new(Path::new("-e"), 0, 0);
        let h = inv
            .host("aw-a")
            .unwrap()
            .with_overrides(&o, &origin)
            .unwrap();
        assert_eq!(h.connection.https_port, 8443);
        assert_eq!(h.connection.kind, ConnectionKind::Local);
        o.insert("corsfleet_https_port".into(), 0.into());
        assert!(
            inv.host("aw-a")
                .unwrap()
                .with_overrides(&o, &origin)
                .is_err()
        );
    }

    #[test]
    fn secrets_are_redacted_in_debug() {
        let d = tree(&[(
            "inv.yml",
            b"all:\n  hosts:\n    h:\n      db_password: hunter2\n",
        )]);
        let inv = load(&d, &["inv.yml"]).unwrap();
        let dbg = format!("{:?}", inv.host("h").unwrap());
        assert!(!dbg.contains("hunter2"), "{dbg}");
        assert!(dbg.contains("<redacted>"));
    }
}

mod patterns {
    use super::*;
    use proptest::prelude::*;

    /// A random inventory: hosts h0.., groups g0.., each group with some direct hosts and
    /// children only among later groups (so there is no cycle).
    #[derive(Debug, Clone)]
    struct Model {
        hosts: usize,
        direct: Vec<BTreeSet<usize>>,
        children: Vec<BTreeSet<usize>>,
    }

    fn model() -> impl Strategy<Value = Model> {
        (1usize..8, 1usize..6).prop_flat_map(|(h, g)| {
            let direct = proptest::collection::vec(proptest::collection::btree_set(0..h, 0..=h), g);
            let children =
                proptest::collection::vec(proptest::collection::btree_set(0..g, 0..=2), g);
            (Just(h), direct, children).prop_map(|(hosts, direct, children)| {
                let children = children
                    .into_iter()
                    .enumerate()
                    .map(|(i, set)| set.into_iter().filter(|c| *c > i).collect())
                    .collect();
                Model {
                    hosts,
                    direct,
                    children,
                }
            })
        })
    }

    impl Model {
        fn yaml(&self) -> String {
            let mut s = String::from("all:\n  hosts:\n");
            for h in 0..self.hosts {
                s.push_str(&format!("    h{h}:\n"));
            }
            s.push_str("  children:\n");
            for (g, direct) in self.direct.iter().enumerate() {
                s.push_str(&format!("    g{g}:\n      hosts:\n"));
                for h in direct {
                    s.push_str(&format!("        h{h}:\n"));
                }
                s.push_str("      children:\n");
                for c in &self.children[g] {
                    s.push_str(&format!("        g{c}:\n"));
                }
            }
            s
        }

        fn members(&self, g: usize) -> BTreeSet<String> {
            let mut out: BTreeSet<String> =
                self.direct[g].iter().map(|h| format!("h{h}")).collect();
            for c in &self.children[g] {
                out.extend(self.members(*c));
            }
            out
        }

        fn names(&self) -> Vec<String> {
            (0..self.direct.len())
                .map(|g| format!("g{g}"))
                .chain((0..self.hosts).map(|h| format!("h{h}")))
                .collect()
        }

        /// The naive meaning of one term: every name it matches, expanded.
        fn term(&self, t: &str) -> BTreeSet<String> {
            let all: BTreeSet<String> = (0..self.hosts).map(|h| format!("h{h}")).collect();
            if t == "all" || t == "*" {
                return all;
            }
            let matches = |name: &str| {
                if let Some(p) = t.strip_suffix('*') {
                    name.starts_with(p)
                } else if let Some(p) = t.strip_prefix('~') {
                    name.starts_with(p)
                } else {
                    name == t
                }
            };
            let mut out = BTreeSet::new();
            for n in self.names() {
                if matches(&n) {
                    if let Some(g) = n.strip_prefix('g') {
                        out.extend(self.members(g.parse().unwrap()));
                    } else {
                        out.insert(n);
                    }
                }
            }
            out
        }
    }

    fn term_text() -> impl Strategy<Value = (u8, u8, usize, bool)> {
        // (operator, kind, index, host-or-group)
        (0u8..3, 0u8..4, 0usize..8, any::<bool>())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(96))]
        #[test]
        fn select_matches_naive_set_model(m in model(), raw in proptest::collection::vec(term_text(), 1..5), comma in any::<bool>()) {
            let names = m.names();
            let mut terms = Vec::new();
            for (op, kind, idx, _) in raw {
                let name = &names[idx % names.len()];
                let base = match kind {
                    0 | 1 => name.clone(),
                    2 => format!("{}*", &name[..1 + (idx % name.len())]),
                    _ => "all".to_string(),
                };
                let base = if kind == 1 { format!("~{}", &name[..1 + (idx % name.len())]) } else { base };
                let prefix = ["", "&", "!"][op as usize];
                terms.push((op, format!("{prefix}{base}"), base));
            }
            let pattern = terms.iter().map(|(_, t, _)| t.as_str()).collect::<Vec<_>>().join(if comma { "," } else { ":" });

            // Naive model: unions, then intersections, then exclusions.
            let all: BTreeSet<String> = (0..m.hosts).map(|h| format!("h{h}")).collect();
            let unions: Vec<&(u8, String, String)> = terms.iter().filter(|t| t.0 == 0).collect();
            let mut want: BTreeSet<String> = if unions.is_empty() { all.clone() } else { BTreeSet::new() };
            for t in &unions { want.extend(m.term(&t.2)); }
            for t in terms.iter().filter(|t| t.0 == 1) { let k = m.term(&t.2); want.retain(|h| k.contains(h)); }
            for t in terms.iter().filter(|t| t.0 == 2) { let k = m.term(&t.2); want.retain(|h| !k.contains(h)); }

            let d = tree(&[("inv.yml", m.yaml().as_bytes())]);
            let inv = load(&d, &["inv.yml"]).unwrap();
            match inv.select(&pattern) {
                Ok(hosts) => {
                    let got: Vec<String> = hosts.iter().map(|h| h.name.clone()).collect();
                    let mut sorted = got.clone();
                    sorted.sort_by_key(|n| n[1..].parse::<usize>().unwrap());
                    prop_assert_eq!(&got, &sorted, "inventory order");
                    prop_assert_eq!(got.into_iter().collect::<BTreeSet<_>>(), want, "pattern {}", pattern);
                }
                Err(PatternError::NothingSelected { .. }) => prop_assert!(want.is_empty(), "pattern {} should select {:?}", pattern, want),
                Err(e) => prop_assert!(false, "pattern {}: unexpected {}", pattern, e),
            }
        }
    }

    #[test]
    fn limit_intersects() {
        let d = tree(&[("inv.yml", b"all:\n  children:\n    a:\n      hosts:\n        x1:\n        y1:\n    b:\n      hosts:\n        y1:\n        z1:\n")]);
        let inv = load(&d, &["inv.yml"]).unwrap();
        let got: Vec<&str> = inv
            .select_with_limit("a", Some("b:x1"))
            .unwrap()
            .iter()
            .map(|h| h.name.as_str())
            .collect();
        assert_eq!(got, ["x1", "y1"]);
        assert!(matches!(
            inv.select_with_limit("a", Some("z1")),
            Err(PatternError::NothingSelected { .. })
        ));
        assert!(matches!(
            inv.select_with_limit("a", Some("nope")),
            Err(PatternError::NoMatch { .. })
        ));
    }
}

mod bad_inputs {
    use super::*;

    /// Loads a case and renders its errors as the CLI would, with the temp dir replaced.
    fn render(files: &[(&str, &[u8])], sources: &[&str]) -> String {
        let d = tree(files);
        let err = match load(&d, sources) {
            Ok(_) => return "loaded without error".to_string(),
            Err(e) => e,
        };
        let root = format!("{}/", d.path().display());
        let mut out = String::new();
        for diag in &err.diagnostics {
            out.push_str(&format!("error: {diag}\n"));
            if let Some(h) = &diag.hint {
                out.push_str(&format!("hint: {h}\n"));
            }
        }
        out.replace(&root, "")
    }

    fn one(content: &str) -> String {
        render(&[("inv.yml", content.as_bytes())], &["inv.yml"])
    }

    macro_rules! case {
        ($name:ident, $content:expr) => {
            #[test]
            fn $name() {
                let text = one($content);
                assert!(text.starts_with("error: "), "{text}");
                for line in text.lines() {
                    assert!(
                        line.starts_with("error: ") || line.starts_with("hint: "),
                        "{line}"
                    );
                }
                insta::assert_snapshot!(text);
            }
        };
    }

    case!(yaml_syntax, "all:\n  hosts: [a\n");
    case!(tab_indentation, "all:\n  hosts:\n\tlogger-a:\n");
    case!(unknown_group_key, "all:\n  host:\n    logger-a:\n");
    case!(
        duplicate_host,
        "all:\n  hosts:\n    logger-a:\n    logger-a:\n"
    );
    case!(hosts_as_list, "all:\n  hosts:\n    - logger-a\n");
    case!(
        port_out_of_range,
        "all:\n  hosts:\n    aw-a:\n      ansible_port: 70000\n"
    );
    case!(
        port_not_a_number,
        "all:\n  hosts:\n    aw-a:\n      ansible_port: ssh\n"
    );
    case!(
        https_port_zero,
        "all:\n  vars:\n    corsfleet_https_port: 0\n  hosts:\n    aw-a:\n"
    );
    case!(
        address_with_shell_metachar,
        "all:\n  hosts:\n    aw-a:\n      ansible_host: \"aw-a; rm -rf /\"\n"
    );
    case!(
        address_with_spaces,
        "all:\n  hosts:\n    aw-a:\n      ansible_host: aw a\n"
    );
    case!(
        group_cycle,
        "all:\n  children:\n    a:\n      children:\n        b:\n          children:\n            a:\n          hosts:\n            h:\n"
    );
    case!(empty_file, "");
    case!(no_hosts, "all:\n  children:\n    loggers:\n");
    case!(root_is_list, "- logger-a\n- logger-b\n");
    case!(vars_is_list, "all:\n  vars: [1, 2]\n  hosts:\n    h:\n");
    case!(
        plaintext_password,
        "all:\n  vars:\n    ansible_password: hunter2\n  hosts:\n    h:\n"
    );
    case!(
        ssh_pass,
        "all:\n  hosts:\n    h:\n      ansible_ssh_pass: hunter2\n"
    );
    case!(
        unknown_corsfleet_var,
        "all:\n  hosts:\n    h:\n      corsfleet_knwon_hosts: kh\n"
    );
    case!(
        unknown_ansible_var,
        "all:\n  hosts:\n    h:\n      ansible_prot: 22\n"
    );
    case!(
        connection_winrm,
        "all:\n  hosts:\n    h:\n      ansible_connection: winrm\n"
    );
    case!(host_range, "all:\n  hosts:\n    \"web[01:10]\":\n");
    case!(host_name_with_slash, "all:\n  hosts:\n    \"a/b\":\n");
    case!(bad_var_name, "all:\n  hosts:\n    h:\n      my-var: 1\n");
    case!(
        bad_group_name,
        "all:\n  children:\n    \"lo ggers\":\n      hosts:\n        h:\n"
    );
    case!(
        all_as_child,
        "all:\n  children:\n    g:\n      children:\n        all:\n      hosts:\n        h:\n"
    );
    case!(host_vars_scalar, "all:\n  hosts:\n    h: 5\n");
    case!(
        insecure_tls_string,
        "all:\n  hosts:\n    h:\n      corsfleet_insecure_tls: \"maybe\"\n"
    );
    case!(
        pin_too_short,
        "all:\n  hosts:\n    h:\n      corsfleet_pin_sha256: abcd\n"
    );
    case!(
        remote_shell_bash,
        "all:\n  hosts:\n    h:\n      corsfleet_remote_shell: bash\n"
    );
    case!(
        user_with_quote,
        "all:\n  hosts:\n    h:\n      ansible_user: \"x'y\"\n"
    );
    case!(boolean_key, "all:\n  hosts:\n    true:\n");
    case!(
        many_errors_at_once,
        "all:\n  hosts:\n    a:\n      ansible_port: 0\n    b:\n      ansible_password: x\n  childs:\n    g:\n"
    );

    #[test]
    fn binary_file() {
        let text = render(&[("inv.yml", b"all:\x00\x01\x02\xff")], &["inv.yml"]);
        insta::assert_snapshot!(text);
    }

    #[test]
    fn invalid_utf8() {
        let text = render(
            &[("inv.yml", b"all:\n  hosts:\n    h\xff\xfe:\n")],
            &["inv.yml"],
        );
        insta::assert_snapshot!(text);
    }

    #[test]
    fn missing_file() {
        insta::assert_snapshot!(render(&[], &["nope.yml"]));
    }

    #[test]
    fn group_vars_for_unknown_group() {
        let text = render(
            &[
                (
                    "inv.yml",
                    b"all:\n  children:\n    loggers:\n      hosts:\n        h:\n",
                ),
                ("group_vars/logers.yml", b"x: 1\n"),
            ],
            &["inv.yml"],
        );
        insta::assert_snapshot!(text);
    }

    #[test]
    fn bad_yaml_in_host_vars() {
        let text = render(
            &[
                ("inv.yml", b"all:\n  hosts:\n    h:\n"),
                ("host_vars/h.yml", b"a: 1\na: 2\n"),
            ],
            &["inv.yml"],
        );
        insta::assert_snapshot!(text);
    }

    #[test]
    fn alias_bomb_is_rejected_fast() {
        let mut s = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..15 {
            let p = i - 1;
            let refs = vec![format!("*a{p}"); 10].join(", ");
            s.push_str(&format!("a{i}: &a{i} [{refs}]\n"));
        }
        let start = std::time::Instant::now();
        let text = one(&s);
        // Generous for a loaded CI machine and a debug build; without limits this would
        // expand 10^15 nodes and never finish.
        let took = start.elapsed();
        assert!(took < std::time::Duration::from_secs(5), "{took:?}");
        eprintln!("alias bomb rejected in {took:?}");
        insta::assert_snapshot!(text);
    }

    #[test]
    fn deep_nesting_is_rejected() {
        let s = format!(
            "all:\n  vars:\n    x: {}{}\n",
            "[".repeat(200),
            "]".repeat(200)
        );
        let text = one(&s);
        assert!(text.starts_with("error: inv.yml:"), "{text}");
    }
}
