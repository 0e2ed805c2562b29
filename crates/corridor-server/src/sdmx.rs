//! SDMX REST 2.0 over a release: structure queries answered from the
//! release's own SDMX-ML 3.0 structure message, cut to the artefacts asked
//! for and the ones they reference, and data queries answered from its
//! SDMX-CSV files, filtered by key and by `c[...]` components. Nothing is
//! regenerated: what a client pulls is what the release signed.

use std::collections::{BTreeMap, BTreeSet};

use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::api::error;
use crate::catalogue::{Release, TableData};

const STRUCTURE_XML: &str = "application/vnd.sdmx.structure+xml; version=3.0.0; charset=utf-8";
const DATA_CSV_2: &str = "application/vnd.sdmx.data+csv; version=2.0.0; charset=utf-8";
const DATA_CSV_1: &str = "application/vnd.sdmx.data+csv; version=1.0.0; charset=utf-8";

/// The kinds of artefact a Corridor release's structure message holds, in
/// the order SDMX-ML 3.0 lists them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Codelist,
    ConceptScheme,
    Dataflow,
    DataStructure,
}

impl Kind {
    const ALL: [Kind; 4] = [
        Kind::Codelist,
        Kind::ConceptScheme,
        Kind::Dataflow,
        Kind::DataStructure,
    ];

    fn tag(self) -> &'static str {
        match self {
            Kind::Codelist => "Codelist",
            Kind::ConceptScheme => "ConceptScheme",
            Kind::Dataflow => "Dataflow",
            Kind::DataStructure => "DataStructure",
        }
    }

    /// The REST resource name.
    fn resource(self) -> &'static str {
        match self {
            Kind::Codelist => "codelist",
            Kind::ConceptScheme => "conceptscheme",
            Kind::Dataflow => "dataflow",
            Kind::DataStructure => "datastructure",
        }
    }

    fn from_resource(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.resource() == s)
    }

    /// The class in an SDMX URN that names an artefact of this kind, or
    /// an item in one (a concept names its scheme).
    fn from_urn_class(class: &str) -> Option<Kind> {
        match class {
            "codelist.Codelist" => Some(Kind::Codelist),
            "conceptscheme.ConceptScheme" | "conceptscheme.Concept" => Some(Kind::ConceptScheme),
            "datastructure.Dataflow" => Some(Kind::Dataflow),
            "datastructure.DataStructure" => Some(Kind::DataStructure),
            _ => None,
        }
    }
}

/// Every SDMX REST 2.0 structure type: the ones a release holds none of
/// find nothing (404), anything else is a malformed query (400).
const STRUCTURE_TYPES: &[&str] = &[
    "datastructure",
    "metadatastructure",
    "categoryscheme",
    "conceptscheme",
    "codelist",
    "hierarchy",
    "hierarchyassociation",
    "valuelist",
    "agencyscheme",
    "dataproviderscheme",
    "dataconsumerscheme",
    "organisationunitscheme",
    "dataflow",
    "metadataflow",
    "reportingtaxonomy",
    "provisionagreement",
    "structuremap",
    "representationmap",
    "conceptschememap",
    "categoryschememap",
    "organisationschememap",
    "reportingtaxonomymap",
    "process",
    "categorisation",
    "dataconstraint",
    "metadataconstraint",
    "transformationscheme",
    "rulesetscheme",
    "userdefinedoperatorscheme",
    "customtypescheme",
    "namepersonalisationscheme",
    "vtlmappingscheme",
];

type Key = (Kind, String, String, String);

/// One maintainable artefact of the structure message, as its XML block.
struct Artefact {
    kind: Kind,
    agency: String,
    id: String,
    version: String,
    xml: String,
    /// The artefacts it references (a dataflow its data structure, a data
    /// structure its code lists and concept scheme).
    refs: BTreeSet<Key>,
}

impl Artefact {
    fn key(&self) -> Key {
        (
            self.kind,
            self.agency.clone(),
            self.id.clone(),
            self.version.clone(),
        )
    }
}

/// A release's structure message, split into its artefacts.
pub(crate) struct Structures {
    /// The XML declaration, the root element's opening tag and the header.
    opening: String,
    artefacts: Vec<Artefact>,
}

