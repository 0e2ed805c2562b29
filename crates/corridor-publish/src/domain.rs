//! The category domain of a DP table's dimensions: from the release's
//! reference period, the code lists, or the publisher, never from the data.

use std::collections::BTreeMap;

use corridor_model::CodeListId;
use corridor_model::age::AgeGrouping;
use corridor_model::calendar::{PeriodUnit, periods_of};

/// The unknown category, which every coded dimension may hold.
const UNKNOWN: &str = "_U";

/// One domain per dimension of `dims`: the publisher's (`given`) where
/// stated, else the periods of `reference_period` for `month` and `year`,
/// the broad age groups for `age_group`, the M49 sub-regions for
/// `citizenship_region`, and the dimension's code list otherwise; each
/// coded one with `_U`.
pub(crate) fn domains(
    dims: &[String],
    reference_period: &str,
    given: &BTreeMap<String, Vec<String>>,
) -> Result<Vec<Vec<String>>, String> {
    for dim in given.keys() {
        if !dims.contains(dim) {
            return Err(format!(
                "domain.{dim}: the table has no dimension `{dim}` (it has {})",
                dims.join(", ")
            ));
        }
    }
    dims.iter()
        .map(|dim| {
            if let Some(codes) = given.get(dim) {
                return Ok(codes.clone());
            }
            let coded = |codes: Vec<String>| {
                let mut codes: Vec<String> =
                    codes.into_iter().filter(|c| c != corridor_stats::TOTAL).collect();
                if !codes.iter().any(|c| c == UNKNOWN) {
                    codes.push(UNKNOWN.into());
                }
                codes
            };
            Ok(match dim.as_str() {
                "month" => periods_of(reference_period, PeriodUnit::Month)?,
                "year" => periods_of(reference_period, PeriodUnit::Year)?,
                "age_group" => coded(AgeGrouping::Broad.codes().into_iter().map(String::from).collect()),
                "citizenship_region" => coded(
                    CodeListId::M49Region
                        .list()
                        .codes
                        .iter()
                        .filter(|c| c.extra.get("level").map(String::as_str) == Some("subregion"))
                        .map(|c| c.code.clone())
                        .collect(),
                ),
                other => match CodeListId::of_dimension(other) {
                    Some(id) => coded(id.list().codes.iter().map(|c| c.code.clone()).collect()),
                    None => {
                        return Err(format!(
                            "`{other}` has no code list: give its categories as domain.{other} = [\"…\", …] \
                             (a DP table's categories come from the code lists or from you, never from the data)"
                        ));
                    }
                },
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domains_come_from_the_period_the_code_lists_or_the_publisher() {
        let dims: Vec<String> = ["year", "reporting_country", "citizenship_region", "sex"]
            .map(String::from)
            .to_vec();
        let mut given = BTreeMap::new();
        given.insert(
            "reporting_country".to_string(),
            vec!["ATL".to_string(), "BOR".to_string()],
        );
        let d = domains(&dims, "2022-01/2023-12", &given).unwrap();
        assert_eq!(d[0], ["2022", "2023"]);
        assert_eq!(d[1], ["ATL", "BOR"]);
        assert_eq!(d[2].len(), 18, "{:?}", d[2]);
        assert!(d[2].contains(&"419".to_string()) && d[2].contains(&"_U".to_string()));
        assert!(d[3].contains(&"F".to_string()) && !d[3].contains(&"_T".to_string()));
        given.insert("month".into(), vec![]);
        assert!(
            domains(&dims, "2022", &given)
                .unwrap_err()
                .contains("domain.month")
        );
        let e = domains(&["shoe_size".to_string()], "2022", &BTreeMap::new()).unwrap_err();
        assert!(e.contains("domain.shoe_size"), "{e}");
    }
}
