//! The Config API behind the ISAPI redirector: `/unifiedconfig/config/<resource>` with XML
//! bodies, paging, get by id, and updates guarded by `changeStamp` (DOMAIN.md, "The job").
//!
//! Data lives in memory per server and starts from the same seed each time. Element names and
//! the fields of each resource are simplified [assumed]; paging (`startIndex`,
//! `resultsPerPage` default 25, max 100), `changeStamp` on PUT, `Location` on POST and the
//! `<apiErrors>` shape follow DOMAIN.md. Authentication is done by the caller
//! ([`crate::server`]), as IIS/Tomcat do before the application sees the request.

use std::{collections::BTreeMap, sync::Mutex};

use crate::xml::{self, escape};

/// One record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    pub id: u64,
    pub change_stamp: u64,
    pub fields: Vec<(String, String)>,
}

/// An answer of the API, turned into HTTP by the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

/// A supported resource: URL name, list element, item element.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Kind {
    url: &'static str,
    list: &'static str,
    item: &'static str,
}

const KINDS: &[Kind] = &[
    Kind {
        url: "agent",
        list: "agents",
        item: "agent",
    },
    Kind {
        url: "skillgroup",
        list: "skillGroups",
        item: "skillGroup",
    },
    Kind {
        url: "calltype",
        list: "callTypes",
        item: "callType",
    },
    Kind {
        url: "dialednumber",
        list: "dialedNumbers",
        item: "dialedNumber",
    },
];

pub const BASE: &str = "/unifiedconfig/config/";
const DEFAULT_PAGE: usize = 25;
const MAX_PAGE: usize = 100;

/// The in-memory database of one simulated server.
#[derive(Debug)]
pub struct Store {
    data: Mutex<BTreeMap<&'static str, Vec<Item>>>,
}

fn f(k: &str, v: impl Into<String>) -> (String, String) {
    (k.to_string(), v.into())
}

impl Default for Store {
    fn default() -> Self {
        Self::seeded()
    }
}

impl Store {
    /// 30 agents (ids 5000–5029, more than one default page), 5 of each other resource.
    pub fn seeded() -> Self {
        let mut data: BTreeMap<&'static str, Vec<Item>> = BTreeMap::new();
        let agents = (0..30u64)
            .map(|i| Item {
                id: 5000 + i,
                change_stamp: 0,
                fields: vec![
                    f("agentId", format!("{}", 1000 + i)),
                    f("firstName", format!("Agent{i:02}")),
                    f("lastName", "Lab"),
                    f("userName", format!("agent{i:02}@lab.local")),
                    f("description", ""),
                    f("supervisor", "false"),
                ],
            })
            .collect();
        data.insert("agent", agents);
        let simple = |base: u64, prefix: &str, extra: &dyn Fn(u64) -> Vec<(String, String)>| {
            (0..5u64)
                .map(|i| {
                    let mut fields = vec![f("name", format!("{prefix}_{i}")), f("description", "")];
                    fields.extend(extra(i));
                    Item {
                        id: base + i,
                        change_stamp: 0,
                        fields,
                    }
                })
                .collect::<Vec<_>>()
        };
        data.insert(
            "skillgroup",
            simple(5100, "SG_Sales", &|_| {
                vec![f("mediaRoutingDomain", "Cisco_Voice")]
            }),
        );
        data.insert("calltype", simple(5200, "CT_Main", &|_| Vec::new()));
        data.insert(
            "dialednumber",
            simple(5300, "DN", &|i| {
                vec![
                    f("dialedNumberString", format!("{}", 8000 + i)),
                    f("callType", format!("{BASE}calltype/{}", 5200 + i)),
                ]
            }),
        );
        Store {
            data: Mutex::new(data),
        }
    }