impl Structures {
    /// Splits the structure message Corridor wrote: one block per
    /// artefact, from its opening tag to its closing one.
    pub(crate) fn parse(xml: &str) -> Result<Structures, String> {
        let start = xml
            .find("<mes:Structures>")
            .ok_or("no <mes:Structures> element")?;
        let mut artefacts = Vec::new();
        for kind in Kind::ALL {
            let open = format!("<str:{} ", kind.tag());
            let close = format!("</str:{}>", kind.tag());
            let mut at = start;
            while let Some(i) = xml[at..].find(&open) {
                let begin = at + i;
                let end = xml[begin..]
                    .find(&close)
                    .map(|j| begin + j + close.len())
                    .ok_or_else(|| format!("a {} is not closed", kind.tag()))?;
                let tag_end = xml[begin..].find('>').map_or(end, |j| begin + j).min(end);
                let tag = &xml[begin..tag_end];
                let attr = |name: &str| {
                    attribute(tag, name).ok_or_else(|| format!("a {} has no {name}", kind.tag()))
                };
                let mut a = Artefact {
                    kind,
                    agency: attr("agencyID")?,
                    id: attr("id")?,
                    version: attr("version")?,
                    // From the start of its line, so that the cut message
                    // keeps the indentation.
                    xml: {
                        let line = xml[..begin].rfind('\n').map_or(begin, |n| n + 1);
                        format!("{}\n", &xml[line..end])
                    },
                    refs: BTreeSet::new(),
                };
                a.refs = urns(&xml[begin..end])
                    .into_iter()
                    .filter(|k| *k != a.key())
                    .collect();
                artefacts.push(a);
                at = end;
            }
        }
        Ok(Structures {
            opening: xml[..start].to_string(),
            artefacts,
        })
    }

    /// The data structure a dataflow of this message uses.
    fn dataflow(&self, agency: &str, id: &str, version: &str) -> Option<&Artefact> {
        self.artefacts.iter().find(|a| {
            a.kind == Kind::Dataflow
                && matches(agency, &a.agency)
                && matches(id, &a.id)
                && version_matches(version, a, &self.artefacts)
        })
    }

    fn find(&self, key: &Key) -> Option<&Artefact> {
        self.artefacts.iter().find(|a| a.key() == *key)
    }

    fn children(&self, a: &Artefact) -> Vec<&Artefact> {
        a.refs.iter().filter_map(|k| self.find(k)).collect()
    }

    fn parents(&self, a: &Artefact) -> Vec<&Artefact> {
        let key = a.key();
        self.artefacts
            .iter()
            .filter(|p| p.refs.contains(&key))
            .collect()
    }

    /// Everything reachable from `from` by `step`, transitively.
    fn closure<'a>(
        &'a self,
        from: &[&'a Artefact],
        step: impl Fn(&'a Artefact) -> Vec<&'a Artefact>,
    ) -> Vec<&'a Artefact> {
        let mut seen: BTreeSet<Key> = from.iter().map(|a| a.key()).collect();
        let mut todo: Vec<&Artefact> = from.to_vec();
        let mut out = Vec::new();
        while let Some(a) = todo.pop() {
            for n in step(a) {
                if seen.insert(n.key()) {
                    out.push(n);
                    todo.push(n);
                }
            }
        }
        out
    }

    /// The message holding `chosen` (in SDMX-ML's section order).
    fn message(&self, chosen: &BTreeSet<Key>) -> String {
        let mut x = self.opening.clone();
        x.push_str("<mes:Structures>\n");
        for kind in Kind::ALL {
            let of_kind: Vec<&Artefact> = self
                .artefacts
                .iter()
                .filter(|a| a.kind == kind && chosen.contains(&a.key()))
                .collect();
            if of_kind.is_empty() {
                continue;
            }
            x.push_str(&format!("    <str:{}s>\n", kind.tag()));
            for a in of_kind {
                x.push_str(&a.xml);
            }
            x.push_str(&format!("    </str:{}s>\n", kind.tag()));
        }
        x.push_str("  </mes:Structures>\n</mes:Structure>\n");
        x
    }
}

