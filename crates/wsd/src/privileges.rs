//! Dropping root privileges: `-u USER`, `-g GROUP` and `-c DIR`.
//!
//! Users and groups are looked up before the chroot, where the user database
//! is still readable, and the drop itself is done by the `privdrop` crate.

use privdrop::reexports::nix::unistd::{Group, User};
use privdrop::PrivDrop;
use rustix::process::{Gid, Uid};
use tracing::{info, warn};

use crate::run::Failure;
use wsd::cli::Cli;

/// The user and group that privileges are dropped to.
#[derive(Clone, Debug)]
pub struct Identity {
    /// The user id, or `None` when only the group changes.
    pub uid: Option<Uid>,
    /// The group id: `-g`, else the user's primary group.
    pub gid: Gid,
    /// The user and group as given, for messages.
    pub name: String,
}

/// Looks up `-u` and `-g`. Returns `None` when neither is given.
pub fn resolve(cli: &Cli) -> Result<Option<Identity>, Failure> {
    if cli.user.is_none() && cli.group.is_none() {
        return Ok(None);
    }
    let mut uid = None;
    let mut gid = None;
    let mut names = Vec::new();
    if let Some(user) = &cli.user {
        let (user_id, primary_group) = lookup_user(user)?;
        if user_id == 0 && !cli.allow_root {
            return Err(Failure::Usage(format!(
                "-u {user} names a user with user id 0, which keeps every privilege; \
                 give an unprivileged user, or add --allow-root to run as root on purpose"
            )));
        }
        uid = Some(Uid::from_raw(user_id));
        gid = primary_group.map(Gid::from_raw);
        names.push(format!("user {user}"));
    }
    if let Some(group) = &cli.group {
        gid = Some(Gid::from_raw(lookup_group(group)?));
        names.push(format!("group {group}"));
    }
    let Some(gid) = gid else {
        // Only a numeric user id without a passwd entry and without -g gets here.
        return Err(Failure::Usage(format!(
            "user id {} has no entry in the user database, so its group is unknown; give the group with -g",
            cli.user.as_deref().unwrap_or_default()
        )));
    };
    Ok(Some(Identity {
        uid,
        gid,
        name: names.join(" and "),
    }))
}

/// Returns the user id and primary group id of a user name or numeric id.
fn lookup_user(user: &str) -> Result<(u32, Option<u32>), Failure> {
    let found = if let Ok(id) = user.parse::<u32>() {
        match User::from_uid(privdrop::reexports::nix::unistd::Uid::from_raw(id)) {
            Ok(Some(entry)) => return Ok((id, Some(entry.gid.as_raw()))),
            Ok(None) => return Ok((id, None)),
            Err(err) => Err(err),
        }
    } else {
        User::from_name(user)
    };
    match found {
        Ok(Some(entry)) => Ok((entry.uid.as_raw(), Some(entry.gid.as_raw()))),
        Ok(None) => Err(Failure::Usage(format!(
            "user {user} not found in the user database; give an existing user name or a numeric user id with -u"
        ))),
        Err(err) => Err(Failure::Usage(format!("cannot look up user {user}: {err}"))),
    }
}

/// Returns the group id of a group name or numeric id.
fn lookup_group(group: &str) -> Result<u32, Failure> {
    if let Ok(id) = group.parse::<u32>() {
        return Ok(id);
    }
    match Group::from_name(group) {
        Ok(Some(entry)) => Ok(entry.gid.as_raw()),
        Ok(None) => Err(Failure::Usage(format!(
            "group {group} not found in the group database; give an existing group name or a numeric group id with -g"
        ))),
        Err(err) => Err(Failure::Usage(format!("cannot look up group {group}: {err}"))),
    }
}

/// Changes the root directory to `-c` and drops to `identity`, with the
/// supplementary groups reduced to the one group. Everything that needs root
/// must be open before this call.
pub fn drop_privileges(cli: &Cli, identity: Option<&Identity>) -> Result<(), Failure> {
    if cli.chroot.is_none() && identity.is_none() {
        return Ok(());
    }
    let mut drop = PrivDrop::default();
    if let Some(dir) = &cli.chroot {
        // privdrop enters the directory before it calls chroot with the same
        // path, so a relative path would then name a directory inside it.
        let absolute = std::path::absolute(dir).unwrap_or_else(|_| dir.clone());
        drop = drop.chroot(absolute);
    }
    if let Some(identity) = identity {
        // Numbers resolved above go to privdrop, which then skips its own
        // lookup unless a user or group is literally named by that number.
        drop = drop.fallback_to_ids_if_names_are_numeric();
        if let Some(uid) = identity.uid {
            drop = drop.user(uid.as_raw().to_string());
        }
        drop = drop.group(identity.gid.as_raw().to_string());
    }
    drop.apply().map_err(|err| {
        let root = cli.chroot.as_ref().map(|dir| dir.display().to_string());
        let hint = if rustix::process::geteuid().is_root() {
            "check that the -c directory can be entered and that wsd has the capabilities \
             CAP_SYS_CHROOT, CAP_SETUID and CAP_SETGID"
        } else {
            "wsd must start as root to use -u, -g or -c"
        };
        let action = match (identity, root) {
            (Some(identity), Some(root)) => {
                format!(
                    "drop privileges to {} with root directory {root}",
                    identity.name
                )
            }
            (Some(identity), None) => format!("drop privileges to {}", identity.name),
            // With -c alone, only the root directory is changed.
            (None, root) => format!("change the root directory to {}", root.unwrap_or_default()),
        };
        Failure::Other(format!("cannot {action}: {err}; {hint}"))
    })?;
    // With -c alone, only the root directory changed.
    let action = if identity.is_some() {
        "dropped privileges"
    } else {
        "changed the root directory"
    };
    info!(
        uid = rustix::process::getuid().as_raw(),
        gid = rustix::process::getgid().as_raw(),
        root = cli.chroot.as_ref().map(|dir| dir.display().to_string()),
        "{action}"
    );
    Ok(())
}

/// Warns when a live capture, or a run with `-c`, keeps running as root.
pub fn warn_if_staying_root(cli: &Cli) {
    if cli.user.is_some() || !rustix::process::geteuid().is_root() {
        return;
    }
    if cli.is_live() {
        warn!(
            "running as root for the whole capture; give -u USER (and -g GROUP, -c DIR) \
             to drop privileges once the interface and the log directory are open"
        );
    } else if cli.chroot.is_some() {
        // Root can leave a chroot, so the new root alone confines little.
        warn!("running as root inside the new root of -c; give -u USER to drop privileges too");
    }
}

/// Returns true if `owner` may create files in a directory with the permission
/// bits `mode`, owned by `uid` and `gid`, as far as those bits tell: as its
/// owner, through its group or as anyone.
pub fn may_write(mode: u32, uid: u32, gid: u32, owner: &Identity) -> bool {
    let by_owner = owner.uid.is_none_or(|user| user.as_raw() == uid) && mode & 0o300 == 0o300;
    let by_group = owner.gid.as_raw() == gid && mode & 0o030 == 0o030;
    let by_other = mode & 0o003 == 0o003;
    by_owner || by_group || by_other
}