    /// Handles `method` on `path` (starting with [`BASE`]).
    pub fn handle(
        &self,
        method: &str,
        path: &str,
        query: Option<&str>,
        body: &[u8],
    ) -> ApiResponse {
        let rest = path.strip_prefix(BASE).unwrap_or("");
        let mut segs = rest.split('/').filter(|s| !s.is_empty());
        let (Some(res), id, None) = (segs.next(), segs.next(), segs.next()) else {
            return error(404, "notFound", "", "The requested resource was not found.");
        };
        let Some(kind) = KINDS.iter().find(|k| k.url.eq_ignore_ascii_case(res)) else {
            return error(
                404,
                "notFound",
                res,
                "The requested resource was not found.",
            );
        };
        let id = match id.map(str::parse::<u64>) {
            None => None,
            Some(Ok(n)) => Some(n),
            Some(Err(_)) => {
                return error(
                    404,
                    "notFound",
                    res,
                    "The requested resource was not found.",
                );
            }
        };
        let mut guard = match self.data.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        let items = guard.entry(kind.url).or_default();
        match (method, id) {
            ("GET" | "HEAD", None) => list(kind, items, query),
            ("GET" | "HEAD", Some(id)) => match items.iter().find(|i| i.id == id) {
                Some(item) => ok_xml(200, format!("{}{}", XML_DECL, render(kind, item))),
                None => not_found(kind, id),
            },
            ("PUT", Some(id)) => {
                let Some(item) = items.iter_mut().find(|i| i.id == id) else {
                    return not_found(kind, id);
                };
                update(kind, item, body)
            }
            ("POST", None) => create(kind, items, body),
            ("DELETE", Some(id)) => {
                let before = items.len();
                items.retain(|i| i.id != id);
                if items.len() == before {
                    not_found(kind, id)
                } else {
                    ok_xml(200, String::new())
                }
            }
            (_, None) => method_not_allowed("GET, HEAD, POST"),
            (_, Some(_)) => method_not_allowed("GET, HEAD, PUT, DELETE"),
        }
    }
}

const XML_DECL: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n";

fn ok_xml(status: u16, body: String) -> ApiResponse {
    let headers = if body.is_empty() {
        Vec::new()
    } else {
        vec![("Content-Type".into(), "application/xml".into())]
    };
    ApiResponse {
        status,
        headers,
        body,
    }
}

/// An `<apiErrors>` answer.
pub fn error(status: u16, kind: &str, data: &str, message: &str) -> ApiResponse {
    ok_xml(
        status,
        format!(
            "{XML_DECL}<apiErrors><apiError><errorData>{}</errorData><errorMessage>{}</errorMessage><errorType>{}</errorType></apiError></apiErrors>\n",
            escape(data),
            escape(message),
            escape(kind)
        ),
    )
}

fn not_found(kind: &Kind, id: u64) -> ApiResponse {
    error(
        404,
        "notFound",
        &format!("{}/{id}", kind.url),
        "The requested resource was not found.",
    )
}

fn method_not_allowed(allow: &str) -> ApiResponse {
    let mut r = error(405, "methodNotAllowed", "", "The method is not allowed.");
    r.headers.push(("Allow".into(), allow.into()));
    r
}

fn render(kind: &Kind, item: &Item) -> String {
    let mut s = format!(
        "<{tag}><refURL>{BASE}{url}/{id}</refURL><changeStamp>{cs}</changeStamp><id>{id}</id>",
        tag = kind.item,
        url = kind.url,
        id = item.id,
        cs = item.change_stamp
    );
    for (k, v) in &item.fields {
        if v.is_empty() {
            s.push_str(&format!("<{k}/>"));
        } else {
            s.push_str(&format!("<{k}>{}</{k}>", escape(v)));
        }
    }
    s.push_str(&format!("</{}>", kind.item));
    s
}

fn query_param<'a>(query: Option<&'a str>, name: &str) -> Option<&'a str> {
    query?
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v)
}