/// The English and Spanish names of a release's codes and dimensions,
/// read from its structure message: what the portal labels things with.
#[derive(Default)]
pub(crate) struct Labels {
    /// Code list id → code → (en, es).
    codes: BTreeMap<String, BTreeMap<String, (String, String)>>,
    /// Dimension (lower case, as the release's CSV names it) → its code
    /// list.
    lists: BTreeMap<String, String>,
    /// Concept (lower case) → (en, es).
    concepts: BTreeMap<String, (String, String)>,
}

impl Labels {
    /// The name of `code` of dimension `dim` in `lang` (`en` or `es`), or
    /// the code itself.
    pub(crate) fn code(&self, dim: &str, code: &str, spanish: bool) -> String {
        self.lists
            .get(dim)
            .and_then(|l| self.codes.get(l))
            .and_then(|c| c.get(code))
            .map_or_else(
                || code.to_string(),
                |(en, es)| if spanish { es.clone() } else { en.clone() },
            )
    }

    /// The name of a dimension, or the dimension itself.
    pub(crate) fn dim(&self, dim: &str, spanish: bool) -> String {
        let key = if matches!(dim, "month" | "year" | "quarter") {
            "time_period"
        } else {
            dim
        };
        self.concepts.get(key).map_or_else(
            || dim.replace('_', " "),
            |(en, es)| if spanish { es.clone() } else { en.clone() },
        )
    }
}

impl Structures {
    pub(crate) fn labels(&self) -> Labels {
        let mut l = Labels::default();
        for a in &self.artefacts {
            match a.kind {
                Kind::Codelist => {
                    l.codes.insert(a.id.clone(), items(&a.xml, "<str:Code "));
                }
                Kind::ConceptScheme => {
                    for (id, names) in items(&a.xml, "<str:Concept ") {
                        l.concepts.insert(id.to_lowercase(), names);
                    }
                }
                Kind::DataStructure => {
                    let mut rest = a.xml.as_str();
                    while let Some(i) = rest.find("<str:Dimension ") {
                        rest = &rest[i..];
                        let end = rest.find("</str:Dimension>").unwrap_or(rest.len());
                        let block = &rest[..end];
                        if let (Some(id), Some(list)) = (
                            attribute(block, "id"),
                            urns(block).into_iter().find(|k| k.0 == Kind::Codelist),
                        ) {
                            l.lists.insert(id.to_lowercase(), list.2);
                        }
                        rest = &rest[end..];
                    }
                }
                Kind::Dataflow => {}
            }
        }
        l
    }
}

/// The items of a scheme (`<str:Code ` or `<str:Concept `): id → names.
fn items(xml: &str, open: &str) -> BTreeMap<String, (String, String)> {
    let mut out = BTreeMap::new();
    let mut rest = xml;
    while let Some(i) = rest.find(open) {
        rest = &rest[i..];
        // An item ends where the next begins (or the scheme ends).
        let end = rest[open.len()..]
            .find(open)
            .map_or(rest.len(), |j| j + open.len());
        let block = &rest[..end];
        if let Some(id) = attribute(block, "id") {
            let name = |lang: &str| {
                let pat = format!("<com:Name xml:lang=\"{lang}\">");
                block.find(&pat).and_then(|k| {
                    let v = &block[k + pat.len()..];
                    v.find("</com:Name>").map(|e| unescape(&v[..e]))
                })
            };
            let en = name("en").unwrap_or_else(|| id.clone());
            let es = name("es").unwrap_or_else(|| en.clone());
            out.insert(id, (en, es));
        }
        rest = &rest[end..];
    }
    out
}

fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

/// The value of `name="..."` in an opening tag.
fn attribute(tag: &str, name: &str) -> Option<String> {
    let pat = format!(" {name}=\"");
    let i = tag.find(&pat)? + pat.len();
    let j = tag[i..].find('"')?;
    Some(tag[i..i + j].to_string())
}

/// The artefacts the SDMX URNs in `xml` name.
fn urns(xml: &str) -> BTreeSet<Key> {
    const PREFIX: &str = "urn:sdmx:org.sdmx.infomodel.";
    let mut out = BTreeSet::new();
    let mut rest = xml;
    while let Some(i) = rest.find(PREFIX) {
        rest = &rest[i + PREFIX.len()..];
        let Some(eq) = rest.find('=') else { break };
        let Some(kind) = Kind::from_urn_class(&rest[..eq]) else {
            continue;
        };
        let body = &rest[eq + 1..];
        let (Some(colon), Some(open), Some(close)) =
            (body.find(':'), body.find('('), body.find(')'))
        else {
            continue;
        };
        if colon < open && open < close {
            out.insert((
                kind,
                body[..colon].to_string(),
                body[colon + 1..open].to_string(),
                body[open + 1..close].to_string(),
            ));
        }
    }
    out
}

