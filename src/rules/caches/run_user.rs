//! The user a RUN runs as, for cache mounts: a cache lives under that
//! user's HOME and must belong to them.

use std::collections::BTreeMap;

use crate::facts::commands::instruction_commands;
use crate::model::{self, Stage};
use crate::syntax::Dockerfile;
use crate::transforms;

/// Who runs a RUN, as far as the Dockerfile tells.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunUser {
    /// The USER as written (`root` when no USER precedes the RUN).
    pub name: String,
    pub root: bool,
    pub uid: Option<u32>,
    pub gid: Option<u32>,
    /// `HOME`: set by ENV, else the user's home directory.
    pub home: Option<String>,
    /// The home directory is known to exist and belong to the user (root's,
    /// an official image's user, `useradd -m`, `adduser`).
    pub home_made: bool,
}

/// The user of the instruction at `position` of stage `index`. Without a
/// USER in the stage or those it builds on, the base image's user is taken
/// to be root, as in the official images.
/// Takes the last USER before the instruction and the `HOME` variable it
/// sees, which a walk over the stage carries forward.
pub fn run_user(
    file: &Dockerfile,
    stages: &[Stage],
    (index, position): (usize, usize),
    user: Option<&crate::syntax::Instruction>,
    home_variable: Option<&model::Variable>,
) -> RunUser {
    let written = user
        .and_then(|i| i.command.values.first().map(String::from))
        .unwrap_or_else(|| "root".into());
    let (user, group) = match written.split_once(':') {
        Some((u, g)) => (u.to_string(), Some(g.to_string())),
        None => (written.clone(), None),
    };
    let root = user == "root" || user == "0";
    let known = if root {
        Some(Account {
            uid: Some(0),
            gid: Some(0),
            home: Some("/root".into()),
            home_made: true,
        })
    } else {
        account(file, stages, index, position, &user)
    };
    let uid = user.parse().ok().or(known.as_ref().and_then(|k| k.uid));
    let gid = match &group {
        Some(g) => g.parse().ok(),
        None => known.as_ref().and_then(|k| k.gid),
    };
    let home_made = known.as_ref().is_some_and(|k| k.home_made) && home_variable.is_none();
    let home = home_variable
        .map(|v| v.value.clone())
        .or(known.and_then(|k| k.home));
    RunUser {
        name: written,
        root,
        uid,
        gid,
        home,
        home_made,
    }
}

#[derive(Default)]
struct Account {
    uid: Option<u32>,
    gid: Option<u32>,
    home: Option<String>,
    home_made: bool,
}

/// What the Dockerfile (a `useradd` or `adduser` before the RUN) or the
/// base image says of a user, by name or uid.
fn account(
    file: &Dockerfile,
    stages: &[Stage],
    index: usize,
    position: usize,
    user: &str,
) -> Option<Account> {
    let image = model::base_image_name(stages, index);
    let table = &transforms::cache_mounts().image_user;
    if let Some(known) = table
        .iter()
        .find(|u| u.image == image && (u.name == user || u.uid.to_string() == user))
    {
        return Some(Account {
            uid: Some(known.uid),
            gid: Some(known.gid),
            home: Some(known.home.clone()),
            home_made: true,
        });
    }
    let runs: Vec<_> = model::earlier_runs(stages, index, position)
        .filter(|r| r.names_program(&file.source, &["useradd", "adduser"]))
        .collect();
    runs.into_iter().find_map(|run| {
        instruction_commands(file, run, index)
            .iter()
            .filter_map(|c| created(&c.literal_words()?))
            .find(|(name, account)| {
                name == user || account.uid.is_some_and(|uid| uid.to_string() == user)
            })
            .map(|(_, account)| account)
    })
}

