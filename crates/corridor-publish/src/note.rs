//! The methods note, in English and Spanish: every method and parameter in
//! plain words, for a reader who is not a statistician.

use corridor_protect::Method;

use crate::build::{Entry, TableUtility};
use crate::microdata::MicroEntry;
use crate::spec::ReleaseSpec;
use crate::synthetic::SynthEntry;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Lang {
    En,
    Es,
}

impl Lang {
    pub const ALL: [Lang; 2] = [Lang::En, Lang::Es];

    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Es => "es",
        }
    }

    pub(crate) fn pick(self, en: &'static str, es: &'static str) -> &'static str {
        match self {
            Lang::En => en,
            Lang::Es => es,
        }
    }
}

fn method_name(m: &Method, l: Lang) -> String {
    match m {
        Method::RandomRounding { base } => format!(
            "{} {base}",
            l.pick("random rounding to base", "redondeo aleatorio a base")
        ),
        Method::CellKey { ptable } => format!(
            "{} (D = {}, V = {}, js = {}{})",
            l.pick("cell-key perturbation", "perturbación por clave de celda"),
            ptable.d,
            ptable.v,
            ptable.js,
            ptable
                .pstay
                .map(|p| format!(", pstay = {p}"))
                .unwrap_or_default()
        ),
        Method::Suppression {
            threshold,
            protection,
            cost,
        } => format!(
            "{} (threshold = {threshold}, protection = {protection}, cost = {})",
            l.pick(
                "threshold rule with secondary suppression",
                "regla de umbral con supresión secundaria"
            ),
            match cost {
                corridor_protect::Cost::Cells => l.pick("cells", "celdas"),
                corridor_protect::Cost::Values => l.pick("values", "valores"),
            }
        ),
        Method::DifferentialPrivacy { rho, .. } => format!(
            "{} (ρ = {rho}, ε = {:.2} {} δ = 10⁻⁶)",
            l.pick(
                "differential privacy (zero-concentrated)",
                "privacidad diferencial (concentrada en cero)"
            ),
            corridor_synth::dp::epsilon_of(*rho, crate::build::REPORTED_DELTA),
            l.pick("at", "con"),
        ),
        Method::KAnonymity { k, .. } => {
            format!("{} (k = {k})", l.pick("k-anonymity", "k-anonimato"))
        }
        Method::KSynthetic { k, .. } => format!(
            "{} (k = {k})",
            l.pick("k-synthetic data", "datos k-sintéticos")
        ),
        Method::DpSynthesis { epsilon, .. } => format!(
            "{} (ε = {epsilon:.2})",
            l.pick(
                "differentially private synthetic data",
                "datos sintéticos con privacidad diferencial"
            )
        ),
    }
}

