//! Corridor access: who may do what in a workspace. Organisations, their
//! users with one role each (admin, contributor, analyst, publisher), API
//! tokens that are shown once and stored only as argon2 hashes, and the
//! hash-chained audit log every action is written to.
//!
//! It knows nothing of HTTP: the server asks [`Access::authenticate`] who
//! a token belongs to and [`Role::may`] whether that role may act; the
//! CLI's `corridor admin` and `corridor audit` call the same functions.
//!
//! The API: [`Access`] (in `WS/access.sqlite`), [`Organisation`],
//! [`User`], [`Role`], [`Principal`], [`TokenInfo`]; [`AuditLog`],
//! [`AuditEntry`], [`AuditReport`]; errors are [`AccessError`].

mod audit;

use std::path::{Path, PathBuf};

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use rusqlite::{OptionalExtension, params};
use serde::Serialize;
use serde_json::json;

pub use audit::{AuditEntry, AuditLog, AuditReport};

#[derive(Debug, thiserror::Error)]
pub enum AccessError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the access database: {0}")]
    Sql(#[from] rusqlite::Error),
    #[error("the audit log: {0}")]
    Audit(String),
    #[error("the audit log was tampered with: {0}")]
    Tampered(String),
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    NotFound(String),
    /// A token that is malformed, unknown, revoked or wrong: one answer
    /// for all, so that a guess learns nothing.
    #[error("not a valid token")]
    Unauthorized,
    #[error("hashing a token: {0}")]
    Hash(String),
}

impl AccessError {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> AccessError {
        AccessError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// What a user may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Manages organisations, users and tokens.
    Admin,
    /// Uploads files to its organisation's sources.
    Contributor,
    /// Runs tables on the protected path (DP tables charged to the ledger).
    Analyst,
    /// Builds and publishes releases.
    Publisher,
}

/// The actions roles are checked against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Administer,
    Submit,
    Analyse,
    Publish,
    /// Reading one's own organisation's submissions and quarantine.
    ReadOwn,
}

impl Role {
    pub const ALL: [Role; 4] = [
        Role::Admin,
        Role::Contributor,
        Role::Analyst,
        Role::Publisher,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Contributor => "contributor",
            Role::Analyst => "analyst",
            Role::Publisher => "publisher",
        }
    }

    pub fn parse(s: &str) -> Result<Role, AccessError> {
        Role::ALL
            .into_iter()
            .find(|r| r.name() == s)
            .ok_or_else(|| {
                AccessError::Invalid(format!(
                    "role `{s}`: use admin, contributor, analyst or publisher"
                ))
            })
    }

    /// Whether this role may take `action`. Each role does its own job
    /// only: an admin manages people, not data.
    pub fn may(self, action: Action) -> bool {
        matches!(
            (self, action),
            (Role::Admin, Action::Administer)
                | (Role::Contributor, Action::Submit | Action::ReadOwn)
                | (Role::Analyst, Action::Analyse | Action::ReadOwn)
                | (Role::Publisher, Action::Publish | Action::ReadOwn)
        )
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Organisation {
    pub id: i64,
    pub name: String,
    pub created: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct User {
    pub id: i64,
    pub name: String,
    pub org: String,
    pub role: Role,
    pub created: String,
}

/// A token as the database keeps it: its public id, never the secret.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TokenInfo {
    pub id: String,
    pub user: String,
    pub created: String,
    pub revoked: bool,
}

/// Who a request acts as.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Principal {
    pub user: String,
    pub org: String,
    pub role: Role,
    pub token: String,
}

/// The organisations, users and tokens of a workspace.
pub struct Access {
    conn: rusqlite::Connection,
    audit: AuditLog,
}

const TOKEN_PREFIX: &str = "crt";

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// A name of an organisation or user: 1 to 64 letters, digits, spaces,
/// `.`, `_` or `-`.
fn check_name(kind: &str, name: &str) -> Result<(), AccessError> {
    let ok = !name.trim().is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, ' ' | '.' | '_' | '-'));
    if ok {
        Ok(())
    } else {
        Err(AccessError::Invalid(format!(
            "{kind} name `{name}`: use 1 to 64 letters, digits, spaces, dots, dashes or underscores"
        )))
    }
}

fn random_hex(bytes: usize) -> Result<String, AccessError> {
    let mut b = vec![0u8; bytes];
    getrandom::fill(&mut b).map_err(|e| AccessError::Hash(e.to_string()))?;
    Ok(hex::encode(b))
}

