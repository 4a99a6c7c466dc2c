//! `-e` extra variables: `key=value` (several per argument, space separated), a JSON object,
//! or `@file.yml`. They have the highest precedence, as in Ansible.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use corsfleet_inventory::yaml::{self, Value};
use serde_json::{Map, Value as Json};

use crate::{Location, PlaybookError};

/// Parsed `-e` arguments. Debug output redacts secret variables.
#[derive(Clone, Default, PartialEq)]
pub struct ExtraVars {
    vars: Map<String, Json>,
    locations: BTreeMap<String, Location>,
}

impl fmt::Debug for ExtraVars {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExtraVars")
            .field("vars", &corsfleet_inventory::redact(&self.vars))
            .finish()
    }
}

impl ExtraVars {
    /// Parses `-e` arguments in order; later ones win.
    pub fn parse(args: &[String]) -> Result<ExtraVars, PlaybookError> {
        let mut out = ExtraVars::default();
        for arg in args {
            let cli = Location::new(Path::new("-e"), 0, 0);
            if let Some(file) = arg.strip_prefix('@') {
                let path = Path::new(file);
                let node = match yaml::read_file(path) {
                    Ok(Some(node)) => node,
                    Ok(None) => continue,
                    Err(d) => return Err(d.into()),
                };
                let Value::Map(entries) = &node.value else {
                    return Err(PlaybookError::new(
                        node.pos.clone(),
                        format!(
                            "extra vars file must be a mapping, found {}",
                            node.value.kind()
                        ),
                    ));
                };
                for (k, v) in entries {
                    check_name(&k.name, &k.pos)?;
                    out.vars.insert(k.name.clone(), v.to_json());
                    out.locations.insert(k.name.clone(), v.pos.clone());
                }
            } else if arg.trim_start().starts_with('{') {
                let parsed: Map<String, Json> = serde_json::from_str(arg).map_err(|e| {
                    PlaybookError::new(cli.clone(), format!("invalid JSON in -e: {e}"))
                })?;
                for (k, v) in parsed {
                    check_name(&k, &cli)?;
                    out.locations.insert(k.clone(), cli.clone());
                    out.vars.insert(k, v);
                }
            } else {
                for pair in arg.split_whitespace() {
                    let Some((k, v)) = pair.split_once('=') else {
                        return Err(PlaybookError::new(
                            cli,
                            format!("`-e {pair}` is not `key=value`"),
                        )
                        .with_hint(
                            "use `-e key=value`, `-e '{\"key\": [1, 2]}'` or `-e @vars.yml`",
                        ));
                    };
                    check_name(k, &cli)?;
                    out.vars.insert(k.to_string(), Json::String(v.to_string()));
                    out.locations.insert(k.to_string(), cli.clone());
                }
            }
        }
        Ok(out)
    }

    /// Builds extra vars from a map (for callers that compute overrides).
    pub fn from_map(vars: Map<String, Json>) -> Result<ExtraVars, PlaybookError> {
        let cli = Location::new(Path::new("-e"), 0, 0);
        for k in vars.keys() {
            check_name(k, &cli)?;
        }
        let locations = vars.keys().map(|k| (k.clone(), cli.clone())).collect();
        Ok(ExtraVars { vars, locations })
    }

    /// The host with these variables set on top and its connection settings derived again
    /// (so `-e corsfleet_https_port=8443` reaches the transport).
    pub fn apply_to(
        &self,
        host: &corsfleet_inventory::Host,
    ) -> Result<corsfleet_inventory::Host, PlaybookError> {
        let origin = Location::new(Path::new("-e"), 0, 0);
        host.with_overrides(&self.vars, &origin).map_err(|e| {
            match e.diagnostics.into_iter().next() {
                Some(d) => d.into(),
                None => PlaybookError::new(origin, "invalid extra variables"),
            }
        })
    }

    pub fn vars(&self) -> &Map<String, Json> {
        &self.vars
    }

    pub fn is_empty(&self) -> bool {
        self.vars.is_empty()
    }

    pub(crate) fn locations(&self) -> &BTreeMap<String, Location> {
        &self.locations
    }
}

fn check_name(name: &str, loc: &Location) -> Result<(), PlaybookError> {
    corsfleet_inventory::check_var_name(name).map_err(|(message, hint)| PlaybookError {
        location: loc.clone(),
        message,
        hint,
    })
}
