//! Users, as Gun.js's `gun.user()`: create an account, log in with an
//! alias and password or a key pair, write into one's space (signed), leave,
//! and recall a session.
//!
//! The graph layout is Gun.js's, so a user made by either logs in from the
//! other: `~@alias` holds `{"~<pub>": {"#": "~<pub>"}}`; `~<pub>` holds
//! `pub` (plain), and `alias`, `epub` and `auth` signed by the user, `auth`
//! being `{"ek": <the private keys encrypted with work(password, s)>,
//! "s": <salt>}` as JSON text.
//!
//! The steps that wait (reads from relays, PBKDF2 over the password) run on
//! a thread of their own: the calls return a [`Completion`] that blocking
//! code waits for and async code awaits, without holding up an executor.

use std::path::PathBuf;

use serde_json::{Value, json};

use crate::api::Gun;
use crate::chain::Chain;
use crate::completion::{Completion, completion};
use crate::error::{GunError, GunResult};
use crate::sea::{self, Js, Pair};

/// Who is logged in: Gun.js's `user.is`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserInfo {
    /// The signing public key (the user's soul is `~<pub>`).
    pub pub_key: String,
    /// The encryption public key.
    pub epub: String,
    /// The alias (the public key when logged in with a bare pair).
    pub alias: String,
}

/// The user of a Gun instance ([`Gun::user`]): one at a time, as in Gun.js.
#[derive(Debug, Clone)]
pub struct User {
    gun: Gun,
}

/// How many times `auth` looks an alias up before it gives up (Gun.js: 9).
const LOOKUPS: usize = 3;

impl Gun {
    /// The instance's user (Gun.js's `gun.user()`).
    pub fn user(&self) -> User {
        User { gun: self.clone() }
    }

    /// The space of the user with public key `pub_key`, `~<pub>` (Gun.js's
    /// `gun.user(pub)`): read anyone's; write only one's own (or with a
    /// certificate, [`Chain::put_certified`]).
    pub fn user_at(&self, pub_key: &str) -> Chain {
        self.get(format!("~{}", pub_key.trim_start_matches('~')))
    }
}

impl User {
    /// Creates an account: a new key pair, its private half encrypted with
    /// the password, published under `~<pub>` and listed under `~@alias`.
    /// The new user is logged in. Resolves with its public key once written
    /// locally (it reaches relays as any write does). Fails with
    /// [`GunError::Crypto`]: `Password too short!` (under 8 characters),
    /// `User already created!` (the alias is listed already).
    pub fn create(&self, alias: &str, password: &str) -> Completion<String> {
        let (alias, password) = (alias.to_owned(), password.to_owned());
        self.run(move |user| user.create_now(&alias, &password))
    }

    /// Logs in with an alias and password: every user listed under
    /// `~@alias` is tried until one's keys decrypt with the password.
    /// Fails with `Wrong user or password.`
    pub fn auth(&self, alias: &str, password: &str) -> Completion<UserInfo> {
        let (alias, password) = (alias.to_owned(), password.to_owned());
        self.run(move |user| user.auth_now(&alias, &password))
    }

    /// Logs in with a key pair (Gun.js's `user.auth(pair)`): nothing to
    /// look up.
    pub fn auth_pair(&self, pair: &Pair) -> GunResult<UserInfo> {
        if !pair.is_consistent() {
            return Err(GunError::Crypto(
                "the pair's public keys are not its private keys'".into(),
            ));
        }
        let info = UserInfo {
            pub_key: pair.pub_key.clone(),
            epub: pair.epub.clone(),
            alias: pair.pub_key.clone(),
        };
        self.log_in(pair.clone(), info.clone());
        Ok(info)
    }

    /// Logs out: our writes are no longer signed, and a remembered session
    /// is forgotten.
    pub fn leave(&self) {
        self.gun.set_user(None);
        if let Some(path) = self.session_file() {
            let _ = std::fs::remove_file(path);
        }
    }

