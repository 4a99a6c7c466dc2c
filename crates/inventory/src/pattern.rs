//! Host patterns with Ansible's meaning (`--limit` and a play's `hosts:`).
//!
//! A pattern is a list of terms separated by `:` or `,`. A plain term adds hosts (union), a
//! term starting with `&` keeps only hosts it also selects (intersection) and one starting with
//! `!` removes hosts (exclusion). As in Ansible, all unions are applied first, then all
//! intersections, then all exclusions, whatever their order in the text; a pattern made only of
//! `&`/`!` terms starts from `all`.
//!
//! A term is `all` or `*`, a group name, a host name, a glob (`lgr-*`, `aw-?`, `[ab]`) matched
//! against group and host names, or a regular expression after `~` (anchored at the start, like
//! Python's `re.match` that Ansible uses). corsfleet is stricter than Ansible: a term naming
//! nothing, or a pattern selecting no host, is an error, because a typo in `--limit` must not
//! turn a rollout into a silent no-op. Because `:` separates terms, a regex cannot contain `:`
//! or `,`, and IPv6 literals cannot be host names in patterns.

use std::collections::{BTreeMap, BTreeSet};

/// Why a pattern could not be evaluated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatternError {
    #[error("empty host pattern")]
    Empty,
    #[error("empty term in host pattern `{pattern}`")]
    EmptyTerm { pattern: String },
    #[error("`{term}` in host pattern matches no group or host")]
    NoMatch {
        term: String,
        suggestion: Option<String>,
    },
    #[error("invalid regular expression `{term}` in host pattern: {reason}")]
    BadRegex { term: String, reason: String },
    #[error("invalid character {ch:?} in host pattern `{pattern}`")]
    BadChar { pattern: String, ch: char },
    #[error("host pattern `{pattern}` selects no host")]
    NothingSelected { pattern: String },
}

impl PatternError {
    /// A "did you mean" line, when there is one.
    pub fn hint(&self) -> Option<String> {
        match self {
            PatternError::NoMatch {
                suggestion: Some(s),
                ..
            } => Some(format!("did you mean `{s}`?")),
            PatternError::NothingSelected { .. } => {
                Some("an intersection or exclusion removed every host".to_string())
            }
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Union,
    Intersect,
    Exclude,
}

/// One parsed term.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Term {
    pub op: Op,
    pub text: String,
}

/// Splits a pattern into terms.
pub fn parse(pattern: &str) -> Result<Vec<Term>, PatternError> {
    let trimmed = pattern.trim();
    if trimmed.is_empty() {
        return Err(PatternError::Empty);
    }
    let mut terms = Vec::new();
    for raw in trimmed.split([':', ',']) {
        let raw = raw.trim();
        let (op, text) = if let Some(t) = raw.strip_prefix('&') {
            (Op::Intersect, t)
        } else if let Some(t) = raw.strip_prefix('!') {
            (Op::Exclude, t)
        } else {
            (Op::Union, raw)
        };
        if text.is_empty() {
            return Err(PatternError::EmptyTerm {
                pattern: pattern.to_string(),
            });
        }
        if let Some(ch) = text.chars().find(|c| c.is_whitespace() || c.is_control()) {
            return Err(PatternError::BadChar {
                pattern: pattern.to_string(),
                ch,
            });
        }
        terms.push(Term {
            op,
            text: text.to_string(),
        });
    }
    Ok(terms)
}

/// What a pattern is evaluated against: hosts in inventory order and each group's members
/// (transitively, including `all` and `ungrouped`).
#[derive(Debug)]
pub struct Universe<'a> {
    pub hosts: &'a [String],
    pub groups: &'a BTreeMap<String, BTreeSet<String>>,
}

/// Evaluates a pattern to host names in inventory order.
pub fn evaluate(pattern: &str, u: &Universe<'_>) -> Result<Vec<String>, PatternError> {
    let terms = parse(pattern)?;
    let mut union: BTreeSet<&str> = BTreeSet::new();
    let mut has_union = false;
    for t in terms.iter().filter(|t| t.op == Op::Union) {
        has_union = true;
        union.extend(term_hosts(&t.text, u)?);
    }
    if !has_union {
        union = u.hosts.iter().map(String::as_str).collect();
    }
    for t in terms.iter().filter(|t| t.op == Op::Intersect) {
        let keep = term_hosts(&t.text, u)?;
        union.retain(|h| keep.contains(h));
    }
    for t in terms.iter().filter(|t| t.op == Op::Exclude) {
        let drop = term_hosts(&t.text, u)?;
        union.retain(|h| !drop.contains(h));
    }
    if union.is_empty() {
        return Err(PatternError::NothingSelected {
            pattern: pattern.to_string(),
        });
    }
    Ok(u.hosts
        .iter()
        .filter(|h| union.contains(h.as_str()))
        .cloned()
        .collect())
}

