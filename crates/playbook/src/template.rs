//! Templating a raw task for one host with minijinja.
//!
//! Every string is a template; undefined variables are errors (strict mode), because a
//! silently empty origin or path would be applied to production. A string that is exactly one
//! `{{ expression }}` keeps the expression's native type, so `origins: "{{ finesse_origins }}"`
//! passes a list. Variables, lowest precedence first: inventory vars (already merged), play
//! `vars`, `-e` extra vars; then `inventory_hostname`, `inventory_hostname_short`,
//! `group_names`, `groups`, `playbook_dir` and `inventory_dir`, which cannot be overridden.
//! Variables whose values are themselves templates are resolved first, in up to
//! [`MAX_RESOLVE_PASSES`] passes (enough for chains of variables referring to variables).

use std::collections::BTreeMap;
use std::fmt;

use corsfleet_inventory::yaml::{Node, Value as Yaml};
use corsfleet_inventory::{Host, Inventory};
use minijinja::{Environment, ErrorKind, UndefinedBehavior};
use serde_json::{Map, Value as Json};

use crate::modules::{self, Reader};
use crate::{ExtraVars, Location, Play, Playbook, PlaybookError, Task, TaskSpec};

/// Passes over variables that refer to other variables.
pub const MAX_RESOLVE_PASSES: usize = 8;

/// The variables one host sees in one play, with templated variables already resolved.
/// Debug output redacts secrets.
pub struct TemplateContext {
    vars: Map<String, Json>,
    /// `vars` plus `groups`, as minijinja sees them; rebuilt whenever `vars` change so each
    /// render does not convert the whole map again.
    ctx: minijinja::Value,
    groups: minijinja::Value,
    locations: BTreeMap<String, Location>,
    env: Environment<'static>,
    /// "play `P`, host `H`" for messages.
    scope: String,
}

impl fmt::Debug for TemplateContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TemplateContext")
            .field("scope", &self.scope)
            .field("vars", &corsfleet_inventory::redact(&self.vars))
            .finish()
    }
}

fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_recursion_limit(64);
    // A template is input: a loop like `{% for i in range(10**9) %}` must end in an error,
    // not hang the planner. Real playbook strings use a few dozen units.
    env.set_fuel(Some(TEMPLATE_FUEL));
    env
}

/// Instructions one template may execute.
const TEMPLATE_FUEL: u64 = 100_000;

fn has_template(s: &str) -> bool {
    s.contains("{{") || s.contains("{%") || s.contains("{#")
}

fn json_has_template(v: &Json) -> bool {
    match v {
        Json::String(s) => has_template(s),
        Json::Array(items) => items.iter().any(json_has_template),
        Json::Object(m) => m.values().any(json_has_template),
        _ => false,
    }
}

/// `{{ expr }}` and nothing else: returns `expr`.
fn single_expression(s: &str) -> Option<&str> {
    let inner = s.trim().strip_prefix("{{")?.strip_suffix("}}")?;
    let inner = inner.strip_prefix('-').unwrap_or(inner);
    let inner = inner.strip_suffix('-').unwrap_or(inner);
    if inner.contains("{{") || inner.contains("}}") || inner.contains("{%") || inner.contains("{#")
    {
        None
    } else {
        Some(inner.trim())
    }
}

/// The `groups` template variable (every group → its hosts), built once per inventory and
/// shared by every host's [`TemplateContext`]: rebuilding it per host would cost
/// hosts × hosts on large fleets.
#[derive(Debug, Clone)]
pub struct Groups(minijinja::Value);

impl Groups {
    pub fn new(inventory: &Inventory) -> Groups {
        Groups(minijinja::Value::from_serialize(inventory.group_members()))
    }
}

impl TemplateContext {
    /// Builds the variables `host` sees in `play`.
    pub fn new(
        playbook: &Playbook,
        play: &Play,
        host: &Host,
        inventory: &Inventory,
        extra: &ExtraVars,
    ) -> Result<TemplateContext, PlaybookError> {
        Self::with_groups(playbook, play, host, &Groups::new(inventory), extra)
    }

