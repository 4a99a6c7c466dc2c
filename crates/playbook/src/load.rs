//! Parsing a playbook file into [`Play`]s and raw [`TaskSpec`]s.
//!
//! Checking is by hand over the positioned YAML tree so every error names `FILE:LINE:COL`,
//! unknown keys get a "did you mean", and all errors of a file are reported in one pass.
//! Module *parameter names* are checked here; their values may be templates, so their types
//! are checked when a task is templated for a host.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use corsfleet_inventory::yaml::{self, Key, Node, Value};

use crate::modules;
use crate::{BatchSize, Location, ModuleKind, Play, PlaybookError, PlaybookErrors, TaskSpec};

pub(crate) const PLAY_KEYS: &[&str] = &[
    "name",
    "hosts",
    "serial",
    "batch_by",
    "max_fail_percentage",
    "any_errors_fatal",
    "vars",
    "tasks",
];

pub(crate) const TASK_KEYS: &[&str] = &[
    "name",
    "when",
    "retries",
    "delay",
    "timeout",
    "tags",
    "ignore_errors",
];

/// Ansible keys people will try; named in the hint so the error is not a mystery.
const ANSIBLE_ONLY_KEYS: &[&str] = &[
    "gather_facts",
    "become",
    "become_user",
    "roles",
    "handlers",
    "pre_tasks",
    "post_tasks",
    "vars_files",
    "strategy",
    "until",
    "register",
    "loop",
    "with_items",
    "notify",
    "delegate_to",
    "run_once",
    "check_mode",
    "block",
];

/// Default pause between retries (Ansible's default).
pub(crate) const DEFAULT_DELAY: Duration = Duration::from_secs(5);

struct Ctx {
    errors: Vec<PlaybookError>,
}

impl Ctx {
    fn err(&mut self, location: &Location, message: impl Into<String>) {
        self.errors
            .push(PlaybookError::new(location.clone(), message));
    }

    fn err_hint(
        &mut self,
        location: &Location,
        message: impl Into<String>,
        hint: impl Into<String>,
    ) {
        self.errors
            .push(PlaybookError::new(location.clone(), message).with_hint(hint));
    }

    fn unknown_key(&mut self, key: &Key, known: &[&str], what: &str) {
        let name = key.name.as_str();
        let hint = if ANSIBLE_ONLY_KEYS.contains(&name) {
            format!("`{name}` is an Ansible keyword corsfleet does not support")
        } else if let Some(s) = corsfleet_inventory::suggest(name, known.iter().copied()) {
            format!("did you mean `{s}`?")
        } else {
            format!("{what} accepts: {}", known.join(", "))
        };
        self.err_hint(&key.pos, format!("unknown key `{name}` in {what}"), hint);
    }
}

pub(crate) fn load(path: &Path) -> Result<crate::Playbook, PlaybookErrors> {
    let root = match yaml::read_file(path) {
        Ok(Some(node)) => node,
        Ok(None) => {
            return Err(PlaybookErrors(vec![
                PlaybookError::new(Location::new(path, 0, 0), "playbook is empty")
                    .with_hint("a playbook is a list of plays, each with `hosts:` and `tasks:`"),
            ]));
        }
        Err(d) => return Err(PlaybookErrors(vec![d.into()])),
    };
    let mut cx = Ctx { errors: Vec::new() };
    let mut plays = Vec::new();
    match &root.value {
        Value::Seq(items) if items.is_empty() => cx.err(&root.pos, "playbook has no plays"),
        Value::Seq(items) => {
            for item in items {
                if let Some(play) = read_play(&mut cx, item) {
                    plays.push(play);
                }
            }
        }
        other => cx.err_hint(
            &root.pos,
            format!("a playbook must be a list of plays, found {}", other.kind()),
            "start each play with `- name:` or `- hosts:`",
        ),
    }
    if cx.errors.is_empty() {
        Ok(crate::Playbook {
            path: path.to_path_buf(),
            plays,
        })
    } else {
        Err(PlaybookErrors(cx.errors))
    }
}

