//! Brute-force throttling of token guesses: after too many failed
//! authentications from one client, or from all clients together, within
//! a window, every further attempt is refused (429) until the window ends,
//! before any token is checked. A guess then costs a window, not an
//! argon2 verification.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failed attempts one client may make in a window.
pub(crate) const PER_CLIENT: u32 = 10;
/// Failed attempts all clients together may make in a window: a spread
/// attack from many addresses is slowed as well.
pub(crate) const ALL_CLIENTS: u32 = 200;
pub(crate) const WINDOW: Duration = Duration::from_secs(60);
/// Clients remembered before old windows are forgotten.
const REMEMBERED: usize = 10_000;

#[derive(Clone, Copy)]
struct Window {
    start: Instant,
    failures: u32,
}

impl Window {
    fn fresh(now: Instant) -> Window {
        Window {
            start: now,
            failures: 0,
        }
    }

    fn current(&mut self, now: Instant) -> &mut Window {
        if now.duration_since(self.start) >= WINDOW {
            *self = Window::fresh(now);
        }
        self
    }

    fn wait(&self, now: Instant, limit: u32) -> Option<Duration> {
        (self.failures >= limit).then(|| WINDOW.saturating_sub(now.duration_since(self.start)))
    }
}

pub(crate) struct Throttle {
    state: Mutex<(HashMap<IpAddr, Window>, Window)>,
}

impl Throttle {
    pub(crate) fn new() -> Throttle {
        Throttle {
            state: Mutex::new((HashMap::new(), Window::fresh(Instant::now()))),
        }
    }

    /// How long `client` must wait before trying again, if it must.
    pub(crate) fn blocked(&self, client: Option<IpAddr>) -> Option<Duration> {
        self.blocked_at(client, Instant::now())
    }

    /// Counts a failed attempt.
    pub(crate) fn failed(&self, client: Option<IpAddr>) {
        self.failed_at(client, Instant::now())
    }

    fn blocked_at(&self, client: Option<IpAddr>, now: Instant) -> Option<Duration> {
        let mut guard = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let (clients, all) = &mut *guard;
        let mine = client
            .and_then(|c| clients.get_mut(&c))
            .and_then(|w| w.current(now).wait(now, PER_CLIENT));
        mine.or_else(|| all.current(now).wait(now, ALL_CLIENTS))
    }

    fn failed_at(&self, client: Option<IpAddr>, now: Instant) {
        let mut guard = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let (clients, all) = &mut *guard;
        all.current(now).failures += 1;
        let Some(c) = client else { return };
        if clients.len() >= REMEMBERED {
            clients.retain(|_, w| now.duration_since(w.start) < WINDOW);
        }
        clients
            .entry(c)
            .or_insert_with(|| Window::fresh(now))
            .current(now)
            .failures += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(last: u8) -> Option<IpAddr> {
        Some(IpAddr::from([10, 0, 0, last]))
    }

    #[test]
    fn a_client_is_held_after_its_failures_until_the_window_ends() {
        let t = Throttle::new();
        let t0 = Instant::now();
        for _ in 0..PER_CLIENT {
            assert!(t.blocked_at(ip(1), t0).is_none());
            t.failed_at(ip(1), t0);
        }
        let wait = t.blocked_at(ip(1), t0 + Duration::from_secs(10)).unwrap();
        assert_eq!(wait, Duration::from_secs(50));
        // Another client is not held for it.
        assert!(t.blocked_at(ip(2), t0).is_none());
        // A new window starts afresh.
        assert!(t.blocked_at(ip(1), t0 + WINDOW).is_none());
    }

    #[test]
    fn failures_spread_over_many_clients_hold_everyone() {
        let t = Throttle::new();
        let t0 = Instant::now();
        for i in 0..ALL_CLIENTS {
            t.failed_at(ip((i % 250) as u8), t0);
        }
        assert!(t.blocked_at(ip(251), t0).is_some());
        assert!(t.blocked_at(None, t0).is_some());
    }
}
