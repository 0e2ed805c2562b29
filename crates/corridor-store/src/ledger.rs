//! The privacy-loss ledger: one per workspace, in the catalog. A dataset
//! has a budget (ρ, zero-concentrated DP) that its publisher sets; every
//! differentially private output charges the ledger before its noise is
//! drawn, and a charge that would pass the budget is refused. The check
//! and the charge are one `BEGIN IMMEDIATE` transaction, so processes
//! charging at once are serialised by SQLite and can never overspend.

use rusqlite::{OptionalExtension, TransactionBehavior, params};
use serde::Serialize;

use crate::StoreError;
use crate::catalog::Catalog;

const LEDGER: &str = "
CREATE TABLE IF NOT EXISTS privacy_loss (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    dataset TEXT NOT NULL,
    output TEXT NOT NULL,
    mechanism TEXT NOT NULL,
    rho REAL NOT NULL,
    epsilon REAL NOT NULL,
    delta REAL NOT NULL,
    detail_json TEXT NOT NULL,
    spent_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS privacy_budget (
    dataset TEXT PRIMARY KEY,
    rho REAL NOT NULL CHECK (rho > 0),
    set_at TEXT NOT NULL
);
";

/// Floating-point slack when a dataset's charges add up to exactly its
/// budget (ten charges of 0.1 to a budget of 1): relative, and far below
/// any ρ a mechanism is called with.
const SLACK: f64 = 1e-12;

/// One privacy-loss charge, as a mechanism is about to spend it.
#[derive(Debug, Clone)]
pub struct Charge<'a> {
    pub dataset: &'a str,
    /// What the loss is spent on: the output's path or name.
    pub output: &'a str,
    pub mechanism: &'a str,
    /// zCDP ρ, what the budget is kept in.
    pub rho: f64,
    /// The (ε, δ) the ρ converts to, as the output states it.
    pub epsilon: f64,
    pub delta: f64,
    pub detail_json: &'a str,
}

/// A dataset's budget and what has been spent on it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Budget {
    pub dataset: String,
    /// None: no budget is set, and nothing may be charged.
    pub rho: Option<f64>,
    pub spent: f64,
    pub charges: u64,
}

impl Budget {
    /// What may still be spent.
    pub fn left(&self) -> f64 {
        self.rho.map_or(0.0, |b| (b - self.spent).max(0.0))
    }
}

/// One line of the ledger.
#[derive(Debug, Clone, Serialize)]
pub struct LedgerEntry {
    pub seq: i64,
    pub dataset: String,
    pub output: String,
    pub mechanism: String,
    pub rho: f64,
    pub epsilon: f64,
    pub delta: f64,
    pub spent_at: String,
}

impl Catalog {
    fn ensure_ledger(&self) -> Result<(), StoreError> {
        self.conn.execute_batch(LEDGER).map_err(|e| self.err(e))
    }