/// Whether `value` is one of the comma-separated `pattern`s (`*`: any).
fn matches(pattern: &str, value: &str) -> bool {
    pattern.split(',').any(|p| p == "*" || p == value)
}

/// `*` any version, `~` or `+` the latest of the artefact's versions, or
/// versions named.
fn version_matches(pattern: &str, a: &Artefact, all: &[Artefact]) -> bool {
    pattern.split(',').any(|p| match p {
        "*" => true,
        "~" | "+" | "latest" => {
            let latest = all
                .iter()
                .filter(|b| b.kind == a.kind && b.agency == a.agency && b.id == a.id)
                .map(|b| b.version.as_str())
                .max();
            latest == Some(a.version.as_str())
        }
        v => v == a.version,
    })
}

/// The path segments after `structure/` or `data/`, empty ones dropped
/// (clients add a trailing slash).
fn segments(rest: &str) -> Vec<&str> {
    rest.split('/').filter(|s| !s.is_empty()).collect()
}

/// `GET .../structure/{type}/{agency}/{id}/{version}?references&detail`.
pub(crate) fn structure_query(
    r: &Release,
    rest: &str,
    params: &[(String, String)],
    headers: &HeaderMap,
) -> Response {
    let (structures, seg) = match opening(
        r,
        rest,
        headers,
        &["structure+xml", "application/xml", "text/xml"],
        "structures are served as SDMX-ML 3.0: ask for application/vnd.sdmx.structure+xml;version=3.0.0",
        "a structure query is structure/{type}/{agency}/{id}/{version}/{item}",
    ) {
        Ok(x) => x,
        Err((status, why)) => return error(status, why),
    };
    if seg.get(4).is_some_and(|item| *item != "*") {
        return error(
            StatusCode::NOT_IMPLEMENTED,
            "item queries are not served: ask for the whole code list or concept scheme",
        );
    }
    let part = |i: usize, default: &'static str| seg.get(i).copied().unwrap_or(default);
    let (kind, agency, id, version) = (part(0, "*"), part(1, "*"), part(2, "*"), part(3, "~"));
    let mut kinds = Vec::new();
    for k in kind.split(',') {
        match k {
            "*" | "structure" => kinds.extend(Kind::ALL),
            other => match Kind::from_resource(other) {
                Some(k) => kinds.push(k),
                None if STRUCTURE_TYPES.contains(&other) => {}
                None => {
                    return error(
                        StatusCode::BAD_REQUEST,
                        format!(
                            "`{other}` is not an SDMX structure type; this release holds dataflow, datastructure, codelist and conceptscheme"
                        ),
                    );
                }
            },
        }
    }
    let mut references = "none";
    for (k, v) in params {
        match k.as_str() {
            "references" => references = v.as_str(),
            // Full detail is what a release holds; stubs would only hide it.
            "detail" => {}
            other => {
                return error(
                    StatusCode::BAD_REQUEST,
                    format!(
                        "unknown parameter `{other}`: structure queries take references and detail"
                    ),
                );
            }
        }
    }
    let asked: Vec<&Artefact> = structures
        .artefacts
        .iter()
        .filter(|a| {
            kinds.contains(&a.kind)
                && matches(agency, &a.agency)
                && matches(id, &a.id)
                && version_matches(version, a, &structures.artefacts)
        })
        .collect();
    if asked.is_empty() {
        return error(
            StatusCode::NOT_FOUND,
            format!("no {kind} {agency}:{id}({version}) in release {}", r.id),
        );
    }
    let s = structures;
    let descendants = || s.closure(&asked, |a| s.children(a));
    let parents = || -> Vec<&Artefact> { asked.iter().flat_map(|a| s.parents(a)).collect() };
    let siblings = || -> Vec<&Artefact> {
        let p = parents();
        let mut out = p.clone();
        out.extend(p.iter().flat_map(|a| s.children(a)));
        out
    };
    let extra: Vec<&Artefact> = match references {
        "none" => Vec::new(),
        "children" => asked.iter().flat_map(|a| s.children(a)).collect(),
        "descendants" => descendants(),
        "parents" => parents(),
        "parentsandsiblings" => siblings(),
        "ancestors" => s.closure(&asked, |a| s.parents(a)),
        "all" => {
            let mut v = siblings();
            v.extend(descendants());
            v
        }
        other => match Kind::from_resource(other) {
            Some(k) => {
                let mut v = descendants();
                v.extend(s.closure(&asked, |a| s.parents(a)));
                v.retain(|a| a.kind == k);
                v
            }
            None if STRUCTURE_TYPES.contains(&other) => Vec::new(),
            None => {
                return error(
                    StatusCode::BAD_REQUEST,
                    format!(
                        "references `{other}`: use none, parents, parentsandsiblings, ancestors, children, descendants, all, or a structure type"
                    ),
                );
            }
        },
    };
    let chosen: BTreeSet<Key> = asked.iter().chain(&extra).map(|a| a.key()).collect();
    let mut resp = (StatusCode::OK, s.message(&chosen)).into_response();
    crate::api::set(&mut resp, header::CONTENT_TYPE, STRUCTURE_XML);
    resp
}