fn list(kind: &Kind, items: &[Item], query: Option<&str>) -> ApiResponse {
    let start = match query_param(query, "startIndex").map(str::parse::<usize>) {
        None => 0,
        Some(Ok(n)) => n,
        Some(Err(_)) => {
            return error(
                400,
                "invalidInput",
                "startIndex",
                "startIndex must be a non-negative integer.",
            );
        }
    };
    let per_page = match query_param(query, "resultsPerPage").map(str::parse::<usize>) {
        None => DEFAULT_PAGE,
        Some(Ok(n)) if n > 0 => n.min(MAX_PAGE), // [assumed: capped, not refused]
        Some(_) => {
            return error(
                400,
                "invalidInput",
                "resultsPerPage",
                "resultsPerPage must be between 1 and 100.",
            );
        }
    };
    let total = items.len();
    let page_url = |s: usize| {
        format!(
            "{BASE}{}?startIndex={s}&amp;resultsPerPage={per_page}",
            kind.url
        )
    };
    let last_start = total.saturating_sub(1) / per_page * per_page;
    let mut s = format!("{XML_DECL}<results><pageInfo>");
    s.push_str(&format!("<firstPage>{}</firstPage>", page_url(0)));
    s.push_str(&format!("<lastPage>{}</lastPage>", page_url(last_start)));
    if start + per_page < total {
        s.push_str(&format!(
            "<nextPage>{}</nextPage>",
            page_url(start + per_page)
        ));
    }
    if start > 0 {
        s.push_str(&format!(
            "<prevPage>{}</prevPage>",
            page_url(start.saturating_sub(per_page))
        ));
    }
    s.push_str(&format!(
        "<resultsPerPage>{per_page}</resultsPerPage><startIndex>{start}</startIndex><totalResults>{total}</totalResults></pageInfo><{}>",
        kind.list
    ));
    for item in items.iter().skip(start).take(per_page) {
        s.push_str(&render(kind, item));
    }
    s.push_str(&format!("</{}></results>\n", kind.list));
    ok_xml(200, s)
}

fn parse_body(kind: &Kind, body: &[u8]) -> Result<xml::Element, ApiResponse> {
    let doc = xml::parse(body).map_err(|e| {
        error(
            400,
            "invalidInput",
            "",
            &format!("The request body is not valid XML: {e}."),
        )
    })?;
    if !doc.name.eq_ignore_ascii_case(kind.item) {
        return Err(error(
            400,
            "invalidInput",
            &doc.name,
            &format!("Expected a <{}> element.", kind.item),
        ));
    }
    Ok(doc)
}

fn apply_fields(item: &mut Item, doc: &xml::Element) -> Result<(), ApiResponse> {
    for c in &doc.children {
        if ["changeStamp", "refURL", "id"].contains(&c.name.as_str()) {
            continue;
        }
        match item.fields.iter_mut().find(|(k, _)| *k == c.name) {
            Some((_, v)) => *v = c.text.trim().to_string(),
            None => {
                return Err(error(400, "invalidInput", &c.name, "Unknown field."));
            }
        }
    }
    Ok(())
}

fn update(kind: &Kind, item: &mut Item, body: &[u8]) -> ApiResponse {
    let doc = match parse_body(kind, body) {
        Ok(d) => d,
        Err(r) => return r,
    };
    let Some(stamp) = doc.child("changeStamp").map(|c| c.text.trim().to_string()) else {
        return error(
            400,
            "invalidInput",
            "changeStamp",
            "changeStamp is required for an update.",
        );
    };
    if stamp.parse::<u64>().ok() != Some(item.change_stamp) {
        return error(
            409,
            "staleChangeStamp",
            "changeStamp",
            &format!(
                "The record was changed by someone else (changeStamp {} expected, {} sent).",
                item.change_stamp, stamp
            ),
        );
    }
    let mut next = item.clone();
    if let Err(r) = apply_fields(&mut next, &doc) {
        return r;
    }
    next.change_stamp += 1;
    *item = next;
    ok_xml(200, String::new())
}

