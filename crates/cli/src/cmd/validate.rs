//! `corsfleet validate PLAYBOOK -i INV`: load the playbook and inventory, template every task
//! for every selected host, and report every error found (not only the first), each as one
//! `FILE:LINE:COL: message` line with at most one hint line. Nothing is contacted. Exit 0 when
//! all is valid, 2 otherwise.

use std::path::PathBuf;

use corsfleet_playbook::{
    ExtraVars, Groups, ModuleArgs, Playbook, PlaybookError, TemplateContext, template_with,
};

use crate::exit::{CliError, Outcome};

#[derive(Debug, clap::Args)]
pub struct ValidateArgs {
    /// The playbook to check.
    pub playbook: PathBuf,
    /// Inventory file or directory (repeatable).
    #[arg(short = 'i', long = "inventory", value_name = "PATH", required = true)]
    pub inventory: Vec<PathBuf>,
    /// Only these hosts (Ansible host pattern).
    #[arg(short = 'l', long, value_name = "PATTERN")]
    pub limit: Option<String>,
    /// Extra variables: `key=value`, a JSON object, or `@file.yml` (repeatable, highest precedence).
    #[arg(short = 'e', long = "extra-vars", value_name = "VARS")]
    pub extra_vars: Vec<String>,
}

pub fn run(args: ValidateArgs) -> Result<Outcome, CliError> {
    let extra = ExtraVars::parse(&args.extra_vars).map_err(one)?;
    let inventory = super::inventory::load(&args.inventory)?;
    let playbook = Playbook::load(&args.playbook).map_err(|e| many(e.0))?;
    let groups = Groups::new(&inventory);
    let mut errors: Vec<PlaybookError> = Vec::new();
    let mut checked = 0usize;
    let mut warnings: Vec<String> = Vec::new();
    for play in &playbook.plays {
        let hosts = match inventory.select_with_limit(&play.hosts, args.limit.as_deref()) {
            Ok(h) => h,
            Err(e) => {
                let mut err =
                    PlaybookError::new(play.location.clone(), format!("play `{}`: {e}", play.name));
                if let Some(h) = e.hint() {
                    err = err.with_hint(h);
                }
                errors.push(err);
                continue;
            }
        };
        for host in hosts {
            // `-e` may override connection variables; check them as the runner will use them.
            let host = match extra.apply_to(host) {
                Ok(h) => h,
                Err(e) => {
                    errors.push(e);
                    continue;
                }
            };
            let host = &host;
            let ctx = match TemplateContext::with_groups(&playbook, play, host, &groups, &extra) {
                Ok(c) => c,
                Err(e) => {
                    errors.push(e);
                    continue;
                }
            };
            if let Some(by) = &play.batch_by
                && !ctx.vars().contains_key(by)
            {
                errors.push(PlaybookError::new(
                    play.location.clone(),
                    format!(
                        "play `{}`: `batch_by: {by}` but host `{}` has no variable `{by}`",
                        play.name, host.name
                    ),
                ));
            }
            for task in &play.tasks {
                checked += 1;
                match template_with(&ctx, &playbook, play, task) {
                    Ok(t) => {
                        // Allowed but probably unintended (e.g. an origin naming port 443).
                        if let ModuleArgs::WebConfigCors(a) = &t.args
                            && let Ok(found) = a.policy.validate()
                        {
                            for w in found {
                                let line = format!("{}: {w}", t.location);
                                if !warnings.contains(&line) {
                                    warnings.push(line);
                                }
                            }
                        }
                    }
                    Err(errs) => errors.extend(errs),
                }
            }
        }
    }
    print_warnings(&warnings);
    if errors.is_empty() {
        report_ok(&playbook, checked);
        Ok(Outcome::Success)
    } else {
        Err(many(errors))
    }
}

#[allow(clippy::print_stderr)]
fn print_warnings(warnings: &[String]) {
    for w in warnings {
        eprintln!("warning: {w}");
    }
}

#[allow(clippy::print_stderr)]
fn report_ok(playbook: &Playbook, checked: usize) {
    eprintln!(
        "{}: ok ({} plays, {checked} host tasks templated)",
        playbook.path.display(),
        playbook.plays.len()
    );
}

fn one(e: PlaybookError) -> CliError {
    match e.hint.clone() {
        Some(h) => CliError::input_with_hint(e.to_string(), h),
        None => CliError::input(e.to_string()),
    }
}

/// Prints all but the last error, deduplicated (the same mistake seen from many hosts is shown
/// once per host, which names the host), and returns the last for `finish` to print.
#[allow(clippy::print_stderr)]
fn many(mut errors: Vec<PlaybookError>) -> CliError {
    let mut seen = std::collections::HashSet::new();
    errors.retain(|e| seen.insert(e.to_string()));
    let count = errors.len();
    let Some(last) = errors.pop() else {
        return CliError::input("invalid playbook");
    };
    for e in errors {
        eprintln!("error: {e}");
        if let Some(h) = &e.hint {
            eprintln!("hint: {h}");
        }
    }
    let err = one(last);
    if count > 1 {
        if let CliError::Input { message, hint } = err {
            // The count goes on the hint line only when there is no hint of its own.
            return CliError::Input {
                message,
                hint: hint.or_else(|| Some(format!("{count} errors in total"))),
            };
        }
        return err;
    }
    err
}