    /// Remembers sessions from now on (Gun.js's
    /// `user.recall({sessionStorage: true})`), and logs in with the session
    /// remembered before, if there is one: `Some(user)` then. With a disk
    /// store the session is a file beside it (`<store>.sea-session`, only
    /// its owner may read it: it holds the private keys); without one it
    /// lasts as long as the instance.
    pub fn recall(&self) -> GunResult<Option<UserInfo>> {
        self.gun.remember_sessions();
        if let Some((_, info)) = self.gun.current_user() {
            return Ok(Some(info));
        }
        let Some(path) = self.session_file() else {
            return Ok(None);
        };
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(GunError::io(format!("cannot read {}", path.display()), e)),
        };
        let (pair, alias): (Pair, String) = serde_json::from_str(&text)?;
        let mut info = self.auth_pair(&pair)?;
        info.alias = alias;
        self.log_in(pair, info.clone());
        Ok(Some(info))
    }

    /// Who is logged in (Gun.js's `user.is`).
    pub fn is(&self) -> Option<UserInfo> {
        self.gun.current_user().map(|(_, info)| info)
    }

    /// The logged-in user's key pair (Gun.js's `user._.sea`), for
    /// [`sea::sign`], [`sea::decrypt`] and the rest.
    pub fn pair(&self) -> Option<Pair> {
        self.gun.current_user().map(|(pair, _)| pair)
    }

    /// The logged-in user's space, `~<pub>`: what is written below it is
    /// signed. Fails with [`GunError::Crypto`] when no one is logged in.
    pub fn space(&self) -> GunResult<Chain> {
        let info = self.is().ok_or_else(not_logged_in)?;
        Ok(self.gun.user_at(&info.pub_key))
    }

    /// `user.get(key)`: the key `key` of the logged-in user's space.
    pub fn get(&self, key: impl Into<String>) -> GunResult<Chain> {
        Ok(self.space()?.get(key))
    }

    fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Self) -> GunResult<T> + Send + 'static,
    ) -> Completion<T> {
        let (done, c) = completion();
        let user = self.clone();
        let spawned = std::thread::Builder::new()
            .name("gun-user".into())
            .spawn(move || done.complete(f(&user)));
        if let Err(e) = spawned {
            return Completion::ready(Err(GunError::io("cannot start the user thread", e)));
        }
        c
    }

    fn create_now(&self, alias: &str, password: &str) -> GunResult<String> {
        if alias.is_empty() {
            return Err(GunError::Crypto("No user.".into()));
        }
        if password.chars().count() < 8 {
            return Err(GunError::Crypto("Password too short!".into()));
        }
        if !self.listed(alias)?.is_empty() {
            return Err(GunError::Crypto("User already created!".into()));
        }
        let salt = sea::random_text(64);
        let proof = sea::work(&json!(password), &salt);
        let pair = sea::pair();
        let keys = json!({"priv": pair.priv_key, "epriv": pair.epriv});
        let ek = sea::encrypt(&keys, &proof)?;
        let auth =
            Js::object([("ek", Js::parse_lenient(&ek)), ("s", Js::String(salt))]).stringify();
        let info = UserInfo {
            pub_key: pair.pub_key.clone(),
            epub: pair.epub.clone(),
            alias: alias.to_owned(),
        };
        self.log_in(pair.clone(), info);
        let soul = format!("~{}", pair.pub_key);
        self.gun
            .get(soul.clone())
            .put(json!({"pub": pair.pub_key, "alias": alias, "epub": pair.epub, "auth": auth}))
            .wait()?;
        self.gun
            .get(format!("~@{alias}"))
            .put(json!({ soul.clone(): {"#": soul} }))
            .wait()?;
        Ok(pair.pub_key)
    }

    fn auth_now(&self, alias: &str, password: &str) -> GunResult<UserInfo> {
        let mut souls = Vec::new();
        for _ in 0..LOOKUPS {
            souls = self.listed(alias)?;
            if !souls.is_empty() {
                break;
            }
        }
        for soul in souls {
            let Some(Value::Object(node)) = self.gun.get(soul).once_value().wait()? else {
                continue;
            };
            if let Some(pair) = unlock(&node, password) {
                let info = UserInfo {
                    pub_key: pair.pub_key.clone(),
                    epub: pair.epub.clone(),
                    alias: alias.to_owned(),
                };
                self.log_in(pair, info.clone());
                return Ok(info);
            }
        }
        Err(GunError::Crypto("Wrong user or password.".into()))
    }

    /// The users' souls listed under `~@alias`.
    fn listed(&self, alias: &str) -> GunResult<Vec<String>> {
        let node = self.gun.get(format!("~@{alias}")).once_value().wait()?;
        let Some(Value::Object(node)) = node else {
            return Ok(Vec::new());
        };
        Ok(node
            .iter()
            .filter(|(k, _)| k.as_str() != "_")
            .filter_map(|(_, v)| v.get("#").and_then(Value::as_str).map(str::to_owned))
            .collect())
    }

    fn log_in(&self, pair: Pair, info: UserInfo) {
        if self.gun.remembers_sessions()
            && let Some(path) = self.session_file()
            && let Err(e) = save_session(&path, &pair, &info.alias)
        {
            tracing::warn!(path = %path.display(), error = %e, "cannot remember the session");
        }
        self.gun.set_user(Some((pair, info)));
    }

    fn session_file(&self) -> Option<PathBuf> {
        let (_, dir) = self.gun.options().disk_store()?;
        let mut name = dir.file_name()?.to_os_string();
        name.push(".sea-session");
        Some(dir.with_file_name(name))
    }
}