fn read_play(cx: &mut Ctx, node: &Node) -> Option<Play> {
    let Value::Map(entries) = &node.value else {
        cx.err(
            &node.pos,
            format!("a play must be a mapping, found {}", node.value.kind()),
        );
        return None;
    };
    let before = cx.errors.len();
    let mut name = None;
    let mut hosts = None;
    let mut serial = Vec::new();
    let mut batch_by = None;
    let mut max_fail_percentage = None;
    let mut any_errors_fatal = false;
    let mut vars = serde_json::Map::new();
    let mut var_locations = BTreeMap::new();
    let mut tasks = Vec::new();
    let mut saw_tasks = false;
    for (k, v) in entries {
        match k.name.as_str() {
            "name" => name = string(cx, v, "play `name`"),
            "hosts" => {
                hosts = string(cx, v, "`hosts`");
                if let Some(h) = &hosts
                    && let Err(e) = corsfleet_inventory::pattern::parse(h)
                {
                    cx.err(&v.pos, e.to_string());
                }
            }
            "serial" => serial = read_serial(cx, v),
            "batch_by" => {
                batch_by = string(cx, v, "`batch_by`");
                if let Some(b) = &batch_by
                    && !is_identifier(b)
                {
                    cx.err(
                        &v.pos,
                        format!(
                            "`batch_by` must name a host variable, `{b}` is not a variable name"
                        ),
                    );
                }
            }
            "max_fail_percentage" => match &v.value {
                Value::Int(n) if (0..=100).contains(n) => {
                    max_fail_percentage = u8::try_from(*n).ok()
                }
                _ => cx.err(
                    &v.pos,
                    format!(
                        "`max_fail_percentage` must be an integer from 0 to 100, found {}",
                        shown(v)
                    ),
                ),
            },
            "any_errors_fatal" => {
                any_errors_fatal = boolean(cx, v, "`any_errors_fatal`").unwrap_or(false)
            }
            "vars" => match &v.value {
                Value::Null => {}
                Value::Map(vs) => {
                    for (vk, vv) in vs {
                        if let Err((message, hint)) = check_play_var(&vk.name) {
                            cx.errors.push(PlaybookError {
                                location: vk.pos.clone(),
                                message,
                                hint,
                            });
                            continue;
                        }
                        vars.insert(vk.name.clone(), vv.to_json());
                        var_locations.insert(vk.name.clone(), vv.pos.clone());
                    }
                }
                other => cx.err(
                    &v.pos,
                    format!("play `vars` must be a mapping, found {}", other.kind()),
                ),
            },
            "tasks" => {
                saw_tasks = true;
                match &v.value {
                    Value::Seq(items) if !items.is_empty() => {
                        for item in items {
                            if let Some(t) = read_task(cx, item) {
                                tasks.push(t);
                            }
                        }
                    }
                    Value::Seq(_) | Value::Null => cx.err(&v.pos, "play has no tasks"),
                    other => cx.err(
                        &v.pos,
                        format!("`tasks` must be a list, found {}", other.kind()),
                    ),
                }
            }
            _ => cx.unknown_key(k, PLAY_KEYS, "a play"),
        }
    }
    if hosts.is_none() && !entries.iter().any(|(k, _)| k.name == "hosts") {
        cx.err_hint(
            &node.pos,
            "play has no `hosts`",
            "add `hosts: PATTERN`, e.g. `hosts: loggers:distributors`",
        );
    }
    if !saw_tasks {
        cx.err(&node.pos, "play has no `tasks`");
    }
    if cx.errors.len() > before {
        return None;
    }
    let hosts = hosts?;
    Some(Play {
        name: name.unwrap_or_else(|| hosts.clone()),
        hosts,
        serial,
        batch_by,
        max_fail_percentage,
        any_errors_fatal,
        vars,
        tasks,
        location: node.pos.clone(),
        var_locations,
    })
}

/// Play vars and `-e` vars: same name rules as inventory vars, but connection variables are
/// allowed (they override the inventory like Ansible's play vars do).
pub(crate) fn check_play_var(name: &str) -> Result<(), (String, Option<String>)> {
    corsfleet_inventory::check_var_name(name)
}

