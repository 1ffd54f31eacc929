//! `deconflict party …`: manage parties directly in the store, whether or not the server
//! runs (SQLite allows one writer at a time and the server's writes wait their turn).

use std::process::ExitCode;

use anyhow::Context as _;

use deconflict_server::auth::{new_random_token, token_sha256};
use deconflict_store::{PartyRecord, Role};

use super::serve::StoreArgs;

/// Add and list parties.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: PartyCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum PartyCommand {
    /// Add a party and print its bearer token (shown once; only its hash is stored).
    Add(AddArgs),
    /// List parties (id, role, name).
    List(ListArgs),
}

#[derive(Debug, clap::Args)]
pub struct AddArgs {
    /// The party's id: 1 to 128 characters of ASCII letters, digits, '-', '_', '.', ':'.
    pub id: String,
    /// The party's display name.
    #[arg(long)]
    pub name: String,
    /// party (files intents), observer (reads what is disclosed to the working group) or
    /// admin (manages parties).
    #[arg(long, default_value = "party", value_parser = ["party", "observer", "admin"])]
    pub role: String,
    #[command(flatten)]
    pub store: StoreArgs,
}

#[derive(Debug, clap::Args)]
pub struct ListArgs {
    #[command(flatten)]
    pub store: StoreArgs,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(async move {
        match args.command {
            PartyCommand::Add(args) => add(args).await,
            PartyCommand::List(args) => list(args).await,
        }
    })
}

async fn add(args: AddArgs) -> anyhow::Result<ExitCode> {
    deconflict_server::limits::check_id("party id", &args.id).map_err(anyhow::Error::msg)?;
    let name = args.name.trim();
    if name.is_empty() || name.chars().count() > deconflict_server::limits::PARTY_NAME_CHARS_MAX {
        anyhow::bail!(
            "--name must be 1 to {} characters",
            deconflict_server::limits::PARTY_NAME_CHARS_MAX
        );
    }
    let role: Role = args.role.parse()?;
    let store = args.store.open().await?;
    let token = new_random_token();
    let now_ms = deconflict_server::Clock::now_ms(&deconflict_server::SystemClock);
    let party = PartyRecord {
        id: args.id.clone(),
        name: name.to_owned(),
        role,
        token_sha256: token_sha256(&token),
        created_ms: now_ms,
    };
    match store.insert_party(&party).await {
        Ok(()) => {}
        Err(error) if error.is_unique_violation() => {
            anyhow::bail!("party {:?} already exists", args.id)
        }
        Err(error) => return Err(error).context("cannot add the party"),
    }
    eprintln!(
        "added {role} {:?} ({name}); its token follows, shown this once:",
        args.id
    );
    println!("{token}");
    Ok(ExitCode::SUCCESS)
}

async fn list(args: ListArgs) -> anyhow::Result<ExitCode> {
    let store = args.store.open().await?;
    for party in store.parties().await? {
        println!("{}\t{}\t{}", party.id, party.role, party.name);
    }
    Ok(ExitCode::SUCCESS)
}