fn not_logged_in() -> GunError {
    GunError::Crypto("no user is logged in: user().auth(…) or create(…) first".into())
}

/// The pair a user node's `auth` gives with `password`, if it does.
fn unlock(node: &serde_json::Map<String, Value>, password: &str) -> Option<Pair> {
    let text = |k: &str| node.get(k).and_then(Value::as_str);
    let auth = match node.get("auth")? {
        Value::String(s) => serde_json::from_str::<Value>(s).ok()?,
        other => other.clone(),
    };
    let salt = auth.get("s")?.as_str()?;
    let ek = match auth.get("ek")? {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let proof = sea::work(&json!(password), salt);
    let keys = sea::decrypt(&ek, &proof).ok()?;
    let pair = Pair {
        pub_key: text("pub")?.to_owned(),
        priv_key: keys.get("priv")?.as_str()?.to_owned(),
        epub: text("epub")?.to_owned(),
        epriv: keys.get("epriv")?.as_str()?.to_owned(),
    };
    pair.is_consistent().then_some(pair)
}

/// Writes the session so that only its owner can read it.
fn save_session(path: &std::path::Path, pair: &Pair, alias: &str) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut open = std::fs::OpenOptions::new();
    open.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut open, 0o600);
    let mut f = open.open(path)?;
    f.write_all(serde_json::to_string(&(pair, alias))?.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::GunOptions;

    fn instance(dir: &std::path::Path) -> Gun {
        let opts = GunOptions {
            localStorage: true,
            storage_path: Some(dir.join("data").display().to_string()),
            once_wait: std::time::Duration::from_millis(50),
            ..GunOptions::default()
        };
        Gun::start(opts, None, None).expect("start")
    }

    #[test]
    fn a_remembered_session_survives_a_restart_and_leave_forgets_it() {
        let dir = tempfile::tempdir().expect("dir");
        let gun = instance(dir.path());
        assert_eq!(
            gun.user().recall().expect("recall"),
            None,
            "nothing remembered yet"
        );
        let pub_key = gun
            .user()
            .create("alice", "a good password")
            .wait()
            .expect("create");
        gun.user()
            .get("note")
            .expect("user")
            .put(json!("mine"))
            .wait()
            .expect("put");
        let file = gun.user().session_file().expect("a session file");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&file)
                .expect("session")
                .permissions()
                .mode();
            assert_eq!(mode & 0o077, 0, "only its owner may read the session");
        }
        gun.shutdown_blocking().expect("shutdown");
        let gun = instance(dir.path());
        let info = gun.user().recall().expect("recall").expect("the session");
        assert_eq!(
            (info.pub_key.as_str(), info.alias.as_str()),
            (pub_key.as_str(), "alice")
        );
        let note = gun
            .user()
            .get("note")
            .expect("user")
            .value()
            .wait()
            .expect("read");
        assert_eq!(note, json!("mine"));
        gun.user().leave();
        assert!(!file.exists());
        assert!(gun.user().get("note").is_err(), "no user after leave");
        gun.shutdown_blocking().expect("shutdown");
    }

    #[test]
    fn create_and_auth_fail_clearly() {
        let dir = tempfile::tempdir().expect("dir");
        let gun = instance(dir.path());
        let short = gun.user().create("bob", "short").wait();
        assert_eq!(short, Err(GunError::Crypto("Password too short!".into())));
        gun.user()
            .create("bob", "long enough")
            .wait()
            .expect("create");
        let again = gun.user().create("bob", "long enough").wait();
        assert_eq!(again, Err(GunError::Crypto("User already created!".into())));
        gun.user().leave();
        let wrong = gun.user().auth("bob", "not the one").wait();
        assert_eq!(
            wrong,
            Err(GunError::Crypto("Wrong user or password.".into()))
        );
        let info = gun.user().auth("bob", "long enough").wait().expect("auth");
        assert_eq!(info.alias, "bob");
        gun.shutdown_blocking().expect("shutdown");
    }
}
