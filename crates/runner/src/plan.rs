//! Planning: select hosts, split them into batches, template every task for every host.

use std::collections::BTreeMap;

use corsfleet_inventory::{ConnectionSpec, Host, Inventory};
use corsfleet_playbook::{ExtraVars, Groups, Playbook, Task, TemplateContext, template_with};

/// A fully templated run: nothing left to decide but scheduling.
#[derive(Debug, Clone)]
pub struct Plan {
    pub plays: Vec<PlannedPlay>,
    /// Every host of every play, in inventory order.
    pub hosts: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct PlannedPlay {
    pub name: String,
    /// Hosts by batch; a later batch starts only when the earlier one has finished.
    pub batches: Vec<Vec<PlannedHost>>,
    pub max_fail_percentage: Option<u8>,
    pub any_errors_fatal: bool,
}

#[derive(Debug, Clone)]
pub struct PlannedHost {
    pub name: String,
    pub connection: ConnectionSpec,
    pub tasks: Vec<Task>,
}

/// Everything wrong with the input, all of it, one line each.
#[derive(Debug, thiserror::Error)]
#[error("{}", .messages.join("\n"))]
pub struct PlanError {
    pub messages: Vec<String>,
}

/// Select, batch and template. `limit` narrows every play's `hosts` pattern.
pub fn plan(
    playbook: &Playbook,
    inventory: &Inventory,
    limit: Option<&str>,
    extra: &ExtraVars,
) -> Result<Plan, PlanError> {
    let mut messages = Vec::new();
    let limited: Option<Vec<String>> = match limit {
        Some(pattern) => match inventory.select(pattern) {
            Ok(hosts) => Some(hosts.into_iter().map(|h| h.name.clone()).collect()),
            Err(err) => {
                return Err(PlanError {
                    messages: vec![format!("--limit {pattern}: {err}")],
                });
            }
        },
        None => None,
    };
    let groups = Groups::new(inventory);
    let mut plays = Vec::new();
    let mut all_hosts: Vec<String> = Vec::new();
    for play in &playbook.plays {
        let at = |what: String| {
            let l = &play.location;
            format!(
                "{}:{}:{}: play {:?}: {what}",
                l.file.display(),
                l.line,
                l.column,
                play.name
            )
        };
        let selected = match inventory.select(&play.hosts) {
            Ok(hosts) => hosts,
            Err(err) => {
                messages.push(at(format!("hosts {:?}: {err}", play.hosts)));
                continue;
            }
        };
        let selected: Vec<&Host> = selected
            .into_iter()
            .filter(|h| limited.as_ref().is_none_or(|l| l.contains(&h.name)))
            .collect();
        if selected.is_empty() {
            messages.push(at(format!(
                "no host matches both {:?} and --limit",
                play.hosts
            )));
            continue;
        }
        // `-e` beats every inventory level, connection settings included.
        let selected: Vec<Host> = selected
            .into_iter()
            .filter_map(|host| match extra.apply_to(host) {
                Ok(host) => Some(host),
                Err(err) => {
                    messages.push(err.to_string());
                    None
                }
            })
            .collect();
        let mut planned: BTreeMap<String, PlannedHost> = BTreeMap::new();
        for host in &selected {
            let mut tasks = Vec::new();
            // One context per host and play: building it is the expensive part.
            match TemplateContext::with_groups(playbook, play, host, &groups, extra) {
                Ok(ctx) => {
                    for spec in &play.tasks {
                        match template_with(&ctx, playbook, play, spec) {
                            Ok(task) => tasks.push(task),
                            Err(errs) => messages.extend(errs.iter().map(ToString::to_string)),
                        }
                    }
                }
                Err(err) => messages.push(err.to_string()),
            }
            planned.insert(
                host.name.clone(),
                PlannedHost {
                    name: host.name.clone(),
                    connection: host.connection.clone(),
                    tasks,
                },
            );
            if !all_hosts.contains(&host.name) {
                all_hosts.push(host.name.clone());
            }
        }
        let refs: Vec<&Host> = selected.iter().collect();
        let batches = play
            .batches(&refs)
            .into_iter()
            .map(|batch| {
                batch
                    .into_iter()
                    .filter_map(|h| planned.get(&h.name).cloned())
                    .collect()
            })
            .collect();
        plays.push(PlannedPlay {
            name: play.name.clone(),
            batches,
            max_fail_percentage: play.max_fail_percentage,
            any_errors_fatal: play.any_errors_fatal,
        });
    }
    if !messages.is_empty() {
        return Err(PlanError { messages });
    }
    // Keep the run's host list in inventory order.
    let order: Vec<&str> = inventory.hosts().iter().map(|h| h.name.as_str()).collect();
    all_hosts.sort_by_key(|name| order.iter().position(|o| o == name));
    Ok(Plan {
        plays,
        hosts: all_hosts,
    })
}