fn read_serial(cx: &mut Ctx, v: &Node) -> Vec<BatchSize> {
    match &v.value {
        Value::Seq(items) if items.is_empty() => {
            cx.err(&v.pos, "`serial` list is empty");
            Vec::new()
        }
        Value::Seq(items) => items.iter().filter_map(|i| batch_size(cx, i)).collect(),
        _ => batch_size(cx, v).into_iter().collect(),
    }
}

fn batch_size(cx: &mut Ctx, v: &Node) -> Option<BatchSize> {
    let bad = |cx: &mut Ctx| {
        cx.err_hint(
            &v.pos,
            format!("invalid `serial` entry {}", shown(v)),
            "use a host count (`2`), a percentage (`\"50%\"`) or a list of them",
        );
        None
    };
    match &v.value {
        Value::Int(n) if *n >= 1 => usize::try_from(*n).ok().map(BatchSize::Count),
        Value::String(s) => {
            let s = s.trim();
            if let Some(p) = s.strip_suffix('%') {
                match p.trim().parse::<u8>() {
                    Ok(p) if (1..=100).contains(&p) => Some(BatchSize::Percent(p)),
                    _ => bad(cx),
                }
            } else {
                match s.parse::<usize>() {
                    Ok(n) if n >= 1 => Some(BatchSize::Count(n)),
                    _ => bad(cx),
                }
            }
        }
        _ => bad(cx),
    }
}

fn read_task(cx: &mut Ctx, node: &Node) -> Option<TaskSpec> {
    let Value::Map(entries) = &node.value else {
        cx.err(
            &node.pos,
            format!("a task must be a mapping, found {}", node.value.kind()),
        );
        return None;
    };
    let before = cx.errors.len();
    let mut name = None;
    let mut name_location = None;
    let mut when = None;
    let mut when_location = None;
    let mut retries = 0;
    let mut delay = DEFAULT_DELAY;
    let mut timeout = None;
    let mut tags = Vec::new();
    let mut ignore_errors = false;
    let mut module: Option<(ModuleKind, &Key, &Node)> = None;
    for (k, v) in entries {
        if let Some(kind) = ModuleKind::from_name(&k.name) {
            if let Some((first, _, _)) = module {
                cx.err_hint(
                    &k.pos,
                    format!(
                        "task has two modules, `{}` and `{}`",
                        first.name(),
                        kind.name()
                    ),
                    "write one module per task",
                );
            } else {
                module = Some((kind, k, v));
            }
            continue;
        }
        match k.name.as_str() {
            "name" => {
                name = string(cx, v, "task `name`");
                name_location = Some(v.pos.clone());
            }
            "when" => {
                when_location = Some(v.pos.clone());
                when = match &v.value {
                    Value::String(s) => {
                        if s.contains("{{") || s.contains("{%") {
                            cx.err_hint(
                                &v.pos,
                                "`when` is an expression and must not contain `{{ }}`",
                                "write `when: side == 'a'`, not `when: \"{{ side == 'a' }}\"`",
                            );
                        }
                        Some(s.clone())
                    }
                    Value::Bool(b) => Some(b.to_string()),
                    other => {
                        cx.err(
                            &v.pos,
                            format!(
                                "`when` must be an expression string, found {}",
                                other.kind()
                            ),
                        );
                        None
                    }
                }
            }
            "retries" => retries = uint(cx, v, "`retries`", 0, 100).unwrap_or(0),
            "delay" => {
                delay = Duration::from_secs(u64::from(
                    uint(cx, v, "`delay` (seconds)", 0, 3600).unwrap_or(5),
                ))
            }
            "timeout" => {
                timeout = uint(cx, v, "`timeout` (seconds)", 1, 86_400)
                    .map(|s| Duration::from_secs(u64::from(s)))
            }
            "tags" => tags = string_list(cx, v, "`tags`"),
            "ignore_errors" => ignore_errors = boolean(cx, v, "`ignore_errors`").unwrap_or(false),
            other => {
                let mut known: Vec<&str> = TASK_KEYS.to_vec();
                known.extend(ModuleKind::ALL.iter().map(|m| m.name()));
                if ANSIBLE_ONLY_KEYS.contains(&other)
                    || corsfleet_inventory::suggest(other, known.iter().copied()).is_some()
                {
                    cx.unknown_key(k, &known, "a task");
                } else {
                    cx.err_hint(
                        &k.pos,
                        format!("unknown key `{other}` in a task (not a task keyword or a module)"),
                        format!("modules: {}", ModuleKind::ALL.map(|m| m.name()).join(", ")),
                    );
                }
            }
        }
    }
    let Some((kind, key, args)) = module else {
        if cx.errors.len() > before {
            // An unknown key was most likely the intended module; one error is enough.
            return None;
        }
        cx.err_hint(
            &node.pos,
            "task has no module",
            format!(
                "add one of: {}",
                ModuleKind::ALL.map(|m| m.name()).join(", ")
            ),
        );
        return None;
    };
    let args = match &args.value {
        Value::Null => None,
        Value::Map(params) => {
            modules::check_param_names(kind, params, &key.pos, &mut cx.errors);
            Some(args.clone())
        }
        other => {
            cx.err_hint(
                &args.pos,
                format!(
                    "parameters of `{}` must be a mapping, found {}",
                    kind.name(),
                    other.kind()
                ),
                "write each parameter as `name: value` indented under the module",
            );
            None
        }
    };
    if args.is_none() {
        modules::check_param_names(kind, &[], &key.pos, &mut cx.errors);
    }
    if cx.errors.len() > before {
        return None;
    }
    Some(TaskSpec {
        name: name.unwrap_or_else(|| kind.name().to_string()),
        module: kind,
        when,
        retries,
        delay,
        timeout,
        tags,
        ignore_errors,
        location: node.pos.clone(),
        args,
        when_location,
        name_location,
    })
}