    /// Like [`TemplateContext::new`] with a precomputed [`Groups`] (for many hosts).
    pub fn with_groups(
        playbook: &Playbook,
        play: &Play,
        host: &Host,
        groups: &Groups,
        extra: &ExtraVars,
    ) -> Result<TemplateContext, PlaybookError> {
        let mut vars = host.vars.clone();
        let mut locations = host.var_locations.clone();
        for (k, v) in &play.vars {
            vars.insert(k.clone(), v.clone());
            if let Some(l) = play.var_locations.get(k) {
                locations.insert(k.clone(), l.clone());
            }
        }
        for (k, v) in extra.vars() {
            vars.insert(k.clone(), v.clone());
            if let Some(l) = extra.locations().get(k) {
                locations.insert(k.clone(), l.clone());
            }
        }
        let magic = [
            ("inventory_hostname", Json::String(host.name.clone())),
            (
                "inventory_hostname_short",
                Json::String(
                    host.name
                        .split('.')
                        .next()
                        .unwrap_or(&host.name)
                        .to_string(),
                ),
            ),
            ("group_names", Json::from(host.groups.clone())),
            (
                "playbook_dir",
                Json::String(playbook.dir().display().to_string()),
            ),
            (
                "inventory_dir",
                Json::String(host.base_dir.display().to_string()),
            ),
        ];
        for (k, v) in magic {
            vars.insert(k.to_string(), v);
        }
        // `groups` lives only in the minijinja context.
        vars.remove("groups");
        let mut ctx = TemplateContext {
            vars,
            ctx: minijinja::Value::UNDEFINED,
            groups: groups.0.clone(),
            locations,
            env: environment(),
            scope: format!("play `{}`, host `{}`", play.name, host.name),
        };
        ctx.rebuild();
        ctx.resolve(&play.location)?;
        Ok(ctx)
    }

    fn rebuild(&mut self) {
        let mut m: BTreeMap<String, minijinja::Value> = self
            .vars
            .iter()
            .map(|(k, v)| (k.clone(), minijinja::Value::from_serialize(v)))
            .collect();
        m.insert("groups".to_string(), self.groups.clone());
        self.ctx = minijinja::Value::from(m);
    }

    /// The variables after resolution (without `groups`, which is only in the template context).
    pub fn vars(&self) -> &Map<String, Json> {
        &self.vars
    }

    fn resolve(&mut self, fallback: &Location) -> Result<(), PlaybookError> {
        let mut last_error = None;
        for _ in 0..MAX_RESOLVE_PASSES {
            let pending: Vec<String> = self
                .vars
                .iter()
                .filter(|(_, v)| json_has_template(v))
                .map(|(k, _)| k.clone())
                .collect();
            if pending.is_empty() {
                return Ok(());
            }
            let mut progressed = false;
            last_error = None;
            let mut updates = Vec::new();
            for k in pending {
                let Some(value) = self.vars.get(&k).cloned() else {
                    continue;
                };
                match self.render_json(&value) {
                    Ok(new) => {
                        if new != value {
                            progressed = true;
                        }
                        updates.push((k, new));
                    }
                    Err(e) => {
                        if last_error.is_none() {
                            last_error = Some((k, e));
                        }
                    }
                }
            }
            for (k, v) in updates {
                self.vars.insert(k, v);
            }
            self.rebuild();
            if !progressed {
                break;
            }
        }
        if last_error.is_none() {
            // Still templated after every pass while each pass changed something: the
            // variables refer to each other in a loop.
            if let Some(k) = self
                .vars
                .iter()
                .find(|(_, v)| json_has_template(v))
                .map(|(k, _)| k.clone())
            {
                let loc = self
                    .locations
                    .get(&k)
                    .cloned()
                    .unwrap_or_else(|| fallback.clone());
                return Err(PlaybookError::new(
                    loc,
                    format!(
                        "variable `{k}` still holds a template after {MAX_RESOLVE_PASSES} passes: variables refer to each other in a loop ({})",
                        self.scope
                    ),
                ));
            }
        }
        match last_error {
            None => Ok(()),
            Some((k, (e, source))) => {
                let loc = self
                    .locations
                    .get(&k)
                    .cloned()
                    .unwrap_or_else(|| fallback.clone());
                let missing = self.missing_vars(&source);
                Err(PlaybookError::new(
                    loc,
                    format!(
                        "variable `{k}`: {} ({})",
                        describe(&e, &missing),
                        self.scope
                    ),
                ))
            }
        }
    }