/// What every query checks first: that the release has a structure, that
/// `Accept` allows what is served, and that the path has at most five
/// segments (its shape is `shape`). The structure and the segments.
fn opening<'r, 'p>(
    r: &'r Release,
    rest: &'p str,
    headers: &HeaderMap,
    wanted: &[&str],
    not_acceptable: &str,
    shape: &str,
) -> Result<(&'r Structures, Vec<&'p str>), (StatusCode, String)> {
    let Some(structures) = &r.sdmx else {
        return Err((
            StatusCode::NOT_FOUND,
            format!("release {} has no SDMX structure", r.id),
        ));
    };
    if !accepts(headers, wanted) {
        return Err((StatusCode::NOT_ACCEPTABLE, not_acceptable.to_string()));
    }
    let seg = segments(rest);
    if seg.len() > 5 {
        return Err((StatusCode::BAD_REQUEST, shape.to_string()));
    }
    Ok((structures, seg))
}

/// Whether `Accept` allows one of `wanted` (or anything: no header, `*/*`).
fn accepts(headers: &HeaderMap, wanted: &[&str]) -> bool {
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    accept.is_empty() || accept.contains("*/*") || wanted.iter().any(|w| accept.contains(w))
}

/// A condition on one column: alternatives, each an operator and a value.
struct Condition {
    column: usize,
    /// ANDed groups of ORed tests.
    all: Vec<Vec<(Op, String)>>,
}

#[derive(Clone, Copy)]
enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Contains,
    NotContains,
    Starts,
    Ends,
}

fn parse_test(t: &str) -> (Op, String) {
    let ops = [
        ("eq:", Op::Eq),
        ("ne:", Op::Ne),
        ("lt:", Op::Lt),
        ("le:", Op::Le),
        ("gt:", Op::Gt),
        ("ge:", Op::Ge),
        ("co:", Op::Contains),
        ("nc:", Op::NotContains),
        ("sw:", Op::Starts),
        ("ew:", Op::Ends),
    ];
    for (p, op) in ops {
        if let Some(v) = t.strip_prefix(p) {
            return (op, v.to_string());
        }
    }
    (Op::Eq, t.to_string())
}

/// How a column's values compare: periods by the coarser of the two
/// (`2022-03` is in `2022`), observation values as numbers, the rest as
/// codes.
#[derive(Clone, Copy)]
enum Compare {
    Period,
    Number,
    Code,
}

fn test(op: Op, value: &str, bound: &str, how: Compare) -> bool {
    use std::cmp::Ordering;
    let ord = match how {
        Compare::Period => {
            // Bytes: a bound a client sent may split a character.
            let n = value.len().min(bound.len());
            value.as_bytes()[..n].cmp(&bound.as_bytes()[..n])
        }
        Compare::Number => match (value.parse::<f64>(), bound.parse::<f64>()) {
            (Ok(a), Ok(b)) => a.partial_cmp(&b).unwrap_or(Ordering::Equal),
            _ => value.cmp(bound),
        },
        Compare::Code => value.cmp(bound),
    };
    match op {
        Op::Eq => ord == Ordering::Equal,
        Op::Ne => ord != Ordering::Equal,
        Op::Lt => ord == Ordering::Less,
        Op::Le => ord != Ordering::Greater,
        Op::Gt => ord == Ordering::Greater,
        Op::Ge => ord != Ordering::Less,
        Op::Contains => value.contains(bound),
        Op::NotContains => !value.contains(bound),
        Op::Starts => value.starts_with(bound),
        Op::Ends => value.ends_with(bound),
    }
}