fn shown(v: &Node) -> String {
    match &v.value {
        Value::String(s) => format!("`{s}`"),
        Value::Int(i) => i.to_string(),
        Value::Float(f) => f.to_string(),
        Value::Bool(b) => b.to_string(),
        other => other.kind().to_string(),
    }
}

fn string(cx: &mut Ctx, v: &Node, what: &str) -> Option<String> {
    match &v.value {
        Value::String(s) if !s.trim().is_empty() => Some(s.clone()),
        Value::String(_) => {
            cx.err(&v.pos, format!("{what} must not be empty"));
            None
        }
        other => {
            cx.err(
                &v.pos,
                format!("{what} must be a string, found {}", other.kind()),
            );
            None
        }
    }
}

fn boolean(cx: &mut Ctx, v: &Node, what: &str) -> Option<bool> {
    match &v.value {
        Value::Bool(b) => Some(*b),
        other => {
            cx.err(
                &v.pos,
                format!("{what} must be true or false, found {}", other.kind()),
            );
            None
        }
    }
}

fn uint(cx: &mut Ctx, v: &Node, what: &str, min: u32, max: u32) -> Option<u32> {
    match &v.value {
        Value::Int(n) if (i64::from(min)..=i64::from(max)).contains(n) => u32::try_from(*n).ok(),
        _ => {
            cx.err(
                &v.pos,
                format!(
                    "{what} must be an integer from {min} to {max}, found {}",
                    shown(v)
                ),
            );
            None
        }
    }
}

fn string_list(cx: &mut Ctx, v: &Node, what: &str) -> Vec<String> {
    match &v.value {
        Value::String(s) => s
            .split(',')
            .map(|t| t.trim().to_string())
            .filter(|t| !t.is_empty())
            .collect(),
        Value::Seq(items) => items
            .iter()
            .filter_map(|i| match &i.value {
                Value::String(s) => Some(s.clone()),
                other => {
                    cx.err(
                        &i.pos,
                        format!("{what} entries must be strings, found {}", other.kind()),
                    );
                    None
                }
            })
            .collect(),
        other => {
            cx.err(
                &v.pos,
                format!("{what} must be a list of strings, found {}", other.kind()),
            );
            Vec::new()
        }
    }
}

fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}
