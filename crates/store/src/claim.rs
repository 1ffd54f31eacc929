//! One service per store: the claim a `serve` process holds while it writes a store.
//!
//! The service keeps the state every write depends on (the strategic index, the open
//! conflicts, the audit chain's head) in the memory of one process, so two processes
//! writing one store would each check writes against only their own: a conflict between
//! intents filed at different processes would go unseen. A second `serve` on the same
//! store therefore stands by until the first releases its claim (stops or dies), then
//! loads the store and takes over.
//!
//! - **SQLite**: an exclusive `flock` on a file beside the database
//!   (`deconflict.db.service-lock`). A separate file, because closing any descriptor of the
//!   database file itself would drop SQLite's own POSIX locks on it. The kernel releases
//!   the lock when the process ends, however it ends.
//! - **PostgreSQL**: a session advisory lock, keyed by the schema, held on a connection of
//!   its own. PostgreSQL releases it when that session ends (the process dies, or the
//!   network drops it). A claim whose session is gone is no claim: a watchdog checks the
//!   session every [`SESSION_CHECK_INTERVAL`] and reports the loss through
//!   [`ServiceClaim::loss`], and the service then stops at once rather than write
//!   unguarded. A session can end while its process still runs (an administrator ends
//!   it), and the lock is then free before the watchdog notices; so each claim also bumps
//!   a fencing token (the `service_epoch` row) and every commit checks, inside its own
//!   transaction, that its service's epoch is still the newest. A commit of an instance
//!   that has been taken over is refused, whatever its timing.

use std::fs::File;
use std::path::Path;
use std::time::Duration;

use sqlx::{Connection as _, PgConnection};
use tokio::sync::oneshot;

use crate::StoreError;

/// How often a PostgreSQL claim's session is checked.
const SESSION_CHECK_INTERVAL: Duration = Duration::from_secs(1);

/// How long a check of a PostgreSQL claim's session may take before the claim counts as
/// lost: well inside the time PostgreSQL takes to end a silent client's session.
const SESSION_CHECK_TIMEOUT: Duration = Duration::from_secs(5);

/// The advisory lock key of the service on the schema of the session: one per schema, so
/// deployments in different schemas of one database do not exclude each other.
const ADVISORY_KEY_SQL: &str = "hashtextextended('deconflict.service:' || current_schema(), 0)";

/// Held while this process serves the store; dropping it releases the store.
pub struct ServiceClaim {
    /// The lock file (SQLite), kept open for as long as the claim lives.
    _file: Option<File>,
    /// Dropped with the claim: tells the PostgreSQL watchdog to end its session.
    _release: Option<oneshot::Sender<()>>,
    /// Why the claim was lost, from the PostgreSQL watchdog.
    lost: Option<oneshot::Receiver<String>>,
}

impl ServiceClaim {
    /// A future that resolves, with why, when the claim is lost while the service runs;
    /// it never resolves for a claim that cannot be lost while the process lives (a file
    /// lock). Taken once: later calls give a future that never resolves. The claim itself
    /// must still be kept until the service has stopped writing.
    pub fn loss(&mut self) -> impl std::future::Future<Output = String> + Send + 'static {
        let lost = self.lost.take();
        async move {
            match lost {
                Some(lost) => lost.await.unwrap_or_else(|_| {
                    "the watchdog of the store's claim stopped unexpectedly".to_owned()
                }),
                None => std::future::pending().await,
            }
        }
    }
}

/// Claims the SQLite store at `database` (the `.db` file) through its lock file; `None`
/// when another process holds it.
pub(crate) fn try_claim_sqlite(database: &Path) -> Result<Option<ServiceClaim>, StoreError> {
    let mut name = database.as_os_str().to_owned();
    name.push(".service-lock");
    let path = Path::new(&name);
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(|error| {
            StoreError::Open(format!(
                "cannot open the lock file {}: {error}",
                path.display()
            ))
        })?;
    match file.try_lock() {
        Ok(()) => Ok(Some(ServiceClaim {
            _file: Some(file),
            _release: None,
            lost: None,
        })),
        Err(std::fs::TryLockError::WouldBlock) => Ok(None),
        Err(std::fs::TryLockError::Error(error)) => Err(StoreError::Open(format!(
            "cannot lock {}: {error}",
            path.display()
        ))),
    }
}

/// Claims the PostgreSQL store on `connection` (a session of its own, with the store's
/// `search_path`); `None` when another session holds the schema's claim. With the claim
/// comes its epoch, the fencing token: the service epoch bumped by this claim.
pub(crate) async fn try_claim_postgres(
    mut connection: PgConnection,
) -> Result<Option<(ServiceClaim, i64)>, StoreError> {
    // Left to its defaults, PostgreSQL would hold the lock of a client that vanished without
    // closing its connection (a machine lost, a network cut) for hours, until the kernel
    // gave up on the connection. With these it ends the session about 25 s after the
    // client stops answering; by then this process's watchdog, whose checks time out
    // sooner, has stopped the service.
    sqlx::query(
        "SELECT set_config('tcp_keepalives_idle', '10', false), \
         set_config('tcp_keepalives_interval', '5', false), \
         set_config('tcp_keepalives_count', '3', false)",
    )
    .execute(&mut connection)
    .await?;
    let claimed: bool =
        sqlx::query_scalar(&format!("SELECT pg_try_advisory_lock({ADVISORY_KEY_SQL})"))
            .fetch_one(&mut connection)
            .await?;
    if !claimed {
        connection.close().await?;
        return Ok(None);
    }
    // Waits for any commit of the previous holder still under way (it holds this row), so
    // everything that commit wrote is in what this service then loads.
    let epoch: i64 = sqlx::query_scalar(
        "UPDATE service_epoch SET epoch = epoch + 1 WHERE id = 1 RETURNING epoch",
    )
    .fetch_one(&mut connection)
    .await?;
    let (release, mut released) = oneshot::channel::<()>();
    let (report_loss, lost) = oneshot::channel();
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(SESSION_CHECK_INTERVAL);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = &mut released => {
                    // Ending the session releases the lock; if closing fails, dropping the
                    // connection ends the session all the same.
                    let _ = connection.close().await;
                    return;
                }
                _ = ticker.tick() => {}
            }
            let check = tokio::time::timeout(SESSION_CHECK_TIMEOUT, connection.ping()).await;
            let why = match check {
                Ok(Ok(())) => continue,
                Ok(Err(error)) => format!("the session holding the store's claim failed: {error}"),
                Err(_) => "the session holding the store's claim stopped answering".to_owned(),
            };
            let _ = report_loss.send(why);
            return;
        }
    });
    let claim = ServiceClaim {
        _file: None,
        _release: Some(release),
        lost: Some(lost),
    };
    Ok(Some((claim, epoch)))
}
