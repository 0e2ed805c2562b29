//! `corridor admin` (organisations, users, tokens) and `corridor audit`
//! (the hash-chained log of every action).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::Subcommand;
use corridor_access::{Access, Role};

#[derive(Subcommand)]
pub enum AdminCommand {
    /// Add an organisation (a border agency, a statistics office, an NGO)
    OrgAdd {
        #[arg(long)]
        workspace: PathBuf,
        /// Its name: letters, digits, spaces, dots, dashes, underscores
        name: String,
    },
    /// Add a user to an organisation, with one role
    UserAdd {
        #[arg(long)]
        workspace: PathBuf,
        /// The organisation
        #[arg(long)]
        org: String,
        /// admin (people and tokens), contributor (uploads), analyst (protected tables), publisher (releases)
        #[arg(long)]
        role: String,
        /// The user's name
        name: String,
    },
    /// Give a source to an organisation: keep its mapping in the workspace, so that the organisation's contributors can upload to it over HTTP and its members read its submissions
    SourceAdd {
        #[arg(long)]
        workspace: PathBuf,
        /// The organisation
        #[arg(long)]
        org: String,
        /// The source's mapping (its `source` names the source): checked as an ingest checks it, then copied to WORKSPACE/mappings/
        mapping: PathBuf,
    },
    /// Make an API token for a user: printed once, stored only as an argon2 hash
    TokenNew {
        #[arg(long)]
        workspace: PathBuf,
        #[arg(long)]
        user: String,
    },
    /// Revoke a token by its id (the part after `crt_`)
    TokenRevoke {
        #[arg(long)]
        workspace: PathBuf,
        id: String,
    },
    /// List organisations, users and tokens (ids only; secrets are never kept)
    List {
        #[arg(long)]
        workspace: PathBuf,
        /// Print as JSON
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
pub enum AuditCommand {
    /// Check the chain: an edited, reordered or deleted entry is an error (exit code 1)
    Verify {
        #[arg(long)]
        workspace: PathBuf,
    },
    /// Print the log, one entry per line
    Show {
        #[arg(long)]
        workspace: PathBuf,
        /// Print as JSON lines
        #[arg(long)]
        json: bool,
    },
}

/// The workspace's access, refusing a folder that is not a workspace.
fn open(workspace: &Path) -> Result<Access> {
    corridor_store::Workspace::open(workspace)?;
    Access::open(workspace).with_context(|| format!("workspace {}", workspace.display()))
}

/// Actions at the console are the workspace owner's.
const CONSOLE: &str = "cli";

pub fn admin(command: AdminCommand) -> Result<()> {
    match command {
        AdminCommand::OrgAdd { workspace, name } => {
            let o = open(&workspace)?.add_org(CONSOLE, &name)?;
            println!("Organisation `{}` added.", o.name);
        }
        AdminCommand::UserAdd {
            workspace,
            org,
            role,
            name,
        } => {
            let role = Role::parse(&role)?;
            let u = open(&workspace)?.add_user(CONSOLE, &org, &name, role)?;
            println!(
                "User `{}` added to `{}` as {}.",
                u.name,
                u.org,
                u.role.name()
            );
        }
        AdminCommand::SourceAdd {
            workspace,
            org,
            mapping,
        } => {
            let ws = corridor_store::Workspace::open(&workspace)?;
            let access = open(&workspace)?;
            // The organisation first: a mapping is not kept for nobody.
            if !access.orgs()?.iter().any(|o| o.name == org) {
                anyhow::bail!(
                    "no organisation `{org}`: `corridor admin org-add --workspace {} {org}` makes it",
                    workspace.display()
                );
            }
            let registered = ws
                .register_mapping(&mapping)
                .with_context(|| format!("the mapping {}", mapping.display()))?;
            access.assign_source(CONSOLE, &org, &registered.source)?;
            println!(
                "Source `{}` ({}) is `{org}`'s; its mapping is kept as {}.",
                registered.source,
                registered.record_type,
                registered.path.display()
            );
            println!(
                "  Its contributors upload with: POST /api/sources/{}/submissions?file_name=NAME (Authorization: Bearer TOKEN)",
                registered.source
            );
        }
        AdminCommand::TokenNew { workspace, user } => {
            let (info, token) = open(&workspace)?.new_token(CONSOLE, &user)?;
            println!(
                "Token {} for `{}`. It is shown this once; keep it secret:",
                info.id, info.user
            );
            println!("{token}");
        }
        AdminCommand::TokenRevoke { workspace, id } => {
            open(&workspace)?.revoke_token(CONSOLE, &id)?;
            println!("Token {id} revoked.");
        }
        AdminCommand::List { workspace, json } => {
            let a = open(&workspace)?;
            let (orgs, users, tokens) = (a.orgs()?, a.users()?, a.tokens()?);
            let sources = a.sources()?;
            if json {
                let sources: Vec<_> = sources
                    .iter()
                    .map(|(s, o)| serde_json::json!({"source": s, "organisation": o}))
                    .collect();
                println!(
                    "{}",
                    serde_json::to_string_pretty(&serde_json::json!({
                        "organisations": orgs, "users": users, "tokens": tokens, "sources": sources
                    }))?
                );
                return Ok(());
            }
            println!("Organisations:");
            for o in &orgs {
                println!("  {}", o.name);
            }
            println!("Users:");
            for u in &users {
                println!("  {:<20} {:<12} {}", u.name, u.role.name(), u.org);
            }
            println!("Sources:");
            for (s, o) in &sources {
                println!("  {s:<20} {o}");
            }
            println!("Tokens:");
            for t in &tokens {
                println!(
                    "  {}  {:<20} {}{}",
                    t.id,
                    t.user,
                    t.created,
                    if t.revoked { "  revoked" } else { "" }
                );
            }
        }
    }
    Ok(())
}

pub fn audit(command: AuditCommand) -> Result<()> {
    match command {
        AuditCommand::Verify { workspace } => {
            let a = open(&workspace)?;
            let r = a.audit().verify()?;
            println!(
                "The audit log holds {} entries, all chained; head {}.",
                r.entries, r.head
            );
        }
        AuditCommand::Show { workspace, json } => {
            for e in open(&workspace)?.audit().entries()? {
                if json {
                    println!("{}", serde_json::to_string(&e)?);
                } else {
                    println!(
                        "{:>5}  {}  {:<12} {:<14} {:<20} {}",
                        e.seq, e.at, e.actor, e.action, e.org, e.detail
                    );
                }
            }
        }
    }
    Ok(())
}