impl Access {
    /// Opens (creating if need be) `WS/access.sqlite` and the audit log.
    pub fn open(workspace: &Path) -> Result<Access, AccessError> {
        let conn = rusqlite::Connection::open(workspace.join("access.sqlite"))?;
        conn.execute_batch(
            "PRAGMA foreign_keys = ON;
             PRAGMA busy_timeout = 5000;
             CREATE TABLE IF NOT EXISTS organisations (
                 id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, created TEXT NOT NULL);
             CREATE TABLE IF NOT EXISTS users (
                 id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE,
                 org INTEGER NOT NULL REFERENCES organisations(id),
                 role TEXT NOT NULL, created TEXT NOT NULL);
             CREATE TABLE IF NOT EXISTS tokens (
                 id TEXT PRIMARY KEY, user INTEGER NOT NULL REFERENCES users(id),
                 hash TEXT NOT NULL, created TEXT NOT NULL, revoked INTEGER NOT NULL DEFAULT 0);
             CREATE TABLE IF NOT EXISTS sources (
                 name TEXT PRIMARY KEY, org INTEGER NOT NULL REFERENCES organisations(id),
                 assigned TEXT NOT NULL);",
        )?;
        Ok(Access {
            conn,
            audit: AuditLog::open(workspace)?,
        })
    }

    pub fn audit(&self) -> &AuditLog {
        &self.audit
    }

    pub fn add_org(&self, actor: &str, name: &str) -> Result<Organisation, AccessError> {
        check_name("organisation", name)?;
        let created = now();
        let n = self.conn.execute(
            "INSERT INTO organisations (name, created) VALUES (?1, ?2) ON CONFLICT(name) DO NOTHING",
            params![name, created],
        )?;
        if n == 0 {
            return Err(AccessError::Invalid(format!(
                "organisation `{name}` exists already"
            )));
        }
        let id = self.conn.last_insert_rowid();
        self.audit
            .append(actor, name, "org.add", json!({ "organisation": name }))?;
        Ok(Organisation {
            id,
            name: name.to_string(),
            created,
        })
    }