    /// Runs `work` in one `BEGIN IMMEDIATE` transaction, committed only if
    /// it succeeds: SQLite lets one writer in at a time, so what `work`
    /// reads cannot change before it writes. `work` gets the transaction
    /// and the catalog's SQL error.
    fn immediate<T>(
        &mut self,
        work: impl FnOnce(
            &rusqlite::Transaction,
            &dyn Fn(rusqlite::Error) -> StoreError,
        ) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.ensure_ledger()?;
        let path = self.path().to_path_buf();
        let sql_err = |source| StoreError::Catalog {
            path: path.clone(),
            source,
        };
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql_err)?;
        let out = work(&tx, &sql_err)?;
        tx.commit().map_err(sql_err)?;
        Ok(out)
    }

    /// Charges `c` if the dataset's budget allows it; the ledger line and
    /// the check are one transaction. Returns the budget after the charge.
    pub(crate) fn charge(&mut self, c: &Charge) -> Result<(Budget, i64), StoreError> {
        if !(c.rho.is_finite() && c.rho > 0.0) {
            return Err(StoreError::Budget(format!(
                "{}: a privacy-loss charge must be a positive, finite ρ (got {})",
                c.dataset, c.rho
            )));
        }
        self.immediate(|tx, sql_err| {
            let before = budget_in(tx, c.dataset).map_err(sql_err)?;
            let Some(limit) = before.rho else {
                return Err(StoreError::NoBudget {
                    dataset: c.dataset.to_string(),
                });
            };
            if before.spent + c.rho > limit * (1.0 + SLACK) {
                return Err(StoreError::OverBudget {
                    dataset: c.dataset.to_string(),
                    rho: c.rho,
                    spent: before.spent,
                    budget: limit,
                });
            }
            tx.execute(
                "INSERT INTO privacy_loss (dataset, output, mechanism, rho, epsilon, delta, detail_json, spent_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))",
                params![c.dataset, c.output, c.mechanism, c.rho, c.epsilon, c.delta, c.detail_json],
            )
            .map_err(sql_err)?;
            let seq = tx.last_insert_rowid();
            Ok((budget_in(tx, c.dataset).map_err(sql_err)?, seq))
        })
    }

    /// Adds what the mechanism reported once it ran to its ledger line.
    pub(crate) fn charge_detail(&self, seq: i64, detail_json: &str) -> Result<(), StoreError> {
        self.ensure_ledger()?;
        self.conn
            .execute(
                "UPDATE privacy_loss SET detail_json = ?2 WHERE seq = ?1",
                params![seq, detail_json],
            )
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    pub(crate) fn set_budget(&mut self, dataset: &str, rho: f64) -> Result<Budget, StoreError> {
        if !(rho.is_finite() && rho > 0.0) {
            return Err(StoreError::Budget(format!(
                "{dataset}: a budget must be a positive, finite ρ (got {rho})"
            )));
        }
        self.immediate(|tx, sql_err| {
            tx.execute(
                "INSERT INTO privacy_budget (dataset, rho, set_at) VALUES (?1, ?2, strftime('%Y-%m-%dT%H:%M:%SZ', 'now')) \
                 ON CONFLICT (dataset) DO UPDATE SET rho = excluded.rho, set_at = excluded.set_at",
                params![dataset, rho],
            )
            .map_err(sql_err)?;
            budget_in(tx, dataset).map_err(sql_err)
        })
    }

    /// One dataset's budget and spending (no budget and nothing spent when
    /// it has neither).
    pub(crate) fn budget(&self, dataset: &str) -> Result<Budget, StoreError> {
        self.ensure_ledger()?;
        budget_in(&self.conn, dataset).map_err(|e| self.err(e))
    }

    /// Every dataset with a budget or a charge, by name.
    pub(crate) fn budgets(&self) -> Result<Vec<Budget>, StoreError> {
        self.ensure_ledger()?;
        let mut stmt = self
            .conn
            .prepare(
                "SELECT dataset FROM privacy_budget UNION SELECT dataset FROM privacy_loss ORDER BY 1",
            )
            .map_err(|e| self.err(e))?;
        let names: Vec<String> = stmt
            .query_map([], |r| r.get(0))
            .and_then(|rows| rows.collect())
            .map_err(|e| self.err(e))?;
        names
            .iter()
            .map(|d| budget_in(&self.conn, d).map_err(|e| self.err(e)))
            .collect()
    }

    pub(crate) fn ledger(&self, dataset: Option<&str>) -> Result<Vec<LedgerEntry>, StoreError> {
        self.ensure_ledger()?;
        let mut stmt = self
            .conn
            .prepare(
                "SELECT seq, dataset, output, mechanism, rho, epsilon, delta, spent_at FROM privacy_loss \
                 WHERE ?1 IS NULL OR dataset = ?1 ORDER BY seq",
            )
            .map_err(|e| self.err(e))?;
        stmt.query_map([dataset], |r| {
            Ok(LedgerEntry {
                seq: r.get(0)?,
                dataset: r.get(1)?,
                output: r.get(2)?,
                mechanism: r.get(3)?,
                rho: r.get(4)?,
                epsilon: r.get(5)?,
                delta: r.get(6)?,
                spent_at: r.get(7)?,
            })
        })
        .and_then(|rows| rows.collect())
        .map_err(|e| self.err(e))
    }
}

fn budget_in(conn: &rusqlite::Connection, dataset: &str) -> rusqlite::Result<Budget> {
    let rho: Option<f64> = conn
        .query_row(
            "SELECT rho FROM privacy_budget WHERE dataset = ?1",
            [dataset],
            |r| r.get(0),
        )
        .optional()?;
    let (spent, charges): (f64, i64) = conn.query_row(
        "SELECT COALESCE(SUM(rho), 0), COUNT(*) FROM privacy_loss WHERE dataset = ?1",
        [dataset],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    Ok(Budget {
        dataset: dataset.to_string(),
        rho,
        spent,
        charges: charges as u64,
    })
}
