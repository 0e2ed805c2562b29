//! Every label of the portal in English and Spanish. A page asks for a
//! label by its key; a key missing from the table is a bug a test finds
//! (the portal test looks for `⟦missing label⟧`), never an English word in
//! a Spanish page.

use axum::http::{HeaderMap, header};

/// The portal's languages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Lang {
    En,
    Es,
}

impl Lang {
    pub(crate) fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Es => "es",
        }
    }

    pub(crate) fn spanish(self) -> bool {
        self == Lang::Es
    }

    /// `?lang=` first, then the first of `Accept-Language` the portal
    /// speaks, then English.
    pub(crate) fn choose(param: Option<&str>, headers: &HeaderMap) -> Lang {
        match param {
            Some("es") => return Lang::Es,
            Some("en") => return Lang::En,
            _ => {}
        }
        let accept = headers
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        let mut best: Option<(f32, Lang)> = None;
        for part in accept.split(',') {
            let mut bits = part.trim().split(';');
            let tag = bits.next().unwrap_or_default().trim().to_lowercase();
            let q = bits
                .find_map(|b| b.trim().strip_prefix("q=").and_then(|q| q.parse().ok()))
                .unwrap_or(1.0);
            let lang = match tag.split('-').next() {
                Some("es") => Lang::Es,
                Some("en") => Lang::En,
                _ => continue,
            };
            if best.is_none_or(|(b, _)| q > b) {
                best = Some((q, lang));
            }
        }
        best.map_or(Lang::En, |(_, l)| l)
    }

    /// The label `key` in this language.
    pub(crate) fn t(self, key: &str) -> &'static str {
        TEXT.iter()
            .find(|(k, _, _)| *k == key)
            .map_or(
                "⟦missing label⟧",
                |(_, en, es)| if self.spanish() { es } else { en },
            )
    }
}