fn explain(m: &Method, l: Lang) -> String {
    match (m, l) {
        (Method::RandomRounding { base }, Lang::En) => format!(
            "Every count was moved to a multiple of {base}. A count that already is one (0 included) stays. \
             Any other goes to one of the two nearest multiples, the nearer one more often, chosen by chance: \
             17 becomes 18 two times in three and 15 one time in three. On average the rounding neither adds nor \
             removes anything. Totals were rounded on their own, so the rows of a table need not add up exactly to \
             its total. A published 3 may stand for 1, 2, 3, 4 or 5 people: no small count can be read off."
        ),
        (Method::RandomRounding { base }, Lang::Es) => format!(
            "Cada conteo se llevó a un múltiplo de {base}. Un conteo que ya lo es (también el 0) no cambia. \
             Cualquier otro pasa a uno de los dos múltiplos más cercanos, más a menudo al más cercano, elegido al azar: \
             17 se convierte en 18 dos veces de cada tres y en 15 una de cada tres. En promedio el redondeo no suma \
             ni resta nada. Los totales se redondearon por separado, así que las filas de un cuadro pueden no sumar \
             exactamente su total. Un 3 publicado puede representar a 1, 2, 3, 4 o 5 personas: ningún conteo pequeño \
             puede leerse."
        ),
        (Method::CellKey { ptable }, Lang::En) => format!(
            "Every record in the data has a permanent random key that only the publisher can compute. The key of a \
             cell combines the keys of the people counted in it, and a published table of small changes \
             (the perturbation table, built from the parameters D = {d}, V = {v}, js = {js}) turns the cell's true \
             count and its key into the published count. The change is never more than {d} either way, is zero on \
             average, and has a variance of about {v}; no cell is ever published as a count from 1 to {js}, and an \
             empty cell stays 0. Because the same people always give the same key, the same group of people shows \
             the same number in every table and every release: comparing two tables, or subtracting one from \
             another, does not reveal who is in a small group. Rows need not add up exactly to their totals.",
            d = ptable.d,
            v = ptable.v,
            js = ptable.js
        ),
        (Method::CellKey { ptable }, Lang::Es) => format!(
            "Cada registro tiene una clave aleatoria permanente que solo quien publica puede calcular. La clave de una \
             celda combina las claves de las personas contadas en ella, y una tabla publicada de pequeños cambios \
             (la tabla de perturbación, construida con los parámetros D = {d}, V = {v}, js = {js}) convierte el conteo \
             verdadero de la celda y su clave en el conteo publicado. El cambio nunca supera {d} en ningún sentido, es \
             cero en promedio y tiene una varianza de alrededor de {v}; ninguna celda se publica con un conteo de 1 a \
             {js}, y una celda vacía sigue en 0. Como las mismas personas dan siempre la misma clave, el mismo grupo de \
             personas muestra el mismo número en todos los cuadros y todas las publicaciones: comparar dos cuadros, o \
             restar uno de otro, no revela quién está en un grupo pequeño. Las filas pueden no sumar exactamente sus \
             totales.",
            d = ptable.d,
            v = ptable.v,
            js = ptable.js
        ),
        (
            Method::Suppression {
                threshold,
                protection,
                ..
            },
            Lang::En,
        ) => format!(
            "Every count from 1 to {below} was withheld: its value is empty and `conf_status` is C. Because rows \
             and columns add up to published totals, a withheld cell could be worked out from the others, so further \
             cells were withheld too (secondary suppression), chosen to lose as few people's counts as possible. \
             They were chosen so that even someone who solves every equation the published tables allow (all the \
             tables of this release that share totals, taken together, knowing that no count is below 0) cannot pin \
             a small count down: for each one, the possible values still run from {protection} below the true \
             count (or from 0, if that comes first) to {protection} above it. Empty cells (0) are published as they are. Every published \
             value is exact.",
            below = threshold - 1
        ),
        (
            Method::Suppression {
                threshold,
                protection,
                ..
            },
            Lang::Es,
        ) => format!(
            "Se reservó todo conteo de 1 a {below}: su valor está vacío y `conf_status` es C. Como filas y columnas \
             suman totales publicados, una celda reservada podría deducirse de las demás, así que se reservaron más \
             celdas (supresión secundaria), elegidas para perder los conteos de la menor cantidad de personas \
             posible. Se eligieron de modo que incluso quien resuelva todas las ecuaciones que permiten los cuadros \
             publicados (todos los cuadros de esta publicación que comparten totales, juntos, sabiendo que ningún \
             conteo es menor que 0) no pueda fijar un conteo pequeño: para cada uno, los valores posibles van aún desde \
             {protection} menos que el conteo verdadero (o desde 0, si se llega antes) hasta {protection} más. Las celdas vacías (0) se publican \
             tal cual. Todo valor publicado es exacto.",
            below = threshold - 1
        ),
        (Method::DifferentialPrivacy { rho, scale, .. }, Lang::En) => format!(
            "Random noise was added to every count of the table and to every total, drawn from a discrete Gaussian              distribution with a spread of {scale:.1} for the finest cells (more for the totals, which the finest cells already inform) by OpenDP, a vetted open-source library. The amount of noise              is set by the privacy-loss budget ρ = {rho} and does not depend on the data: whatever anyone knows              beforehand, the published table tells them almost nothing more about whether one particular record is              in the data (this is the guarantee called differential privacy, here in its zero-concentrated form; a              record is one crossing, permit, return or victim). The noisy counts and totals were then combined by least              squares, fitted to the totals without going below zero, and rounded (up or down at random, in proportion to the fraction), from the grand total down, into whole numbers of 0 or more that add up exactly:              every row sums to its total. The categories of each column (the countries, years, sexes, age groups)              were fixed beforehand from the code lists or by the publisher, never taken from the data, so a              category with no one in it is still published, with noise; records outside those categories are              left out. Each value has its own 95 % error bound in the column `error_bound_95`: the true count lies              within that many of the published one with 95 % probability (found from the noise's known size and by              re-running the method on the published table, which reveals nothing more). The spending is recorded              in the workspace's privacy-loss ledger, which refuses to spend more than the budget set for the data."
        ),
        (Method::DifferentialPrivacy { rho, scale, .. }, Lang::Es) => format!(
            "Se añadió ruido aleatorio a cada conteo del cuadro y a cada total, tomado de una distribución gaussiana              discreta con una dispersión de {scale:.1} en las celdas más finas (mayor en los totales, que las celdas finas ya informan) mediante OpenDP, una biblioteca abierta y revisada. La              cantidad de ruido la fija el presupuesto de pérdida de privacidad ρ = {rho} y no depende de los datos:              sepa lo que sepa alguien de antemano, el cuadro publicado no le dice casi nada más sobre si un registro              concreto está en los datos (es la garantía llamada privacidad diferencial, aquí en su forma concentrada              en cero; un registro es un cruce, un permiso, un retorno o una víctima). Los conteos y totales con ruido se              combinaron luego por mínimos cuadrados, se ajustaron a los totales sin bajar de cero y se redondearon (hacia arriba o abajo al azar, en proporción a la fracción), desde el total general hacia abajo, a números              enteros de 0 o más que suman exactamente: cada fila suma su total. Las categorías de cada columna (los              países, años, sexos, grupos de edad) se fijaron de antemano a partir de las listas de códigos o por              quien publica, nunca a partir de los datos, así que una categoría sin nadie se publica igualmente, con              ruido; los registros fuera de esas categorías quedan fuera. Cada valor tiene su propio límite de error              del 95 % en la columna `error_bound_95`: el conteo verdadero está a esa distancia o menos del publicado              con un 95 % de probabilidad (calculado a partir del tamaño conocido del ruido y volviendo a aplicar el              método al cuadro publicado, lo que no revela nada más). El gasto queda anotado en el registro de              pérdida de privacidad del espacio de trabajo, que se niega a gastar más que el presupuesto fijado."
        ),
        (
            Method::KAnonymity {
                k,
                quasi_identifiers,
                ..
            },
            Lang::En,
        ) => format!(
            "Each record describes one case. The columns that could point to a person ({}) were coarsened (an \
             age becomes an age group, a country its region) and, where that was not enough, blanked (`*`), until \
             every combination of them is shared by at least {k} records. No record was left out.",
            quasi_identifiers.join(", ")
        ),
        (
            Method::KAnonymity {
                k,
                quasi_identifiers,
                ..
            },
            Lang::Es,
        ) => format!(
            "Cada registro describe un caso. Las columnas que podrían señalar a una persona ({}) se hicieron más \
             generales (una edad pasa a un grupo de edad, un país a su región) y, donde no bastó, se dejaron en \
             blanco (`*`), hasta que cada combinación de ellas la comparten al menos {k} registros. No se dejó \
             fuera ningún registro.",
            quasi_identifiers.join(", ")
        ),
        (m @ (Method::KSynthetic { .. } | Method::DpSynthesis { .. }), l) => {
            crate::synthetic::explain(m, l)
        }
    }
}

