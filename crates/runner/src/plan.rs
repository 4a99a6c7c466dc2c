//! Planning: select hosts, split them into batches, template every task for every host.

use std::collections::BTreeMap;

use corsfleet_inventory::{ConnectionSpec, Host, Inventory};
use corsfleet_playbook::{BatchSize, ExtraVars, Play, Playbook, Task, template_task};

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
    let mut plays = Vec::new();
    let mut all_hosts: Vec<String> = Vec::new();
    for play in &playbook.plays {
        let selected = match inventory.select(&play.hosts) {
            Ok(hosts) => hosts,
            Err(err) => {
                messages.push(format!(
                    "{}:{}:{}: play {:?}: hosts {:?}: {err}",
                    play.location.file.display(),
                    play.location.line,
                    play.location.column,
                    play.name,
                    play.hosts
                ));
                continue;
            }
        };
        let selected: Vec<&Host> = selected
            .into_iter()
            .filter(|h| limited.as_ref().is_none_or(|l| l.contains(&h.name)))
            .collect();
        if selected.is_empty() {
            messages.push(format!(
                "{}:{}:{}: play {:?}: no host matches both {:?} and --limit",
                play.location.file.display(),
                play.location.line,
                play.location.column,
                play.name,
                play.hosts
            ));
            continue;
        }
        let mut planned: BTreeMap<usize, PlannedHost> = BTreeMap::new();
        for (i, host) in selected.iter().enumerate() {
            let mut tasks = Vec::new();
            for spec in &play.tasks {
                match template_task(playbook, play, spec, host, inventory, extra) {
                    Ok(task) => tasks.push(task),
                    Err(err) => messages.push(err.to_string()),
                }
            }
            planned.insert(
                i,
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
        let batches = batches(&selected, play)
            .into_iter()
            .map(|batch| {
                batch
                    .into_iter()
                    .filter_map(|i| planned.get(&i).cloned())
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

/// Split `hosts` (indexes into it) into batches.
///
/// With `batch_by`, hosts are first grouped by that variable's value (groups in order of first
/// appearance, so `side: a` hosts before `side: b` when an `a` host comes first), and no batch
/// ever mixes two groups. `serial` then cuts each group as Ansible does: sizes in order, the
/// last size repeating; percentages are of the play's host count, rounded down, at least one.
pub fn batches(hosts: &[&Host], play: &Play) -> Vec<Vec<usize>> {
    let mut groups: Vec<(Option<String>, Vec<usize>)> = Vec::new();
    for (i, host) in hosts.iter().enumerate() {
        let key = play.batch_by.as_ref().map(|var| match host.vars.get(var) {
            Some(serde_json::Value::String(s)) => s.clone(),
            Some(other) => other.to_string(),
            None => String::new(),
        });
        match groups.iter_mut().find(|(k, _)| *k == key) {
            Some((_, members)) => members.push(i),
            None => groups.push((key, vec![i])),
        }
    }
    let total = hosts.len();
    let sizes: Vec<usize> = play
        .serial
        .iter()
        .map(|size| match *size {
            BatchSize::Count(n) => n.max(1),
            BatchSize::Percent(p) => (total * usize::from(p) / 100).max(1),
        })
        .collect();
    let mut out = Vec::new();
    for (_, members) in groups {
        if sizes.is_empty() {
            out.push(members);
            continue;
        }
        let mut rest = members.as_slice();
        let mut k = 0;
        while !rest.is_empty() {
            let size = sizes[k.min(sizes.len() - 1)].min(rest.len());
            out.push(rest[..size].to_vec());
            rest = &rest[size..];
            k += 1;
        }
    }
    out
}