fn create(kind: &Kind, items: &mut Vec<Item>, body: &[u8]) -> ApiResponse {
    let doc = match parse_body(kind, body) {
        Ok(d) => d,
        Err(r) => return r,
    };
    let template = items.first().cloned();
    let id = items.iter().map(|i| i.id).max().unwrap_or(4999) + 1;
    let mut item = Item {
        id,
        change_stamp: 0,
        fields: template
            .map(|t| {
                t.fields
                    .into_iter()
                    .map(|(k, _)| (k, String::new()))
                    .collect()
            })
            .unwrap_or_default(),
    };
    if let Err(r) = apply_fields(&mut item, &doc) {
        return r;
    }
    items.push(item);
    let mut r = ok_xml(201, String::new());
    r.headers
        .push(("Location".into(), format!("{BASE}{}/{id}", kind.url)));
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(store: &Store, path: &str, q: Option<&str>) -> ApiResponse {
        store.handle("GET", path, q, b"")
    }

    #[test]
    fn lists_page_through_the_agents() {
        let s = Store::seeded();
        let r = get(&s, "/unifiedconfig/config/agent", None);
        assert_eq!(r.status, 200);
        let doc = xml::parse(r.body.as_bytes()).expect("xml");
        assert_eq!(doc.child("agents").map(|a| a.children.len()), Some(25));
        let total = doc
            .path(&["pageInfo", "totalResults"])
            .map(|t| t.text.clone());
        assert_eq!(total.as_deref(), Some("30"));
        let r = get(
            &s,
            "/unifiedconfig/config/agent",
            Some("startIndex=25&resultsPerPage=10"),
        );
        let doc = xml::parse(r.body.as_bytes()).expect("xml");
        assert_eq!(doc.child("agents").map(|a| a.children.len()), Some(5));
        assert!(doc.path(&["pageInfo", "nextPage"]).is_none());
        let r = get(
            &s,
            "/unifiedconfig/config/agent",
            Some("resultsPerPage=1000"),
        );
        let doc = xml::parse(r.body.as_bytes()).expect("xml");
        assert_eq!(doc.child("agents").map(|a| a.children.len()), Some(30));
        assert_eq!(
            get(&s, "/unifiedconfig/config/agent", Some("startIndex=x")).status,
            400
        );
    }

    #[test]
    fn put_checks_the_change_stamp() {
        let s = Store::seeded();
        let path = "/unifiedconfig/config/agent/5000";
        let body =
            b"<agent><changeStamp>0</changeStamp><description>reskilled</description></agent>";
        assert_eq!(s.handle("PUT", path, None, body).status, 200);
        let stale = s.handle("PUT", path, None, body);
        assert_eq!(stale.status, 409);
        assert!(stale.body.contains("<apiErrors>"));
        let r = get(&s, path, None);
        assert!(
            r.body.contains("<changeStamp>1</changeStamp>"),
            "{}",
            r.body
        );
        assert!(r.body.contains("<description>reskilled</description>"));
        assert_eq!(s.handle("PUT", path, None, b"<agent/>").status, 400);
        assert_eq!(s.handle("PUT", path, None, b"<agent>").status, 400);
        assert_eq!(
            s.handle(
                "PUT",
                path,
                None,
                b"<agent><changeStamp>1</changeStamp><shoeSize>4</shoeSize></agent>"
            )
            .status,
            400
        );
    }

    #[test]
    fn post_creates_and_delete_removes() {
        let s = Store::seeded();
        let r = s.handle(
            "POST",
            "/unifiedconfig/config/calltype",
            None,
            b"<callType><name>CT_New</name></callType>",
        );
        assert_eq!(r.status, 201);
        let loc = r
            .headers
            .iter()
            .find(|(k, _)| k == "Location")
            .map(|(_, v)| v.clone())
            .expect("location");
        assert_eq!(loc, "/unifiedconfig/config/calltype/5205");
        assert_eq!(s.handle("DELETE", &loc, None, b"").status, 200);
        assert_eq!(get(&s, &loc, None).status, 404);
        assert_eq!(get(&s, "/unifiedconfig/config/nosuch", None).status, 404);
        assert_eq!(
            s.handle("PATCH", "/unifiedconfig/config/agent", None, b"")
                .status,
            405
        );
    }
}