/// The note in Markdown.
pub(crate) fn methods_note(
    spec: &ReleaseSpec,
    entries: &[Entry],
    micro: &[MicroEntry],
    synth: &[SynthEntry],
    nowcasts: &[crate::nowcast::NowcastEntry],
    utility: &[TableUtility],
    l: Lang,
) -> String {
    let mut s = String::new();
    let p = |en, es| l.pick(en, es);
    s.push_str(&format!("# {}\n\n", spec.title));
    if !spec.description.is_empty() {
        s.push_str(&format!("{}\n\n", spec.description));
    }
    s.push_str(&format!(
        "- {}: {}\n- {}: {}\n- {}: {}\n\n",
        p("Version", "Versión"),
        spec.version,
        p("Reference period", "Periodo de referencia"),
        spec.reference_period,
        p("Licence", "Licencia"),
        spec.licence
    ));
    s.push_str(&format!(
        "## {}\n\n",
        p(
            "Why the numbers were changed",
            "Por qué se cambiaron los números"
        )
    ));
    s.push_str(p(
        "These tables are counted from administrative records about individual people: border crossings, \
         residence permits, returns, the cases of victims of trafficking. A small count in a table (say, the two women of one nationality who \
         entered in one month) could tell someone who those people are. Before publication every table was \
         protected by one of the methods below. The changes are small and do not change the picture the tables \
         give; they make it impossible to learn anything about one person.\n\n",
        "Estos cuadros se cuentan a partir de registros administrativos sobre personas: cruces de frontera, \
         permisos de residencia, retornos, los casos de víctimas de trata. Un conteo pequeño en un cuadro (por ejemplo, las dos mujeres de una \
         nacionalidad que entraron en un mes) podría decirle a alguien quiénes son esas personas. Antes de publicarse, \
         cada cuadro se protegió con uno de los métodos que siguen. Los cambios son pequeños y no cambian la imagen \
         que dan los cuadros; impiden saber algo de una persona concreta.\n\n",
    ));
    let mut methods: Vec<&Method> = Vec::new();
    for e in entries {
        if !methods.contains(&e.protected.method()) {
            methods.push(e.protected.method());
        }
    }
    s.push_str(&format!("## {}\n\n", p("The methods", "Los métodos")));
    for m in methods {
        s.push_str(&format!(
            "### {}\n\n{}\n\n",
            method_name(m, l),
            explain(m, l)
        ));
    }
    s.push_str(&format!("## {}\n\n", p("The tables", "Los cuadros")));
    s.push_str(&format!(
        "| {} | {} | {} | {} | {} |\n|---|---|---|---|---|\n",
        p("Table", "Cuadro"),
        p("Title", "Título"),
        p("Method", "Método"),
        p("Cells", "Celdas"),
        p("Cells changed", "Celdas cambiadas"),
    ));
    for (e, u) in entries.iter().zip(utility) {
        s.push_str(&format!(
            "| `{}` | {} | {} | {} | {:.0} % |\n",
            e.name,
            e.title,
            method_name(e.protected.method(), l),
            u.cells,
            100.0 * u.share_changed
        ));
    }
    s.push('\n');
    s.push_str(&format!(
        "## {}\n\n",
        p(
            "How much the protection changed",
            "Cuánto cambió la protección"
        )
    ));
    for u in utility {
        s.push_str(&match l {
            Lang::En => format!(
                "- `{}`: on average a published cell moved by {:.2}; the grand total moved by {:.2} %; \
                 {} cells ({:.1} % of cells, {:.2} % of the persons counted) were withheld.\n",
                u.name,
                u.mean_absolute_error,
                100.0 * u.total_relative_error,
                u.cells_suppressed,
                100.0 * u.share_suppressed,
                100.0 * u.share_value_suppressed
            ),
            Lang::Es => format!(
                "- `{}`: en promedio una celda publicada se movió {:.2}; el total general se movió un {:.2} %; \
                 se reservaron {} celdas ({:.1} % de las celdas, {:.2} % de las personas contadas).\n",
                u.name,
                u.mean_absolute_error,
                100.0 * u.total_relative_error,
                u.cells_suppressed,
                100.0 * u.share_suppressed,
                100.0 * u.share_value_suppressed
            ),
        });
    }
    s.push('\n');
    s.push_str(&crate::microdata::note(micro, l));
    s.push_str(&crate::synthetic::note(synth, l));
    s.push_str(&crate::nowcast::note(nowcasts, l));
    s.push_str(&format!(
        "## {}\n\n",
        p("Reading the tables", "Cómo leer los cuadros")
    ));
    s.push_str(p(
        "- `_T` in a column means the total over that column (all months, all countries…); `_U` means unknown.\n\
         - `obs_status` P marks a provisional figure: it includes crossings whose 12/16-month window is still open, \
           for which the outcome (migrant or visitor) is estimated by a model and will be revised. A provisional \
           estimate is rounded to whole persons before it is protected.\n\
         - `conf_status` F means the figure may be used freely; C means it is withheld (the value is empty).\n\
         - The categories of each column (countries, sex, age groups…) come from Corridor's code lists, fixed \
           before any record is read, never from the data themselves.\n\
         - The files: `data/` holds each table as CSV and Parquet; `sdmx/` the same tables as SDMX-CSV 2.0 with \
           their SDMX-ML 3.0 structure; `datapackage.json` describes the CSV files (Frictionless Data); \
           `SHA256SUMS` and its signature `SHA256SUMS.sig` (ed25519, public key in `signing-key.pub`) let anyone \
           check that no file was changed: `corridor release verify FOLDER`.\n",
        "- `_T` en una columna significa el total sobre esa columna (todos los meses, todos los países…); `_U`, desconocido.\n\
         - `obs_status` P marca una cifra provisional: incluye cruces cuya ventana de 12/16 meses sigue abierta, cuyo \
           resultado (migrante o visitante) estima un modelo y se revisará. Una estimación provisional se redondea a \
           personas enteras antes de protegerse.\n\
         - `conf_status` F significa que la cifra puede usarse libremente; C, que se reserva (el valor está vacío).\n\
         - Las categorías de cada columna (países, sexo, grupos de edad…) vienen de las listas de códigos de \
           Corridor, fijadas antes de leer ningún registro, nunca de los datos mismos.\n\
         - Los archivos: `data/` tiene cada cuadro en CSV y Parquet; `sdmx/`, los mismos cuadros en SDMX-CSV 2.0 con \
           su estructura SDMX-ML 3.0; `datapackage.json` describe los CSV (Frictionless Data); `SHA256SUMS` y su \
           firma `SHA256SUMS.sig` (ed25519, clave pública en `signing-key.pub`) permiten comprobar que ningún archivo \
           cambió: `corridor release verify CARPETA`.\n",
    ));
    for e in entries {
        for n in &e.table().notes {
            s.push_str(&format!("\n`{}`: {n}\n", e.name));
        }
    }
    s
}

/// A stand-alone HTML page of the note.
pub(crate) fn to_html(markdown: &str, l: Lang, title: &str) -> String {
    let mut body = String::new();
    // Raw HTML in a title or description is shown as text, never run.
    let parser = pulldown_cmark::Parser::new_ext(markdown, pulldown_cmark::Options::ENABLE_TABLES)
        .map(|ev| match ev {
            pulldown_cmark::Event::Html(h) | pulldown_cmark::Event::InlineHtml(h) => {
                pulldown_cmark::Event::Text(h)
            }
            other => other,
        });
    pulldown_cmark::html::push_html(&mut body, parser);
    format!(
        "<!DOCTYPE html>\n<html lang=\"{}\">\n<head>\n<meta charset=\"utf-8\">\n<title>{}</title>\n\
         <style>body{{font-family:sans-serif;max-width:48em;margin:2em auto;line-height:1.5;padding:0 1em}}\
         table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:.2em .5em}}</style>\n</head>\n<body>\n{body}</body>\n</html>\n",
        l.code(),
        escape(title)
    )
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