    pub fn orgs(&self) -> Result<Vec<Organisation>, AccessError> {
        let mut st = self
            .conn
            .prepare("SELECT id, name, created FROM organisations ORDER BY name")?;
        let rows = st.query_map([], |r| {
            Ok(Organisation {
                id: r.get(0)?,
                name: r.get(1)?,
                created: r.get(2)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn add_user(
        &self,
        actor: &str,
        org: &str,
        name: &str,
        role: Role,
    ) -> Result<User, AccessError> {
        check_name("user", name)?;
        let org_id = self.org_id(org)?;
        let created = now();
        let n = self.conn.execute(
            "INSERT INTO users (name, org, role, created) VALUES (?1, ?2, ?3, ?4) ON CONFLICT(name) DO NOTHING",
            params![name, org_id, role.name(), created],
        )?;
        if n == 0 {
            return Err(AccessError::Invalid(format!(
                "user `{name}` exists already"
            )));
        }
        let id = self.conn.last_insert_rowid();
        self.audit.append(
            actor,
            org,
            "user.add",
            json!({ "user": name, "role": role.name() }),
        )?;
        Ok(User {
            id,
            name: name.to_string(),
            org: org.to_string(),
            role,
            created,
        })
    }

    pub fn users(&self) -> Result<Vec<User>, AccessError> {
        let mut st = self.conn.prepare(
            "SELECT u.id, u.name, o.name, u.role, u.created FROM users u JOIN organisations o ON o.id = u.org ORDER BY o.name, u.name",
        )?;
        let rows = st.query_map([], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, String>(4)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (id, name, org, role, created) = row?;
            out.push(User {
                id,
                name,
                org,
                role: Role::parse(&role)?,
                created,
            });
        }
        Ok(out)
    }

    /// A new token for `user`: returned once, as `crt_<id>_<secret>`; the
    /// database keeps only its id and an argon2id hash.
    pub fn new_token(&self, actor: &str, user: &str) -> Result<(TokenInfo, String), AccessError> {
        let (user_id, org): (i64, String) = self
            .conn
            .query_row(
                "SELECT u.id, o.name FROM users u JOIN organisations o ON o.id = u.org WHERE u.name = ?1",
                [user],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?
            .ok_or_else(|| AccessError::NotFound(format!("no user `{user}`")))?;
        let id = random_hex(6)?;
        let secret = random_hex(32)?;
        let token = format!("{TOKEN_PREFIX}_{id}_{secret}");
        let mut salt = [0u8; 16];
        getrandom::fill(&mut salt).map_err(|e| AccessError::Hash(e.to_string()))?;
        let salt = SaltString::encode_b64(&salt).map_err(|e| AccessError::Hash(e.to_string()))?;
        let hash = argon2::Argon2::default()
            .hash_password(token.as_bytes(), &salt)
            .map_err(|e| AccessError::Hash(e.to_string()))?
            .to_string();
        let created = now();
        self.conn.execute(
            "INSERT INTO tokens (id, user, hash, created) VALUES (?1, ?2, ?3, ?4)",
            params![id, user_id, hash, created],
        )?;
        self.audit.append(
            actor,
            &org,
            "token.new",
            json!({ "user": user, "token": id }),
        )?;
        Ok((
            TokenInfo {
                id,
                user: user.to_string(),
                created,
                revoked: false,
            },
            token,
        ))
    }

    pub fn revoke_token(&self, actor: &str, id: &str) -> Result<(), AccessError> {
        let n = self
            .conn
            .execute("UPDATE tokens SET revoked = 1 WHERE id = ?1", [id])?;
        if n == 0 {
            return Err(AccessError::NotFound(format!("no token `{id}`")));
        }
        self.audit
            .append(actor, "", "token.revoke", json!({ "token": id }))?;
        Ok(())
    }

    pub fn tokens(&self) -> Result<Vec<TokenInfo>, AccessError> {
        let mut st = self.conn.prepare(
            "SELECT t.id, u.name, t.created, t.revoked FROM tokens t JOIN users u ON u.id = t.user ORDER BY t.created, t.id",
        )?;
        let rows = st.query_map([], |r| {
            Ok(TokenInfo {
                id: r.get(0)?,
                user: r.get(1)?,
                created: r.get(2)?,
                revoked: r.get::<_, i64>(3)? != 0,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Makes `source` the organisation's: its contributors may upload to
    /// it, and its members may read its submissions and quarantine. A
    /// source has one organisation; assigning it again moves it.
    pub fn assign_source(&self, actor: &str, org: &str, source: &str) -> Result<(), AccessError> {
        let org_id = self.org_id(org)?;
        self.conn.execute(
            "INSERT INTO sources (name, org, assigned) VALUES (?1, ?2, ?3)
             ON CONFLICT(name) DO UPDATE SET org = excluded.org, assigned = excluded.assigned",
            params![source, org_id, now()],
        )?;
        self.audit
            .append(actor, org, "source.assign", json!({ "source": source }))?;
        Ok(())
    }

    /// The organisation `source` belongs to, if any.
    pub fn source_owner(&self, source: &str) -> Result<Option<String>, AccessError> {
        Ok(self
            .conn
            .query_row(
                "SELECT o.name FROM sources s JOIN organisations o ON o.id = s.org WHERE s.name = ?1",
                [source],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// Every source with its organisation, by source.
    pub fn sources(&self) -> Result<Vec<(String, String)>, AccessError> {
        let mut st = self.conn.prepare(
            "SELECT s.name, o.name FROM sources s JOIN organisations o ON o.id = s.org ORDER BY s.name",
        )?;
        let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn org_id(&self, org: &str) -> Result<i64, AccessError> {
        self.conn
            .query_row("SELECT id FROM organisations WHERE name = ?1", [org], |r| {
                r.get(0)
            })
            .optional()?
            .ok_or_else(|| {
                AccessError::NotFound(format!(
                    "no organisation `{org}`: `corridor admin org-add {org}` makes it"
                ))
            })
    }

    /// Who `token` belongs to. Any token that is malformed, unknown,
    /// revoked or does not match its hash is [`AccessError::Unauthorized`].
    pub fn authenticate(&self, token: &str) -> Result<Principal, AccessError> {
        let mut parts = token.splitn(3, '_');
        let (Some(TOKEN_PREFIX), Some(id), Some(secret)) =
            (parts.next(), parts.next(), parts.next())
        else {
            return Err(AccessError::Unauthorized);
        };
        if id.len() != 12 || secret.len() != 64 {
            return Err(AccessError::Unauthorized);
        }
        let row: Option<(String, String, String, String, i64)> = self
            .conn
            .query_row(
                "SELECT t.hash, u.name, o.name, u.role, t.revoked FROM tokens t JOIN users u ON u.id = t.user JOIN organisations o ON o.id = u.org WHERE t.id = ?1",
                [id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
            )
            .optional()?;
        let Some((hash, user, org, role, revoked)) = row else {
            return Err(AccessError::Unauthorized);
        };
        let parsed = PasswordHash::new(&hash).map_err(|_| AccessError::Unauthorized)?;
        if revoked != 0
            || argon2::Argon2::default()
                .verify_password(token.as_bytes(), &parsed)
                .is_err()
        {
            return Err(AccessError::Unauthorized);
        }
        Ok(Principal {
            user,
            org,
            role: Role::parse(&role)?,
            token: id.to_string(),
        })
    }
}