/// The user a `useradd` or `adduser` (Debian's or BusyBox's) creates.
fn created(words: &[String]) -> Option<(String, Account)> {
    let program = words.first()?.rsplit('/').next()?;
    // Options with a value, and where that value goes.
    let options: BTreeMap<&str, &str> = match program {
        "useradd" => [
            ("-u", "uid"),
            ("--uid", "uid"),
            ("-g", "gid"),
            ("--gid", "gid"),
            ("-d", "home"),
            ("--home-dir", "home"),
            ("-s", ""),
            ("--shell", ""),
            ("-G", ""),
            ("--groups", ""),
            ("-c", ""),
            ("--comment", ""),
            ("-k", ""),
            ("--skel", ""),
            ("-e", ""),
            ("-f", ""),
            ("-p", ""),
            ("-K", ""),
            ("-b", ""),
            ("--base-dir", ""),
        ]
        .into(),
        // Debian's long options and BusyBox's short ones.
        "adduser" => [
            ("--uid", "uid"),
            ("-u", "uid"),
            ("--gid", "gid"),
            ("--home", "home"),
            ("-h", "home"),
            ("--shell", ""),
            ("-s", ""),
            ("--gecos", ""),
            ("-g", ""),
            ("--ingroup", ""),
            ("-G", ""),
            ("-k", ""),
            ("--comment", ""),
        ]
        .into(),
        _ => return None,
    };
    // Debian's and BusyBox's adduser make the home unless told not to;
    // useradd only with -m.
    let mut account = Account {
        home_made: program == "adduser",
        ..Account::default()
    };
    let mut name = None;
    let mut i = 1;
    while let Some(word) = words.get(i) {
        let (option, inline) = match word.split_once('=') {
            Some((o, v)) if o.starts_with("--") => (o, Some(v.to_string())),
            _ => (word.as_str(), None),
        };
        if let Some(&field) = options.get(option) {
            let value = match inline {
                Some(v) => v,
                None => {
                    i += 1;
                    words.get(i)?.clone()
                }
            };
            match field {
                "uid" => account.uid = Some(value.parse().ok()?),
                "gid" => account.gid = value.parse().ok(),
                "home" => account.home = Some(value),
                _ => {}
            }
        } else if matches!(word.as_str(), "-m" | "--create-home") && program == "useradd" {
            account.home_made = true;
        } else if matches!(word.as_str(), "-M" | "--no-create-home" | "-H") {
            account.home_made = false;
        } else if !word.starts_with('-') && name.is_none() {
            name = Some(word.clone());
        }
        i += 1;
    }
    let name = name?;
    account.home.get_or_insert_with(|| format!("/home/{name}"));
    Some((name, account))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The user of the instruction at `position` of stage `index`, read the
    /// slow way: what the walks of the rules must agree with.
    fn user_of(file: &Dockerfile, stages: &[Stage], index: usize, position: usize) -> RunUser {
        let at = stages[index].body[position].span().start;
        let user = model::earlier(stages, index, position).find(|i| i.command.name == "user");
        let home = model::variables_before(stages, index, at).remove("HOME");
        run_user(file, stages, (index, position), user, home.as_ref())
    }
    use crate::syntax::parse;

    fn user_of_last_run(text: &str) -> RunUser {
        let file = parse(text.as_bytes()).unwrap();
        let stages = model::stages(&file);
        let index = stages.len() - 1;
        let position = stages[index].body.len() - 1;
        user_of(&file, &stages, index, position)
    }

    #[test]
    fn root_without_a_user() {
        let user = user_of_last_run("FROM debian\nRUN x\n");
        assert!(user.root);
        assert_eq!(user.home.as_deref(), Some("/root"));
        assert_eq!(user.uid, Some(0));
    }

    #[test]
    fn a_created_user_is_known_by_name_and_uid() {
        let user = user_of_last_run(
            "FROM debian\nRUN groupadd -g 1001 app && useradd -m -u 1001 -g 1001 -s /bin/sh app\nUSER app\nRUN x\n",
        );
        assert!(!user.root);
        assert_eq!((user.uid, user.gid), (Some(1001), Some(1001)));
        assert_eq!(user.home.as_deref(), Some("/home/app"));
        assert!(user.home_made);
        let user = user_of_last_run(
            "FROM alpine\nRUN adduser -D -u 10001 -h /srv/app app\nUSER 10001:10001\nRUN x\n",
        );
        assert_eq!((user.uid, user.gid), (Some(10001), Some(10001)));
        assert_eq!(user.home.as_deref(), Some("/srv/app"));
        let user = user_of_last_run(
            "FROM debian\nRUN adduser --disabled-password --gecos '' --uid=1002 web\nUSER web\nRUN x\n",
        );
        assert_eq!(user.uid, Some(1002));
        assert_eq!(user.home.as_deref(), Some("/home/web"));
    }

    #[test]
    fn image_users_env_home_and_unknown_users() {
        let user = user_of_last_run("FROM node:20\nUSER node\nRUN x\n");
        assert_eq!(user.uid, Some(1000));
        assert_eq!(user.home.as_deref(), Some("/home/node"));
        let user = user_of_last_run("FROM debian\nENV HOME=/data\nUSER 1000\nRUN x\n");
        assert_eq!(user.uid, Some(1000));
        assert_eq!(user.home.as_deref(), Some("/data"));
        assert!(!user.home_made, "nothing shows /data exists");
        let user = user_of_last_run("FROM debian\nUSER nobody\nRUN x\n");
        assert_eq!((user.uid, user.home), (None, None));
        // A later USER does not change an earlier RUN.
        let file = parse(b"FROM debian\nRUN x\nUSER app\n").unwrap();
        let stages = model::stages(&file);
        assert!(user_of(&file, &stages, 0, 0).root);
    }
}