/// key, English, Spanish.
const TEXT: &[(&str, &str, &str)] = &[
    (
        "site",
        "Corridor: migration and trafficking statistics",
        "Corridor: estadísticas de migración y trata",
    ),
    ("skip", "Skip to content", "Saltar al contenido"),
    ("nav", "Main", "Principal"),
    ("home", "Home", "Inicio"),
    ("explore", "Explore", "Explorar"),
    ("map", "Map", "Mapa"),
    ("mirror", "Mirror statistics", "Estadísticas espejo"),
    ("synthetic", "Synthetic data", "Datos sintéticos"),
    ("methods", "Methods", "Métodos"),
    ("releases", "Releases", "Publicaciones"),
    ("language", "Language", "Idioma"),
    (
        "footer",
        "Every figure here has passed disclosure control. The API is described at",
        "Cada cifra de este sitio ha pasado el control de divulgación. La API se describe en",
    ),
    (
        "no_release",
        "No release has been published yet.",
        "Aún no se ha publicado ninguna edición.",
    ),
    ("headline", "Headline indicators", "Indicadores principales"),
    ("latest", "Latest", "Último dato"),
    (
        "change",
        "change on the period before",
        "variación respecto al periodo anterior",
    ),
    ("ind_arrivals", "Arrivals", "Llegadas"),
    ("ind_departures", "Departures", "Salidas"),
    (
        "ind_net",
        "Net migration (long-term immigrants minus emigrants)",
        "Migración neta (inmigrantes de largo plazo menos emigrantes)",
    ),
    (
        "ind_migrant_arrivals",
        "Long-term immigrants",
        "Inmigrantes de largo plazo",
    ),
    (
        "ind_migrant_departures",
        "Long-term emigrants",
        "Emigrantes de largo plazo",
    ),
    (
        "ind_stock",
        "Non-residents present (stock)",
        "No residentes presentes (población)",
    ),
    ("ind_returns", "Returns", "Retornos"),
    (
        "ind_victims",
        "Identified victims of trafficking (SDG 16.2.2)",
        "Víctimas de trata identificadas (ODS 16.2.2)",
    ),
    ("open_explorer", "Explore this table", "Explorar esta tabla"),
    ("tables", "Tables", "Tablas"),
    ("table", "Table", "Tabla"),
    ("release", "Release", "Edición"),
    ("protection", "Protection", "Protección"),
    ("filters", "Choose what to show", "Elija qué mostrar"),
    (
        "x_axis",
        "Across (the chart's axis)",
        "A lo largo de (eje del gráfico)",
    ),
    ("series", "One line or bar per", "Una línea o barra por"),
    ("none", "(none)", "(ninguno)"),
    ("all", "all", "todos"),
    ("show", "Show", "Mostrar"),
    ("chart", "Chart", "Gráfico"),
    (
        "chart_needs_one",
        "To draw a chart, choose one code of each dimension other than the axis and the lines.",
        "Para dibujar un gráfico, elija un solo código de cada dimensión distinta del eje y de las líneas.",
    ),
    ("value", "Value", "Valor"),
    ("status", "Status", "Estado"),
    ("provisional", "provisional", "provisional"),
    ("withheld", "withheld", "reservado"),
    ("error_bound", "95 % error bound", "Cota de error al 95 %"),
    (
        "rows_shown",
        "observations; the first shown:",
        "observaciones; se muestran las primeras:",
    ),
    ("downloads", "Download", "Descargar"),
    ("this_view", "this view", "esta vista"),
    ("whole_table", "whole table", "tabla completa"),
    ("map_of", "Map", "Mapa"),
    ("map_dim", "Countries by", "Países por"),
    ("period", "Period", "Periodo"),
    ("total_period", "whole period", "todo el periodo"),
    (
        "no_map",
        "No table of this release has a country dimension.",
        "Ninguna tabla de esta edición tiene una dimensión de país.",
    ),
    ("no_data", "no data", "sin datos"),
    ("legend", "Legend", "Leyenda"),
    ("country", "Country", "País"),
    (
        "mirror_intro",
        "Departures from A to B as A reports them, beside arrivals in B from A as B reports them. Both count the same journeys; where they differ, one side misses crossings.",
        "Salidas de A hacia B según A, junto a llegadas a B desde A según B. Ambas cuentan los mismos viajes; donde difieren, un lado no registra cruces.",
    ),
    (
        "no_mirror",
        "This release has no pair of tables of departures and arrivals by reporting and counterpart country.",
        "Esta edición no tiene un par de tablas de salidas y llegadas por país informante y país de contraparte.",
    ),
    ("from", "From (A)", "Desde (A)"),
    ("to", "To (B)", "Hacia (B)"),
    ("a_says", "Departures A reports", "Salidas según A"),
    ("b_says", "Arrivals B reports", "Llegadas según B"),
    ("asymmetry", "Asymmetry (A−B)/mean", "Asimetría (A−B)/media"),
    (
        "synthetic_intro",
        "Synthetic records keep the statistics of the case records, not the persons. Filter by attributes: the count of the published aggregates (exact, protected) is shown beside the count in the synthetic data.",
        "Los registros sintéticos conservan las estadísticas de los casos, no las personas. Filtre por atributos: el recuento de los agregados publicados (exacto, protegido) aparece junto al recuento en los datos sintéticos.",
    ),
    (
        "no_synthetic",
        "This release has no synthetic data.",
        "Esta edición no tiene datos sintéticos.",
    ),
    ("any", "any", "cualquiera"),
    ("combination", "Selected combination", "Combinación elegida"),
    (
        "aggregate_count",
        "Published aggregate count",
        "Recuento agregado publicado",
    ),
    (
        "synthetic_count",
        "Count in the synthetic data",
        "Recuento en los datos sintéticos",
    ),
    (
        "not_published",
        "not published (fewer than k, or longer than the published length)",
        "no publicado (menos de k, o más largo que la longitud publicada)",
    ),
    ("utility", "Utility report", "Informe de utilidad"),
    (
        "mean_tvd",
        "Mean total variation distance by combination length (0 is perfect)",
        "Distancia de variación total media por longitud de combinación (0 es perfecto)",
    ),
    ("records", "records", "registros"),
    (
        "checksums",
        "Checksums (SHA256SUMS)",
        "Sumas de verificación (SHA256SUMS)",
    ),
    ("signature", "Signature", "Firma"),
    (
        "verified",
        "Checksums and Ed25519 signature verified when the server loaded this release.",
        "Sumas y firma Ed25519 verificadas cuando el servidor cargó esta edición.",
    ),
    ("public_key", "public key", "clave pública"),
    ("built", "Built", "Generada"),
    ("file", "File", "Archivo"),
    ("methods_note", "Methods note", "Nota metodológica"),
    ("not_found", "Not found", "No encontrado"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_language_picks_the_best_language_spoken() {
        let h = |v: &str| {
            let mut m = HeaderMap::new();
            m.insert(header::ACCEPT_LANGUAGE, v.parse().unwrap());
            m
        };
        assert_eq!(Lang::choose(None, &h("es-GT,es;q=0.9,en;q=0.8")), Lang::Es);
        assert_eq!(
            Lang::choose(None, &h("fr-FR, en;q=0.5, es;q=0.7")),
            Lang::Es
        );
        assert_eq!(Lang::choose(None, &h("de")), Lang::En);
        assert_eq!(Lang::choose(Some("en"), &h("es")), Lang::En);
        assert_eq!(Lang::choose(None, &HeaderMap::new()), Lang::En);
    }

    #[test]
    fn every_key_is_translated_once() {
        let mut seen = std::collections::BTreeSet::new();
        for (k, en, es) in TEXT {
            assert!(seen.insert(*k), "{k} twice");
            assert!(!en.is_empty() && !es.is_empty(), "{k}");
        }
    }
}
