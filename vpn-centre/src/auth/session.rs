//! Server-side sessions: a random 256-bit id per login, an idle and an absolute expiry.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::random_hex;

/// Name of the session cookie.
pub const COOKIE_NAME: &str = "sf2c_session";

/// How long sessions live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionConfig {
    /// A session unused this long ends.
    pub idle: Duration,
    /// A session ends this long after login, however busy.
    pub absolute: Duration,
    /// False only under the explicit plain-HTTP development flag.
    pub secure_cookie: bool,
}

impl Default for SessionConfig {
    fn default() -> Self {
        Self {
            idle: Duration::from_secs(30 * 60),
            absolute: Duration::from_secs(12 * 60 * 60),
            secure_cookie: true,
        }
    }
}

/// What a valid session id gives access to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub operator: String,
    /// The token every state-changing request of this session must carry.
    pub csrf: String,
}

struct Entry {
    session: Session,
    created: Instant,
    last_used: Instant,
}

/// All live sessions, in memory: a restart logs everybody out, which is the safe direction.
pub struct SessionStore {
    config: SessionConfig,
    sessions: Mutex<HashMap<String, Entry>>,
}

impl SessionStore {
    pub fn new(config: SessionConfig) -> Self {
        Self {
            config,
            sessions: Mutex::new(HashMap::new()),
        }
    }

    pub fn config(&self) -> SessionConfig {
        self.config
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        self.sessions.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn expired(&self, e: &Entry, now: Instant) -> bool {
        now.duration_since(e.last_used) >= self.config.idle
            || now.duration_since(e.created) >= self.config.absolute
    }

    /// Starts a session for `operator`; returns its id (for the cookie) and the session.
    pub fn create(&self, operator: &str) -> Result<(String, Session), getrandom::Error> {
        let id = random_hex(32)?;
        let session = Session {
            operator: operator.to_string(),
            csrf: random_hex(32)?,
        };
        let now = Instant::now();
        let mut map = self.lock();
        map.retain(|_, e| !self.expired(e, now));
        map.insert(
            id.clone(),
            Entry {
                session: session.clone(),
                created: now,
                last_used: now,
            },
        );
        Ok((id, session))
    }

    /// The session behind `id` if it is live; using it resets the idle clock.
    pub fn get(&self, id: &str) -> Option<Session> {
        self.get_at(id, Instant::now())
    }

    fn get_at(&self, id: &str, now: Instant) -> Option<Session> {
        let mut map = self.lock();
        let live = map.get(id).is_some_and(|e| !self.expired(e, now));
        if !live {
            map.remove(id);
            return None;
        }
        let entry = map.get_mut(id)?;
        entry.last_used = now;
        Some(entry.session.clone())
    }

    /// Ends a session (logout).
    pub fn remove(&self, id: &str) {
        self.lock().remove(id);
    }

    /// `Set-Cookie` value that hands `id` to the browser.
    pub fn cookie(&self, id: &str) -> String {
        let secure = if self.config.secure_cookie {
            "; Secure"
        } else {
            ""
        };
        format!(
            "{COOKIE_NAME}={id}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{secure}",
            self.config.absolute.as_secs()
        )
    }

    /// `Set-Cookie` value that makes the browser forget the session.
    pub fn clearing_cookie(&self) -> String {
        let secure = if self.config.secure_cookie {
            "; Secure"
        } else {
            ""
        };
        format!("{COOKIE_NAME}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{secure}")
    }
}

/// The session id in a `Cookie` header, if present.
pub fn session_id_from_cookies(header: &str) -> Option<&str> {
    header
        .split(';')
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE_NAME)
        .map(|(_, value)| value)
        .filter(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store(idle: u64, absolute: u64) -> SessionStore {
        SessionStore::new(SessionConfig {
            idle: Duration::from_secs(idle),
            absolute: Duration::from_secs(absolute),
            secure_cookie: true,
        })
    }

    #[test]
    fn ids_and_tokens_are_random_256_bit() {
        let s = store(60, 600);
        let (a, sa) = s.create("alice").unwrap();
        let (b, sb) = s.create("alice").unwrap();
        assert_eq!(a.len(), 64);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
        assert_ne!(sa.csrf, sb.csrf);
        assert_ne!(sa.csrf, a);
        assert_eq!(s.get(&a).unwrap().operator, "alice");
        assert!(s.get("0".repeat(64).as_str()).is_none());
    }

    #[test]
    fn sessions_expire_when_idle_or_too_old_and_on_logout() {
        let s = store(60, 600);
        let (id, _) = s.create("alice").unwrap();
        let t0 = Instant::now();
        assert!(s.get_at(&id, t0 + Duration::from_secs(50)).is_some());
        // Use at 50 s restarted the idle clock.
        assert!(s.get_at(&id, t0 + Duration::from_secs(100)).is_some());
        assert!(s.get_at(&id, t0 + Duration::from_secs(200)).is_none());
        assert!(s.get(&id).is_none(), "an expired session must stay gone");

        let (id, _) = s.create("bob").unwrap();
        let t0 = Instant::now();
        for step in 1..=12 {
            let alive = s.get_at(&id, t0 + Duration::from_secs(step * 50)).is_some();
            assert_eq!(alive, step * 50 < 600, "at {} s", step * 50);
        }

        let (id, _) = s.create("carol").unwrap();
        s.remove(&id);
        assert!(s.get(&id).is_none());
    }

    #[test]
    fn cookie_flags_and_parsing() {
        let s = store(60, 600);
        let c = s.cookie("abc");
        for flag in ["HttpOnly", "SameSite=Strict", "Secure", "Path=/"] {
            assert!(c.contains(flag), "{c}");
        }
        let dev = SessionStore::new(SessionConfig {
            secure_cookie: false,
            ..SessionConfig::default()
        });
        assert!(!dev.cookie("abc").contains("Secure"));
        assert_eq!(
            session_id_from_cookies("a=1; sf2c_session=abc; b=2"),
            Some("abc")
        );
        assert_eq!(session_id_from_cookies("sf2c_sessionx=abc"), None);
        assert_eq!(session_id_from_cookies("sf2c_session="), None);
    }
}
