//! Deduplicating a workspace's cases and checking the result against a
//! truth: the workspace halves of `corridor link dedupe` and `corridor
//! link evaluate`, here so that the demo, the CLI and later the server run
//! one code path.

use std::collections::HashMap;
use std::path::Path;

use corridor_link::schema::LinkageSchema;
use corridor_link::{Evaluation, LinkOptions, Linkage};
use corridor_store::Workspace;

use crate::{CasesError, workspace_pool, workspace_schema};

/// What [`dedupe_workspace`] did.
pub struct Dedupe {
    pub linkage: Linkage,
    /// The schema linked with: the partners' agreed part and the
    /// workspace's compared attributes.
    pub schema: LinkageSchema,
    /// Stored cases without an encoding of the schema's length, left out.
    pub skipped: u64,
}

/// Deduplicates the workspace's encoded cases across organisations and
/// writes the linkage into `out` (`clusters.csv`, `pairs.csv`,
/// `report.json`). `agreed` is the partners' linkage schema the cases were
/// encoded with (filter lengths, blocking), when known.
pub fn dedupe_workspace(
    ws: &Workspace,
    agreed: Option<LinkageSchema>,
    options: &LinkOptions,
    out: &Path,
) -> Result<Dedupe, CasesError> {
    let schema = workspace_schema(agreed);
    let (pool, skipped) = workspace_pool(ws, &schema)?;
    if pool.is_empty() && skipped > 0 {
        return Err(CasesError::NoEncodingFits {
            skipped,
            bits: schema.encoded_bits(),
        });
    }
    let linkage = corridor_link::link_into(out, &pool, &schema, options)?;
    Ok(Dedupe {
        linkage,
        schema,
        skipped,
    })
}

/// Evaluates a linkage of the workspace's cases against a truth file that
/// names records as the organisations did (`id_columns`, and the
/// organisation in `organisation_column`): each truth id is pseudonymised
/// with the workspace's secret exactly as intake keyed the case, so that the
/// raw ids never meet the stored keys anywhere but in memory.
pub fn evaluate_workspace_links(
    ws: &Workspace,
    links: &Path,
    truth: &Path,
    id_columns: &[&str],
    entity: &str,
    organisation_column: &str,
) -> Result<Evaluation, CasesError> {
    let mut columns = id_columns.to_vec();
    columns.push(organisation_column);
    let rows = corridor_link::evaluate::read_truth(truth, &columns, entity)?;
    let mut map: HashMap<String, String> = HashMap::with_capacity(rows.len());
    for (mut ids, entity) in rows {
        let organisation = ids.pop().unwrap_or_default();
        let parts: Vec<&str> = ids.iter().map(String::as_str).collect();
        let key = ws
            .pseudonym("case_key", &parts, &[organisation.as_str()])
            .map_err(|source| CasesError::Read {
                what: "the workspace's secret, to key the truth's ids",
                source,
            })?;
        map.insert(key, entity);
    }
    Ok(corridor_link::evaluate::evaluate_outputs(links, &map)?)
}