    /// Renders a JSON value; on error returns the error and the template text at fault.
    fn render_json(&self, v: &Json) -> Result<Json, (minijinja::Error, String)> {
        match v {
            Json::String(s) => self.render_string(s),
            Json::Array(items) => Ok(Json::Array(
                items
                    .iter()
                    .map(|i| self.render_json(i))
                    .collect::<Result<_, _>>()?,
            )),
            Json::Object(m) => Ok(Json::Object(
                m.iter()
                    .map(|(k, v)| Ok((k.clone(), self.render_json(v)?)))
                    .collect::<Result<_, (minijinja::Error, String)>>()?,
            )),
            other => Ok(other.clone()),
        }
    }

    fn render_string(&self, s: &str) -> Result<Json, (minijinja::Error, String)> {
        if !has_template(s) {
            return Ok(Json::String(s.to_string()));
        }
        let fail = |e| (e, s.to_string());
        if let Some(expr) = single_expression(s) {
            let compiled = self.env.compile_expression(expr).map_err(fail)?;
            let value = compiled.eval(&self.ctx).map_err(fail)?;
            if value.is_undefined() {
                return Err(fail(minijinja::Error::new(
                    ErrorKind::UndefinedError,
                    "undefined value",
                )));
            }
            return serde_json::to_value(&value).map_err(|e| {
                fail(minijinja::Error::new(
                    ErrorKind::BadSerialization,
                    e.to_string(),
                ))
            });
        }
        self.env
            .render_str(s, &self.ctx)
            .map(Json::String)
            .map_err(fail)
    }

    /// Evaluates a `when` expression.
    fn eval_condition(&self, expr: &str) -> Result<bool, (minijinja::Error, String)> {
        let fail = |e| (e, format!("{{{{ {expr} }}}}"));
        let compiled = self.env.compile_expression(expr).map_err(fail)?;
        let value = compiled.eval(&self.ctx).map_err(fail)?;
        if value.is_undefined() {
            return Err(fail(minijinja::Error::new(
                ErrorKind::UndefinedError,
                "undefined value",
            )));
        }
        Ok(value.is_true())
    }

    /// Top-level variables a template uses that are not defined.
    fn missing_vars(&self, source: &str) -> Vec<String> {
        let mut names: Vec<String> = match self.env.template_from_str(source) {
            Ok(t) => t.undeclared_variables(false).into_iter().collect(),
            Err(_) => Vec::new(),
        };
        names.retain(|n| !self.vars.contains_key(n) && n != "groups");
        names.sort();
        names
    }

    fn error(
        &self,
        loc: &Location,
        what: &str,
        (e, source): (minijinja::Error, String),
    ) -> PlaybookError {
        let missing = self.missing_vars(&source);
        let mut err = PlaybookError::new(
            loc.clone(),
            format!("{}: {what} ({})", describe(&e, &missing), self.scope),
        );
        if !missing.is_empty() {
            err = err.with_hint("define it in the inventory, the play's `vars`, or with `-e`");
        }
        err
    }
}

fn describe(e: &minijinja::Error, missing: &[String]) -> String {
    if e.kind() == ErrorKind::UndefinedError && !missing.is_empty() {
        let list = missing
            .iter()
            .map(|m| format!("`{m}`"))
            .collect::<Vec<_>>()
            .join(", ");
        return if missing.len() == 1 {
            format!("undefined variable {list}")
        } else {
            format!("undefined variables {list}")
        };
    }
    let mut m = format!("template error: {}", e.kind());
    if let Some(d) = e.detail() {
        m.push_str(": ");
        m.push_str(d);
    }
    m
}

