//! `deconflict audit`: offline work on audit-log exports, today `audit verify`.
//!
//! `audit verify FILE --public-key KEY` checks an export from `GET /v1/audit/export`
//! against the server's key from `GET /v1/audit/key`: exit 0 when the chain, every
//! signature and the trailer hold, 1 naming the first bad line otherwise, 2 when the file or
//! key cannot be used at all.

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context as _};
use clap::{Args as ClapArgs, Subcommand};
use deconflict_audit::{verify, AuditPublicKey};

/// Work with exports of the audit log.
#[derive(Debug, ClapArgs)]
pub struct Args {
    #[command(subcommand)]
    command: AuditCommand,
}

#[derive(Debug, Subcommand)]
enum AuditCommand {
    /// Verify an export of the audit log offline.
    ///
    /// Checks that every line is as the server signed it, that the lines form one
    /// unbroken hash chain (entries withheld from the viewer included, as their hashes), and
    /// that the signed trailer matches the first and last lines, so nothing was changed,
    /// removed, reordered or inserted. Exit 0 when it holds, 1 with the first bad line
    /// otherwise, 2 when the file or key cannot be read.
    Verify(VerifyArgs),
}

#[derive(Debug, ClapArgs)]
struct VerifyArgs {
    /// The export (JSON lines from GET /v1/audit/export), or `-` for standard input.
    file: PathBuf,
    /// The server's Ed25519 public key: the base64 string itself, or a file holding it or
    /// the JSON document GET /v1/audit/key serves ({"public_key": "<base64>"}).
    #[arg(long, value_name = "KEY")]
    public_key: String,
    /// Print the verdict as one JSON object.
    #[arg(long)]
    json: bool,
}

/// Exit status when the export does not verify.
const EXIT_DOES_NOT_VERIFY: u8 = 1;

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    match args.command {
        AuditCommand::Verify(args) => run_verify(args),
    }
}

fn run_verify(args: VerifyArgs) -> anyhow::Result<ExitCode> {
    let public_key = read_public_key(&args.public_key)?;
    let input = read_export(&args.file)?;
    let shown = args.file.display();
    match verify(&input, &public_key) {
        Ok(summary) => {
            if args.json {
                let verdict = serde_json::json!({
                    "valid": true,
                    "viewer": summary.viewer,
                    "exported_at": summary.exported_at,
                    "from_seq": summary.from.seq,
                    "from_genesis": summary.from_genesis(),
                    "head_seq": summary.head.seq,
                    "head_hash": summary.head.hash.to_hex(),
                    "entries": summary.entries,
                    "visible": summary.visible,
                    "withheld": summary.withheld,
                });
                println!("{verdict}");
            } else {
                let start = if summary.from_genesis() {
                    "from the first entry".to_string()
                } else {
                    format!("after seq {}", summary.from.seq)
                };
                println!(
                    "{shown}: valid. {} entries {start} to seq {} ({} visible, {} withheld), \
                     exported for {} at {}; head {}",
                    summary.entries,
                    summary.head.seq,
                    summary.visible,
                    summary.withheld,
                    summary.viewer,
                    summary.exported_at,
                    summary.head.hash,
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(error) => {
            if args.json {
                let verdict = serde_json::json!({
                    "valid": false,
                    "line": error.line,
                    "reason": error.reason.to_string(),
                });
                println!("{verdict}");
            } else {
                println!("{shown}:{}: does not verify: {}", error.line, error.reason);
            }
            Ok(ExitCode::from(EXIT_DOES_NOT_VERIFY))
        }
    }
}

/// The key from the argument itself when it is a key, or from the file it names.
fn read_public_key(argument: &str) -> anyhow::Result<AuditPublicKey> {
    let path = Path::new(argument);
    if path.is_file() {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the public key file {argument}"))?;
        return AuditPublicKey::from_key_text(&text)
            .with_context(|| format!("the public key file {argument} holds no usable key"));
    }
    match AuditPublicKey::from_key_text(argument) {
        Ok(key) => Ok(key),
        Err(error) => bail!(
            "--public-key {argument:?} is neither a readable file nor a key: {error} \
             (pass the base64 from GET /v1/audit/key, or a file holding it)"
        ),
    }
}

fn read_export(path: &Path) -> anyhow::Result<Vec<u8>> {
    if path.as_os_str() == "-" {
        let mut input = Vec::new();
        std::io::stdin()
            .read_to_end(&mut input)
            .context("cannot read the export from standard input")?;
        return Ok(input);
    }
    std::fs::read(path).with_context(|| format!("cannot read the export {}", path.display()))
}
