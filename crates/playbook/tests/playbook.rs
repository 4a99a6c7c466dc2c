//! Integration tests for corsfleet-playbook: loading, templating for hosts, variable
//! precedence, and bad inputs with snapshot-tested messages.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use corsfleet_inventory::Inventory;
use corsfleet_playbook::{
    BatchSize, ExtraVars, ModuleArgs, ModuleKind, Playbook, template_task, template_task_all,
};

const INV: &str = "\
all:
  vars:
    finesse_origins:
      - https://finesse-a.lab.local:8445
      - https://finesse-b.lab.local:8445
    who: inventory
  children:
    loggers:
      hosts:
        logger-a: { side: a, ansible_connection: local }
        logger-b: { side: b, ansible_connection: local }
    distributors:
      hosts:
        aw-a: { side: a, ansible_connection: local }
";

fn tree(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (path, content) in files {
        let p = dir.path().join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, content).unwrap();
    }
    dir
}

fn extra(args: &[&str]) -> ExtraVars {
    ExtraVars::parse(&args.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap()
}

const SHA: &str = "8a0b60af8435a266a67dd1df713d380b6267376a0608203d8468a5792351bb24";

mod templating {
    use super::*;

    #[test]
    fn a_runaway_template_is_an_error_not_a_hang() {
        let dir = tree(&[
            (
                "inv.yml",
                "all:\n  hosts:\n    h1: { ansible_connection: local }\n",
            ),
            (
                "pb.yml",
                "- name: p\n  hosts: all\n  tasks:\n    - name: t\n      web_config_cors:\n        origins: \"{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}\"\n",
            ),
        ]);
        let pb = Playbook::load(&dir.path().join("pb.yml")).unwrap();
        let inv = Inventory::load(&[dir.path().join("inv.yml")]).unwrap();
        let play = &pb.plays[0];
        let host = inv.select("all").unwrap()[0];
        let err = template_task(&pb, play, &play.tasks[0], host, &inv, &extra(&[]))
            .expect_err("a template past its fuel must fail");
        assert!(err.to_string().contains("fuel"), "{err}");
    }

    #[test]
    fn shipped_playbook_templates_for_the_lab() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let pb = Playbook::load(&root.join("playbooks/enable-cors.yml")).unwrap();
        let inv = Inventory::load(&[root.join("inventory/lab.yml")]).unwrap();
        let e = extra(&[
            "cors_msi_src=/srv/IISCORS_amd64.msi",
            &format!("cors_msi_sha256={}", SHA.to_uppercase()),
        ]);
        let play = &pb.plays[0];
        assert_eq!(play.hosts, "loggers:distributors");
        assert_eq!(play.batch_by.as_deref(), Some("side"));
        assert_eq!(play.max_fail_percentage, Some(0));
        let kinds: Vec<ModuleKind> = play.tasks.iter().map(|t| t.module).collect();
        assert_eq!(
            kinds,
            [
                ModuleKind::IisFacts,
                ModuleKind::MsiInstall,
                ModuleKind::WebConfigCors,
                ModuleKind::CorsPreflight
            ]
        );
        for host in inv.select(&play.hosts).unwrap() {
            for (i, spec) in play.tasks.iter().enumerate() {
                let task = template_task(&pb, play, spec, host, &inv, &e).unwrap();
                assert_eq!(task.index, i);
                assert!(task.run);
                match task.args {
                    ModuleArgs::MsiInstall(a) => {
                        assert_eq!(a.src, PathBuf::from("/srv/IISCORS_amd64.msi"));
                        assert_eq!(a.sha256, SHA);
                        assert_eq!(a.dest, r"C:\Windows\Temp");
                        assert_eq!(
                            (a.max_busy_retries, a.busy_delay),
                            (5, Duration::from_secs(10))
                        );
                    }
                    ModuleArgs::WebConfigCors(a) => {
                        let origins: Vec<&str> =
                            a.policy.origins.iter().map(|o| o.origin.as_str()).collect();
                        assert_eq!(
                            origins,
                            [
                                "https://finesse-a.lab.local:8445",
                                "https://finesse-b.lab.local:8445"
                            ]
                        );
                        assert!(a.policy.enabled && a.policy.fail_unlisted_origins);
                        assert!(a.backup && !a.force);
                        assert_eq!(a.policy.origins[0].max_age, Some(120));
                    }
                    ModuleArgs::CorsPreflight(a) => {
                        assert_eq!(a.origins.len(), 2);
                        assert_eq!(a.method, "PUT");
                        assert_eq!(
                            a.deny_origin.as_deref(),
                            Some("https://corsfleet-denied.invalid")
                        );
                        assert_eq!(a.url, None);
                    }
                    ModuleArgs::IisFacts(a) => {
                        assert_eq!(a.web_config, r"C:\icm\tomcat\bin\i386\web.config");
                        assert_eq!(a.min_iis_major, 10);
                    }
                }
            }
        }
    }

    const PB: &str = r#"
- name: P
  hosts: all
  serial: [1, "50%"]
  vars:
    who: play
    greeting: "hello {{ inventory_hostname }} from {{ who }}"
    chained: "{{ greeting }}!"
  tasks:
    - name: "facts for {{ inventory_hostname }} ({{ groups['loggers'] | length }} loggers)"
      when: side == 'a'
      retries: 3
      delay: 2
      timeout: 30
      tags: [facts]
      iis_facts:
        web_config: 'C:\inetpub\{{ chained }}\web.config'
"#;

    #[test]
    fn precedence_when_and_magic_vars() {
        let d = tree(&[("inv.yml", INV), ("pb.yml", PB)]);
        let pb = Playbook::load(&d.path().join("pb.yml")).unwrap();
        let inv = Inventory::load(&[d.path().join("inv.yml")]).unwrap();
        let play = &pb.plays[0];
        assert_eq!(play.serial, [BatchSize::Count(1), BatchSize::Percent(50)]);
        let spec = &play.tasks[0];
        let la = inv.host("logger-a").unwrap();
        let t = template_task(&pb, play, spec, la, &inv, &ExtraVars::default()).unwrap();
        assert!(t.run);
        assert_eq!(t.name, "facts for logger-a (2 loggers)");
        assert_eq!(
            (t.retries, t.delay, t.timeout),
            (3, Duration::from_secs(2), Some(Duration::from_secs(30)))
        );
        let ModuleArgs::IisFacts(a) = &t.args else {
            panic!("iis_facts")
        };
        assert_eq!(
            a.web_config,
            r"C:\inetpub\hello logger-a from play!\web.config"
        );

        let t = template_task(&pb, play, spec, la, &inv, &extra(&["who=cli"])).unwrap();
        let ModuleArgs::IisFacts(a) = &t.args else {
            panic!("iis_facts")
        };
        assert_eq!(
            a.web_config,
            r"C:\inetpub\hello logger-a from cli!\web.config"
        );

        let lb = inv.host("logger-b").unwrap();
        assert!(
            !template_task(&pb, play, spec, lb, &inv, &ExtraVars::default())
                .unwrap()
                .run
        );
    }

    #[test]
    fn undefined_variable_names_play_task_host_and_line() {
        let pb_text = "- name: P\n  hosts: loggers\n  tasks:\n    - name: T\n      msi_install:\n        src: \"{{ nope }}\"\n        sha256: \"{{ also_nope }}\"\n";
        let d = tree(&[("inv.yml", INV), ("pb.yml", pb_text)]);
        let pb = Playbook::load(&d.path().join("pb.yml")).unwrap();
        let inv = Inventory::load(&[d.path().join("inv.yml")]).unwrap();
        let host = inv.host("logger-b").unwrap();
        let errs = template_task_all(
            &pb,
            &pb.plays[0],
            &pb.plays[0].tasks[0],
            host,
            &inv,
            &ExtraVars::default(),
        )
        .unwrap_err();
        assert_eq!(errs.len(), 2);
        let msg = errs[0].to_string();
        assert!(msg.contains("pb.yml:6:14:"), "{msg}");
        for part in [
            "undefined variable `nope`",
            "task `T`",
            "play `P`",
            "host `logger-b`",
        ] {
            assert!(msg.contains(part), "{part} missing in {msg}");
        }
    }

    #[test]
    fn native_types_only_for_a_lone_expression() {
        let pb_text = "- hosts: aw-a\n  tasks:\n    - cors_preflight:\n        origins: \"{{ finesse_origins }}\"\n        attempts: \"{{ n }}\"\n        method: \"{{ 'p' ~ 'ut' }}\"\n        headers: \"{{ finesse_origins | length }}x\"\n";
        let d = tree(&[("inv.yml", INV), ("pb.yml", pb_text)]);
        let pb = Playbook::load(&d.path().join("pb.yml")).unwrap();
        let inv = Inventory::load(&[d.path().join("inv.yml")]).unwrap();
        let e = ExtraVars::parse(&[r#"{"n": 7}"#.to_string()]).unwrap();
        let t = template_task(
            &pb,
            &pb.plays[0],
            &pb.plays[0].tasks[0],
            inv.host("aw-a").unwrap(),
            &inv,
            &e,
        )
        .unwrap();
        let ModuleArgs::CorsPreflight(a) = t.args else {
            panic!()
        };
        assert_eq!(a.origins.len(), 2);
        assert_eq!(a.attempts, 7);
        assert_eq!(a.method, "PUT");
        assert_eq!(a.headers, ["2x"]);
        assert_eq!(t.name, "cors_preflight");
    }

    #[test]
    fn extra_vars_forms() {
        let d = tree(&[(
            "vars.yml",
            "origins:\n  - https://x.example:8445\nport: 8443\n",
        )]);
        let at = format!("@{}", d.path().join("vars.yml").display());
        let e =
            ExtraVars::parse(&["a=1 b=two".to_string(), at, r#"{"b": [1]}"#.to_string()]).unwrap();
        assert_eq!(e.vars()["a"], "1");
        assert_eq!(e.vars()["b"], serde_json::json!([1]));
        assert_eq!(e.vars()["port"], 8443);
        assert!(ExtraVars::parse(&["novalue".to_string()]).is_err());
        assert!(ExtraVars::parse(&["ansible_password=x".to_string()]).is_err());
        let dbg = format!("{:?}", extra(&["api_token=s3cret"]));
        assert!(!dbg.contains("s3cret"), "{dbg}");
    }
}

mod bad_inputs {
    use super::*;

    /// Loads the playbook and, when it loads, templates every task for every host; renders
    /// all errors with the temp dir removed.
    fn render(pb_text: &str, extra_args: &[&str]) -> String {
        let d = tree(&[("inv.yml", INV), ("pb.yml", pb_text)]);
        let root = format!("{}/", d.path().display());
        let mut errors = Vec::new();
        match Playbook::load(&d.path().join("pb.yml")) {
            Err(e) => errors = e.0,
            Ok(pb) => {
                let inv = Inventory::load(&[d.path().join("inv.yml")]).unwrap();
                let e = extra(extra_args);
                for play in &pb.plays {
                    for host in inv.select(&play.hosts).unwrap() {
                        for task in &play.tasks {
                            if let Err(errs) = template_task_all(&pb, play, task, host, &inv, &e) {
                                errors.extend(errs);
                            }
                        }
                    }
                }
            }
        }
        let mut out = String::new();
        for e in &errors {
            out.push_str(&format!("error: {e}\n"));
            if let Some(h) = &e.hint {
                out.push_str(&format!("hint: {h}\n"));
            }
        }
        if out.is_empty() {
            "no error".to_string()
        } else {
            out.replace(&root, "")
        }
    }

    macro_rules! case {
        ($name:ident, $content:expr) => {
            case!($name, $content, &[]);
        };
        ($name:ident, $content:expr, $extra:expr) => {
            #[test]
            fn $name() {
                let text = render($content, $extra);
                assert!(text.starts_with("error: pb.yml"), "{text}");
                insta::assert_snapshot!(text);
            }
        };
    }

    const HEAD: &str = "- name: P\n  hosts: aw-a\n  tasks:\n";

    fn with_task(task: &str) -> String {
        format!("{HEAD}{task}")
    }

    case!(empty_playbook, "# nothing\n");
    case!(not_a_list, "hosts: all\n");
    case!(
        ansible_only_play_key,
        "- hosts: all\n  gather_facts: false\n  tasks:\n    - iis_facts:\n"
    );
    case!(missing_hosts_and_tasks, "- name: P\n");
    case!(
        bad_host_pattern,
        "- hosts: \"a::b\"\n  tasks:\n    - iis_facts:\n"
    );
    case!(
        serial_bad,
        "- hosts: all\n  serial: [\"150%\", 0]\n  tasks:\n    - iis_facts:\n"
    );
    case!(
        max_fail_too_big,
        "- hosts: all\n  max_fail_percentage: 150\n  tasks:\n    - iis_facts:\n"
    );
    case!(tasks_empty, "- hosts: all\n  tasks: []\n");
    case!(
        any_errors_fatal_string,
        "- hosts: all\n  any_errors_fatal: \"yes please\"\n  tasks:\n    - iis_facts:\n"
    );

    #[test]
    fn task_level_errors() {
        let cases: &[(&str, &str)] = &[
            (
                "two_modules",
                "    - iis_facts:\n      msi_install: { src: a, sha256: b }\n",
            ),
            ("no_module", "    - name: nothing\n"),
            ("unknown_task_key", "    - iis_facts:\n      retry: 3\n"),
            ("unknown_module", "    - win_shell: dir\n"),
            (
                "ansible_keyword",
                "    - iis_facts:\n      register: facts\n",
            ),
            (
                "unknown_param",
                "    - web_config_cors:\n        origins: [https://a.example:8445]\n        max_agee: 5\n",
            ),
            (
                "missing_required_param",
                "    - msi_install:\n        src: x.msi\n",
            ),
            ("params_not_mapping", "    - msi_install: x.msi\n"),
            (
                "when_with_braces",
                "    - iis_facts:\n      when: \"{{ side == 'a' }}\"\n",
            ),
            ("retries_negative", "    - iis_facts:\n      retries: -1\n"),
            ("timeout_zero", "    - iis_facts:\n      timeout: 0\n"),
            ("tags_mapping", "    - iis_facts:\n      tags: { a: 1 }\n"),
            (
                "ignore_errors_string",
                "    - iis_facts:\n      ignore_errors: sometimes\n",
            ),
            (
                "undefined_in_param",
                "    - name: Install\n      msi_install:\n        src: \"{{ msi }}\"\n        sha256: \"{{ sha }}\"\n",
            ),
            (
                "undefined_in_when",
                "    - iis_facts:\n      when: colour == 'red'\n",
            ),
            (
                "undefined_in_name",
                "    - name: \"{{ what }}\"\n      iis_facts:\n",
            ),
            (
                "template_syntax",
                "    - iis_facts:\n        web_config: \"{{ 'C:\\\\x' + }}\"\n",
            ),
            (
                "sha256_wrong",
                "    - msi_install:\n        src: x.msi\n        sha256: abc\n",
            ),
            (
                "origin_with_path",
                "    - web_config_cors:\n        origins: [\"https://finesse.example:8445/desktop\"]\n",
            ),
            (
                "wildcard_with_credentials",
                "    - web_config_cors:\n        origins: [\"*\"]\n",
            ),
            (
                "duplicate_origin",
                "    - web_config_cors:\n        origins: [https://a.example:8445, https://a.example:8445]\n",
            ),
            (
                "bad_method_token",
                "    - web_config_cors:\n        origins: [https://a.example:8445]\n        allow_methods: [\"PU T\"]\n",
            ),
            (
                "relative_windows_path",
                "    - iis_facts:\n        web_config: icm/web.config\n",
            ),
            (
                "min_iis_string",
                "    - iis_facts:\n        min_iis_major: ten\n",
            ),
            (
                "preflight_bad_url",
                "    - cors_preflight:\n        url: ftp://aw-a/x\n        origins: [https://a.example:8445]\n",
            ),
            (
                "preflight_origins_number",
                "    - cors_preflight:\n        origins: 5\n",
            ),
            (
                "max_age_huge",
                "    - web_config_cors:\n        origins: [https://a.example:8445]\n        max_age: 100000000\n",
            ),
        ];
        let mut all = String::new();
        for (name, task) in cases {
            let text = render(&with_task(task), &[]);
            assert!(text.starts_with("error: pb.yml:"), "{name}: {text}");
            for line in text.lines() {
                assert!(
                    line.starts_with("error: ") || line.starts_with("hint: "),
                    "{name}: {line}"
                );
            }
            all.push_str(&format!("--- {name}\n{text}"));
        }
        insta::assert_snapshot!(all);
    }

    #[test]
    fn variable_cycle_is_reported() {
        let text = render(
            "- hosts: aw-a\n  vars:\n    a: \"{{ b }}\"\n    b: \"{{ a }}x\"\n  tasks:\n    - iis_facts:\n",
            &[],
        );
        assert!(text.contains("variable `"), "{text}");
        insta::assert_snapshot!(text);
    }
}

mod batching {
    use super::*;

    fn play(serial: &str, batch_by: bool) -> (tempfile::TempDir, Playbook, Inventory) {
        let by = if batch_by { "  batch_by: side\n" } else { "" };
        let text = format!("- hosts: all\n{by}{serial}  tasks:\n    - iis_facts:\n");
        let inv = "all:\n  hosts:\n    l-a: {side: a}\n    l-b: {side: b}\n    w-a: {side: a}\n    w-b: {side: b}\n    x-a: {side: a}\n";
        let d = tree(&[("inv.yml", inv), ("pb.yml", &text)]);
        let pb = Playbook::load(&d.path().join("pb.yml")).unwrap();
        let inv = Inventory::load(&[d.path().join("inv.yml")]).unwrap();
        (d, pb, inv)
    }

    fn names(pb: &Playbook, inv: &Inventory) -> Vec<Vec<String>> {
        let hosts: Vec<_> = inv.hosts().iter().collect();
        pb.plays[0]
            .batches(&hosts)
            .into_iter()
            .map(|b| b.iter().map(|h| h.name.clone()).collect())
            .collect()
    }

    #[test]
    fn batch_by_side_then_serial() {
        let (_d, pb, inv) = play("", true);
        assert_eq!(
            names(&pb, &inv),
            [vec!["l-a", "w-a", "x-a"], vec!["l-b", "w-b"]]
        );
        let (_d, pb, inv) = play("  serial: 2\n", true);
        assert_eq!(
            names(&pb, &inv),
            [vec!["l-a", "w-a"], vec!["x-a"], vec!["l-b", "w-b"]]
        );
        let (_d, pb, inv) = play("  serial: [1, \"40%\"]\n", false);
        assert_eq!(
            names(&pb, &inv),
            [vec!["l-a"], vec!["l-b", "w-a"], vec!["w-b", "x-a"]]
        );
        let (_d, pb, inv) = play("", false);
        assert_eq!(names(&pb, &inv).len(), 1);
    }

    #[test]
    fn extra_vars_reach_the_connection() {
        let (_d, _pb, inv) = play("", false);
        let e = extra(&["corsfleet_https_port=8443 ansible_connection=local"]);
        let h = e.apply_to(inv.host("l-a").unwrap()).unwrap();
        assert_eq!(h.connection.https_port, 8443);
        assert!(
            extra(&["corsfleet_https_port=99999"])
                .apply_to(inv.host("l-a").unwrap())
                .is_err()
        );
    }
}