fn term_hosts<'u>(term: &str, u: &Universe<'u>) -> Result<BTreeSet<&'u str>, PatternError> {
    let mut out = BTreeSet::new();
    if term == "all" || term == "*" {
        out.extend(u.hosts.iter().map(String::as_str));
        return Ok(out);
    }
    let matcher: Box<dyn Fn(&str) -> bool> = if let Some(re) = term.strip_prefix('~') {
        let regex =
            regex::Regex::new(&format!("^(?:{re})")).map_err(|e| PatternError::BadRegex {
                term: term.to_string(),
                reason: e
                    .to_string()
                    .lines()
                    .last()
                    .unwrap_or("invalid")
                    .trim()
                    .to_lowercase(),
            })?;
        Box::new(move |name: &str| regex.is_match(name))
    } else if term.contains(['*', '?', '[']) {
        let regex = glob_regex(term).map_err(|reason| PatternError::BadRegex {
            term: term.to_string(),
            reason,
        })?;
        Box::new(move |name: &str| regex.is_match(name))
    } else {
        let t = term.to_string();
        Box::new(move |name: &str| name == t)
    };
    let mut matched_any = false;
    for (group, members) in u.groups {
        if matcher(group) {
            matched_any = true;
            out.extend(members.iter().map(String::as_str));
        }
    }
    for h in u.hosts {
        if matcher(h) {
            matched_any = true;
            out.insert(h.as_str());
        }
    }
    if !matched_any {
        let names = u.groups.keys().chain(u.hosts.iter()).map(String::as_str);
        return Err(PatternError::NoMatch {
            term: term.to_string(),
            suggestion: crate::suggest(term, names),
        });
    }
    Ok(out)
}

/// Translates a shell glob (`*`, `?`, `[...]`) to an anchored regex.
fn glob_regex(glob: &str) -> Result<regex::Regex, String> {
    let mut re = String::from("^");
    let mut chars = glob.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '*' => re.push_str(".*"),
            '?' => re.push('.'),
            '[' => {
                re.push('[');
                if chars.peek() == Some(&'!') {
                    chars.next();
                    re.push('^');
                }
                let mut closed = false;
                for c in chars.by_ref() {
                    if c == ']' {
                        closed = true;
                        break;
                    }
                    if c == '\\' || c == '[' {
                        re.push('\\');
                    }
                    re.push(c);
                }
                if !closed {
                    return Err("unclosed `[` in glob".to_string());
                }
                re.push(']');
            }
            c => re.push_str(&regex::escape(&c.to_string())),
        }
    }
    re.push('$');
    regex::Regex::new(&re).map_err(|e| e.to_string().to_lowercase())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn universe() -> (Vec<String>, BTreeMap<String, BTreeSet<String>>) {
        let hosts: Vec<String> = ["logger-a", "logger-b", "aw-a", "aw-b"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let mut groups = BTreeMap::new();
        let set = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();
        groups.insert("all".into(), set(&["logger-a", "logger-b", "aw-a", "aw-b"]));
        groups.insert("loggers".into(), set(&["logger-a", "logger-b"]));
        groups.insert("distributors".into(), set(&["aw-a", "aw-b"]));
        groups.insert("side_a".into(), set(&["logger-a", "aw-a"]));
        (hosts, groups)
    }

    fn eval(p: &str) -> Result<Vec<String>, PatternError> {
        let (hosts, groups) = universe();
        evaluate(
            p,
            &Universe {
                hosts: &hosts,
                groups: &groups,
            },
        )
    }

    #[test]
    fn operators_follow_ansible_order() {
        assert_eq!(eval("loggers:distributors").unwrap().len(), 4);
        assert_eq!(eval("!side_a:loggers").unwrap(), vec!["logger-b"]);
        assert_eq!(
            eval("&side_a,loggers:distributors").unwrap(),
            vec!["logger-a", "aw-a"]
        );
        assert_eq!(eval("!loggers").unwrap(), vec!["aw-a", "aw-b"]);
        assert_eq!(eval("logger-*").unwrap(), vec!["logger-a", "logger-b"]);
        assert_eq!(eval("~aw-.*").unwrap(), vec!["aw-a", "aw-b"]);
        assert_eq!(eval("~.*-a").unwrap(), vec!["logger-a", "aw-a"]);
        assert_eq!(eval("aw-[!a]").unwrap(), vec!["aw-b"]);
        assert_eq!(eval("*").unwrap().len(), 4);
    }

    #[test]
    fn strictness() {
        assert!(
            matches!(eval("logers"), Err(PatternError::NoMatch { suggestion: Some(s), .. }) if s == "loggers")
        );
        assert!(matches!(eval("web-*"), Err(PatternError::NoMatch { .. })));
        assert!(matches!(
            eval("loggers:&distributors"),
            Err(PatternError::NothingSelected { .. })
        ));
        assert!(matches!(eval(""), Err(PatternError::Empty)));
        assert!(matches!(eval("a::b"), Err(PatternError::EmptyTerm { .. })));
        assert!(matches!(eval("~(x"), Err(PatternError::BadRegex { .. })));
    }
}