/// `GET .../data/{context}/{agency}/{id}/{version}/{key}?c[..]&...`, as
/// SDMX-CSV 2.0 (or 1.0 when asked).
pub(crate) fn data_query(
    r: &Release,
    rest: &str,
    params: &[(String, String)],
    headers: &HeaderMap,
) -> Response {
    let (structures, seg) = match opening(
        r,
        rest,
        headers,
        &["data+csv", "text/csv"],
        "data are served as SDMX-CSV: ask for application/vnd.sdmx.data+csv;version=2.0.0 (or version=1.0.0)",
        "a data query is data/{context}/{agency}/{id}/{version}/{key}",
    ) {
        Ok(x) => x,
        Err((status, why)) => return error(status, why),
    };
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let csv1 = accept.contains("data+csv") && accept.contains("version=1.0");
    let part = |i: usize, default: &'static str| seg.get(i).copied().unwrap_or(default);
    let (context, agency, id, version, key) = (
        part(0, "*"),
        part(1, "*"),
        part(2, "*"),
        part(3, "*"),
        part(4, "*"),
    );
    if !context.split(',').any(|c| c == "*" || c == "dataflow") {
        return error(
            StatusCode::NOT_FOUND,
            format!("context `{context}`: a release's data are reported against dataflows"),
        );
    }
    let flows: Vec<&TableData> = r
        .tables
        .values()
        .filter(|t| {
            !t.dataflow.is_empty()
                && structures
                    .dataflow(agency, &t.dataflow, version)
                    .is_some_and(|_| matches(id, &t.dataflow))
        })
        .collect();
    let t = match flows.as_slice() {
        [] => {
            return error(
                StatusCode::NOT_FOUND,
                format!("no dataflow {agency}:{id}({version}) in release {}", r.id),
            );
        }
        [one] => *one,
        many => {
            return error(
                StatusCode::BAD_REQUEST,
                format!(
                    "name one dataflow: {} match, {}",
                    many.len(),
                    many.iter()
                        .map(|t| t.dataflow.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            );
        }
    };
    let h = &t.sdmx_header;
    let col = |name: &str| h.iter().position(|c| c == name);
    // The key's dimensions: after STRUCTURE, STRUCTURE_ID, ACTION, up to
    // the time period or the value.
    let key_end = col("TIME_PERIOD")
        .or_else(|| col("OBS_VALUE"))
        .unwrap_or(h.len());
    let key_dims: Vec<usize> = (3..key_end).collect();
    let mut conditions: Vec<Condition> = Vec::new();
    if key != "*" && key != "all" {
        let parts: Vec<&str> = key.split('.').collect();
        if parts.len() != key_dims.len() {
            return error(
                StatusCode::BAD_REQUEST,
                format!(
                    "the key `{key}` has {} parts; {} has {} dimensions in its key: {}",
                    parts.len(),
                    t.dataflow,
                    key_dims.len(),
                    key_dims
                        .iter()
                        .map(|&i| h[i].as_str())
                        .collect::<Vec<_>>()
                        .join(".")
                ),
            );
        }
        for (p, &column) in parts.iter().zip(&key_dims) {
            if p.is_empty() || *p == "*" {
                continue;
            }
            let alts = p
                .split([',', '+'])
                .map(|v| (Op::Eq, v.to_string()))
                .collect();
            conditions.push(Condition {
                column,
                all: vec![alts],
            });
        }
    }
    let (mut first_n, mut last_n) = (None, None);
    for (k, v) in params {
        let number = || {
            v.parse::<usize>()
                .map_err(|_| format!("`{k}` is a whole number, not `{v}`"))
        };
        if let Some(component) = k.strip_prefix("c[").and_then(|c| c.strip_suffix(']')) {
            let Some(column) = col(component).filter(|&i| i >= 3) else {
                return error(
                    StatusCode::BAD_REQUEST,
                    format!(
                        "c[{component}]: {} has no such component; its components: {}",
                        t.dataflow,
                        h[3..].join(", ")
                    ),
                );
            };
            // `+` joins conditions that must all hold; a `+` a browser
            // sent unencoded arrives as a space.
            let all = v
                .split(['+', ' '])
                .filter(|g| !g.is_empty())
                .map(|g| g.split(',').map(parse_test).collect())
                .collect();
            conditions.push(Condition { column, all });
            continue;
        }
        match k.as_str() {
            "startPeriod" | "endPeriod" => {
                let Some(column) = col("TIME_PERIOD") else {
                    return error(
                        StatusCode::BAD_REQUEST,
                        format!("{} has no time dimension", t.dataflow),
                    );
                };
                let op = if k == "startPeriod" { Op::Ge } else { Op::Le };
                conditions.push(Condition {
                    column,
                    all: vec![vec![(op, v.clone())]],
                });
            }
            "firstNObservations" => match number() {
                Ok(n) => first_n = Some(n),
                Err(why) => return error(StatusCode::BAD_REQUEST, why),
            },
            "lastNObservations" => match number() {
                Ok(n) => last_n = Some(n),
                Err(why) => return error(StatusCode::BAD_REQUEST, why),
            },
            // A flat CSV has every dimension at the observation, every
            // attribute and measure; a release has no history.
            "dimensionAtObservation" | "attributes" | "measures" | "includeHistory" | "detail" => {}
            other => {
                return error(
                    StatusCode::BAD_REQUEST,
                    format!(
                        "unknown parameter `{other}`: data queries take c[COMPONENT], startPeriod, endPeriod, firstNObservations and lastNObservations"
                    ),
                );
            }
        }
    }
    let how = |column: usize| match h[column].as_str() {
        "TIME_PERIOD" => Compare::Period,
        "OBS_VALUE" => Compare::Number,
        _ => Compare::Code,
    };
    let mut rows: Vec<&Vec<String>> = t
        .sdmx_rows
        .iter()
        .filter(|row| {
            conditions.iter().all(|c| {
                let v = row.get(c.column).map_or("", String::as_str);
                c.all.iter().all(|alts| {
                    alts.iter()
                        .any(|(op, bound)| test(*op, v, bound, how(c.column)))
                })
            })
        })
        .collect();
    if first_n.is_some() || last_n.is_some() {
        rows = per_series(rows, &key_dims, col("TIME_PERIOD"), first_n, last_n);
    }
    if rows.is_empty() {
        return error(
            StatusCode::NOT_FOUND,
            format!("no observation of {} matches the query", t.dataflow),
        );
    }
    let mut w = csv::Writer::from_writer(Vec::new());
    // Writing to memory cannot fail.
    if csv1 {
        let mut header = vec!["DATAFLOW".to_string()];
        header.extend(h[3..].iter().cloned());
        let _ = w.write_record(&header);
        for row in rows {
            let _ = w.write_record(std::iter::once(&row[1]).chain(&row[3..]));
        }
    } else {
        let _ = w.write_record(h);
        for row in rows {
            let _ = w.write_record(row);
        }
    }
    let mut resp = (StatusCode::OK, w.into_inner().unwrap_or_default()).into_response();
    crate::api::set(
        &mut resp,
        header::CONTENT_TYPE,
        if csv1 { DATA_CSV_1 } else { DATA_CSV_2 },
    );
    resp
}

/// The first and last observations of each series (rows that share the
/// key), in time order.
fn per_series<'a>(
    rows: Vec<&'a Vec<String>>,
    key_dims: &[usize],
    time: Option<usize>,
    first_n: Option<usize>,
    last_n: Option<usize>,
) -> Vec<&'a Vec<String>> {
    let mut series: BTreeMap<Vec<&str>, Vec<&Vec<String>>> = BTreeMap::new();
    for row in rows {
        let key = key_dims.iter().map(|&i| row[i].as_str()).collect();
        series.entry(key).or_default().push(row);
    }
    let mut out = Vec::new();
    for (_, mut obs) in series {
        if let Some(t) = time {
            obs.sort_by(|a, b| a[t].cmp(&b[t]));
        }
        let n = obs.len();
        let keep = |i: usize| first_n.is_some_and(|f| i < f) || last_n.is_some_and(|l| i + l >= n);
        out.extend(
            obs.into_iter()
                .enumerate()
                .filter(|(i, _)| keep(*i))
                .map(|(_, r)| r),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const XML: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<mes:Structure xmlns:mes="m" xmlns:str="s" xmlns:com="c">
  <mes:Header>
    <mes:ID>X</mes:ID>
  </mes:Header>
  <mes:Structures>
    <str:Codelists>
      <str:Codelist urn="urn:sdmx:org.sdmx.infomodel.codelist.Codelist=A:CL_SEX(1.0)" id="CL_SEX" agencyID="A" version="1.0">
        <str:Code id="F"/>
      </str:Codelist>
      <str:Codelist urn="urn:sdmx:org.sdmx.infomodel.codelist.Codelist=A:CL_OTHER(1.0)" id="CL_OTHER" agencyID="A" version="1.0">
      </str:Codelist>
    </str:Codelists>
    <str:ConceptSchemes>
      <str:ConceptScheme id="CS" agencyID="A" version="1.0">
        <str:Concept id="SEX"/>
      </str:ConceptScheme>
    </str:ConceptSchemes>
    <str:Dataflows>
      <str:Dataflow id="F1" agencyID="A" version="1.0">
        <str:Structure>urn:sdmx:org.sdmx.infomodel.datastructure.DataStructure=A:DSD_F1(1.0)</str:Structure>
      </str:Dataflow>
    </str:Dataflows>
    <str:DataStructures>
      <str:DataStructure id="DSD_F1" agencyID="A" version="1.0">
        <str:DataStructureComponents>
          <str:ConceptIdentity>urn:sdmx:org.sdmx.infomodel.conceptscheme.Concept=A:CS(1.0).SEX</str:ConceptIdentity>
          <str:Enumeration>urn:sdmx:org.sdmx.infomodel.codelist.Codelist=A:CL_SEX(1.0)</str:Enumeration>
        </str:DataStructureComponents>
      </str:DataStructure>
    </str:DataStructures>
  </mes:Structures>
</mes:Structure>
"#;

    #[test]
    fn a_structure_message_splits_into_artefacts_and_their_references() {
        let s = Structures::parse(XML).unwrap();
        let ids: Vec<&str> = s.artefacts.iter().map(|a| a.id.as_str()).collect();
        assert_eq!(ids, ["CL_SEX", "CL_OTHER", "CS", "F1", "DSD_F1"]);
        let dsd = s.artefacts.iter().find(|a| a.id == "DSD_F1").unwrap();
        let refs: Vec<&str> = dsd.refs.iter().map(|k| k.2.as_str()).collect();
        assert_eq!(refs, ["CL_SEX", "CS"]);
        let flow = s.artefacts.iter().find(|a| a.id == "F1").unwrap();
        let all = s.closure(&[flow], |a| s.children(a));
        let mut got: Vec<&str> = all.iter().map(|a| a.id.as_str()).collect();
        got.sort();
        assert_eq!(got, ["CL_SEX", "CS", "DSD_F1"]);
        // The cut message keeps only what was chosen, still well nested.
        let chosen: BTreeSet<Key> = [flow.key()].into();
        let m = s.message(&chosen);
        assert!(m.contains("<str:Dataflows>") && !m.contains("<str:Codelists>"));
        assert!(m.starts_with("<?xml") && m.trim_end().ends_with("</mes:Structure>"));
    }

    #[test]
    fn periods_compare_at_the_coarser_of_the_two() {
        assert!(test(Op::Ge, "2022-03", "2022", Compare::Period));
        assert!(!test(Op::Gt, "2022-03", "2022", Compare::Period));
        assert!(test(Op::Le, "2022-12", "2022", Compare::Period));
        assert!(!test(Op::Lt, "2022-01", "2022", Compare::Period));
        assert!(test(Op::Lt, "2021-12", "2022-01", Compare::Period));
        assert!(test(Op::Gt, "10", "9", Compare::Number));
        assert!(!test(Op::Gt, "10", "9", Compare::Code));
    }
}