/// Templates `task` for `host`: renders strings, evaluates `when`, types the parameters.
/// Returns the first error; [`template_task_all`] returns all.
pub fn template_task(
    playbook: &Playbook,
    play: &Play,
    task: &TaskSpec,
    host: &Host,
    inventory: &Inventory,
    extra: &ExtraVars,
) -> Result<Task, PlaybookError> {
    template_task_all(playbook, play, task, host, inventory, extra).map_err(|mut errs| {
        if errs.is_empty() {
            PlaybookError::new(task.location.clone(), "invalid task")
        } else {
            errs.swap_remove(0)
        }
    })
}

/// Like [`template_task`], but reports every error in the task.
pub fn template_task_all(
    playbook: &Playbook,
    play: &Play,
    task: &TaskSpec,
    host: &Host,
    inventory: &Inventory,
    extra: &ExtraVars,
) -> Result<Task, Vec<PlaybookError>> {
    let ctx = TemplateContext::new(playbook, play, host, inventory, extra).map_err(|e| vec![e])?;
    template_with(&ctx, playbook, play, task)
}

/// Templates a task with an already built context (one context serves all tasks of a play).
pub fn template_with(
    ctx: &TemplateContext,
    playbook: &Playbook,
    play: &Play,
    task: &TaskSpec,
) -> Result<Task, Vec<PlaybookError>> {
    let mut errors = Vec::new();
    let task_scope = format!("task `{}`", task.name);
    let index = play
        .tasks
        .iter()
        .position(|t| std::ptr::eq(t, task))
        .unwrap_or(0);

    let name_loc = task
        .name_location
        .clone()
        .unwrap_or_else(|| task.location.clone());
    let name = match ctx.render_string(&task.name) {
        Ok(Json::String(s)) => s,
        Ok(other) => other.to_string(),
        Err(e) => {
            errors.push(ctx.error(&name_loc, &format!("{task_scope} name"), e));
            task.name.clone()
        }
    };
    let run = match &task.when {
        None => true,
        Some(expr) => {
            let loc = task
                .when_location
                .clone()
                .unwrap_or_else(|| task.location.clone());
            ctx.eval_condition(expr).unwrap_or_else(|e| {
                errors.push(ctx.error(&loc, &format!("`when` of {task_scope}"), e));
                false
            })
        }
    };

    let mut values = Map::new();
    let mut locations = BTreeMap::new();
    if let Some(Node {
        value: Yaml::Map(params),
        ..
    }) = &task.args
    {
        for (k, v) in params {
            locations.insert(k.name.clone(), v.pos.clone());
            match render_node(ctx, v) {
                Ok(json) => {
                    values.insert(k.name.clone(), json);
                }
                Err((loc, e)) => {
                    errors.push(ctx.error(
                        &loc,
                        &format!("parameter `{}` of {task_scope}", k.name),
                        e,
                    ));
                }
            }
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let mut reader = Reader {
        values: &values,
        locations: &locations,
        fallback: &task.location,
        module: task.module,
        errors: Vec::new(),
    };
    let args = modules::build(&mut reader, &playbook.dir());
    let scope_suffix = format!(" ({task_scope}, {})", ctx.scope);
    errors.extend(reader.errors.into_iter().map(|mut e| {
        e.message.push_str(&scope_suffix);
        e
    }));
    match args {
        Some(args) if errors.is_empty() => Ok(Task {
            name,
            index,
            run,
            retries: task.retries,
            delay: task.delay,
            timeout: task.timeout,
            ignore_errors: task.ignore_errors,
            tags: task.tags.clone(),
            location: task.location.clone(),
            args,
        }),
        _ => Err(errors),
    }
}

/// Renders a raw parameter node; errors carry the position of the string at fault.
fn render_node(
    ctx: &TemplateContext,
    node: &Node,
) -> Result<Json, (Location, (minijinja::Error, String))> {
    match &node.value {
        Yaml::String(s) => ctx.render_string(s).map_err(|e| (node.pos.clone(), e)),
        Yaml::Seq(items) => Ok(Json::Array(
            items
                .iter()
                .map(|i| render_node(ctx, i))
                .collect::<Result<_, _>>()?,
        )),
        Yaml::Map(entries) => Ok(Json::Object(
            entries
                .iter()
                .map(|(k, v)| Ok((k.name.clone(), render_node(ctx, v)?)))
                .collect::<Result<_, _>>()?,
        )),
        _ => Ok(node.to_json()),
    }
}
