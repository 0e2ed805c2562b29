//! The person-level simulation: each simulated person lives a life of
//! trips, migrations, permits and returns, drawn from a random stream of
//! their own (so a person's life does not depend on anyone else's, and the
//! world can be generated in parallel and still be byte-identical).

use rand::Rng;
use rand::seq::IndexedRandom;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Exp, LogNormal};

use crate::calendar::{Day, MINUTES_PER_DAY, TRAVEL_SEASON, month0};
use crate::geo::{self, Cc, GTM, HND, MEX, Mix, Mode, NIC, REPORTING, SLV, USA};
use crate::names::{self, Name};

/// The time span of a world, in days.
#[derive(Debug, Clone, Copy)]
pub struct Span {
    /// One year before the export period: lives start here, so the first
    /// exported month is not an artificial "everyone at home".
    pub warmup: Day,
    /// First exported day.
    pub start: Day,
    /// Last exported day.
    pub end: Day,
    /// Lives go on to here (beyond `end` by more than the 16-month window),
    /// so every exported crossing has a final 12/16-month outcome in truth.
    pub horizon: Day,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profile {
    ResidentTraveller,
    Visitor,
    Diaspora,
    SeasonalWorker,
    Immigrant,
    Emigrant,
    Overstayer,
    Transit,
}

impl Profile {
    pub fn name(self) -> &'static str {
        match self {
            Profile::ResidentTraveller => "resident_traveller",
            Profile::Visitor => "visitor",
            Profile::Diaspora => "diaspora_visitor",
            Profile::SeasonalWorker => "seasonal_worker",
            Profile::Immigrant => "immigrant",
            Profile::Emigrant => "emigrant",
            Profile::Overstayer => "overstayer",
            Profile::Transit => "transit_migrant",
        }
    }
}

const PROFILES: &[(Profile, u32)] = &[
    (Profile::ResidentTraveller, 440),
    (Profile::Visitor, 180),
    (Profile::Diaspora, 70),
    (Profile::SeasonalWorker, 70),
    (Profile::Immigrant, 60),
    (Profile::Emigrant, 100),
    (Profile::Overstayer, 40),
    (Profile::Transit, 40),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DocType {
    Passport,
    NationalId,
}

#[derive(Debug, Clone)]
pub struct Person {
    pub id: u64,
    pub profile: Profile,
    pub citizenship: Cc,
    /// Country of usual residence when the simulation starts.
    pub home: Cc,
    pub female: bool,
    pub birth: Day,
    pub doc_type: DocType,
    pub doc_number: String,
    pub name: Name,
}

/// One true movement from one country to another.
#[derive(Debug, Clone, Copy)]
pub struct Move {
    /// Minutes since 1970-01-01 when the person left `from`.
    pub t_exit: i64,
    /// Minutes from leaving `from` to entering `to`.
    pub transit: u16,
    pub from: Cc,
    pub to: Cc,
    pub mode: Mode,
    /// Crossed away from any border post: recorded by nobody.
    pub irregular: bool,
    pub purpose: &'static str,
    pub visa: &'static str,
    pub permitted_days: u16,
    /// Indices into [`geo::POSTS`] for the exit and entry posts, where a
    /// reporting country records them.
    pub post_from: Option<u16>,
    pub post_to: Option<u16>,
}

impl Move {
    pub fn t_entry(&self) -> i64 {
        self.t_exit + self.transit as i64
    }
}

#[derive(Debug, Clone)]
pub struct Permit {
    pub country: Cc,
    pub kind: &'static str,
    pub decision: &'static str,
    pub issue: Day,
    pub valid_until: Option<Day>,
    pub number: u64,
}

#[derive(Debug, Clone)]
pub struct ReturnEvent {
    pub day: Day,
    pub kind: &'static str,
    pub host: Cc,
    pub destination: Cc,
    pub mode: Mode,
    pub reintegration: bool,
    pub unaccompanied_minor: bool,
}

#[derive(Debug, Clone)]
pub struct Life {
    pub person: Person,
    pub moves: Vec<Move>,
    pub permits: Vec<Permit>,
    pub returns: Vec<ReturnEvent>,
}

pub fn choose(rng: &mut impl Rng, mix: Mix) -> Cc {
    let total: u32 = mix.iter().map(|(_, w)| w).sum();
    let mut x = rng.random_range(0..total);
    for (c, w) in mix {
        if x < *w {
            return geo::cc(c);
        }
        x -= w;
    }
    geo::cc(mix[0].0)
}

fn choose_profile(rng: &mut impl Rng) -> Profile {
    let total: u32 = PROFILES.iter().map(|(_, w)| w).sum();
    let mut x = rng.random_range(0..total);
    for (p, w) in PROFILES {
        if x < *w {
            return *p;
        }
        x -= w;
    }
    Profile::ResidentTraveller
}

fn reporting(rng: &mut impl Rng) -> Cc {
    // Weighted by population: Guatemala, Honduras, El Salvador.
    match rng.random_range(0..100) {
        0..45 => GTM,
        45..75 => HND,
        _ => SLV,
    }
}

fn other_reporting(rng: &mut impl Rng, not: Cc) -> Cc {
    let others: Vec<Cc> = REPORTING.iter().copied().filter(|&c| c != not).collect();
    *others.choose(rng).unwrap_or(&GTM)
}

/// Land connections of the region, for routing trips by road.
const LAND: &[(Cc, Cc)] = &[
    (GTM, MEX),
    (GTM, 8), // BLZ
    (GTM, SLV),
    (GTM, HND),
    (SLV, HND),
    (HND, NIC),
    (NIC, 6), // CRI
    (6, 7),   // CRI-PAN
    (MEX, USA),
    (7, 10), // PAN-COL (the Darién)
];

/// The countries passed through on the way by road from `a` to `b`
/// (including `b`), or `None` if there is no road.
pub fn land_route(a: Cc, b: Cc) -> Option<Vec<Cc>> {
    // Breadth-first search on a graph of ten edges.
    let mut prev: [Option<Cc>; 64] = [None; 64];
    let mut seen = [false; 64];
    let mut queue = std::collections::VecDeque::from([a]);
    seen[a as usize] = true;
    while let Some(c) = queue.pop_front() {
        if c == b {
            let mut path = vec![b];
            let mut cur = b;
            while let Some(p) = prev[cur as usize] {
                if p == a {
                    break;
                }
                path.push(p);
                cur = p;
            }
            path.reverse();
            return Some(path);
        }
        for &(x, y) in LAND {
            let next = if x == c {
                y
            } else if y == c {
                x
            } else {
                continue;
            };
            if !seen[next as usize] {
                seen[next as usize] = true;
                prev[next as usize] = Some(c);
                queue.push_back(next);
            }
        }
    }
    None
}

/// Builds one life, keeping the person's location and clock consistent:
/// moves are strictly ordered in time and each starts where the last ended.
pub struct LifeBuilder<'a> {
    pub rng: &'a mut ChaCha8Rng,
    pub span: Span,
    pub person: Person,
    pub loc: Cc,
    /// Minutes: the earliest the next move can start.
    pub clock: i64,
    pub moves: Vec<Move>,
    pub permits: Vec<Permit>,
    pub returns: Vec<ReturnEvent>,
    /// Share of faults the export is to carry; 0 means a clean world in
    /// which every crossing is recorded.
    pub clean: bool,
}

/// What kind of traveller a move is for: decides purpose, visa and how
/// likely an unrecorded crossing is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Leg {
    Trip,
    Return,
    Work,
    Settle,
    Irregular,
}

impl<'a> LifeBuilder<'a> {
    pub fn now_day(&self) -> Day {
        self.clock.div_euclid(MINUTES_PER_DAY) as Day
    }

    fn time_of_day(&mut self, mode: Mode) -> i64 {
        match mode {
            Mode::Air => self.rng.random_range(6 * 60..23 * 60 + 30),
            Mode::Land => self.rng.random_range(6 * 60..21 * 60),
            Mode::Sea => self.rng.random_range(7 * 60..18 * 60),
        }
    }

    /// Travels to `to`, leaving on `day` (or as soon after as the clock
    /// allows), by road through the countries between if `mode` is land and
    /// a road exists, otherwise by air. `stopover` is the number of days
    /// spent in each country passed through.
    pub fn travel(&mut self, to: Cc, day: Day, mode: Mode, leg: Leg, stopover: (i32, i32)) {
        if to == self.loc || day > self.span.horizon {
            return;
        }
        let route = match mode {
            Mode::Land => land_route(self.loc, to),
            _ => None,
        };
        match route {
            Some(route) => {
                let mut d = day;
                let n = route.len();
                for (i, hop) in route.into_iter().enumerate() {
                    self.hop(hop, d, Mode::Land, leg);
                    if i + 1 < n {
                        d = self.now_day() + self.rng.random_range(stopover.0..=stopover.1);
                    }
                }
            }
            None => self.hop(to, day, Mode::Air, leg),
        }
    }

    fn hop(&mut self, to: Cc, day: Day, mode: Mode, leg: Leg) {
        let from = self.loc;
        let mut t = day as i64 * MINUTES_PER_DAY + self.time_of_day(mode);
        if t <= self.clock {
            t = self.clock + self.rng.random_range(30..240);
        }
        let transit: u16 = match mode {
            Mode::Land => self.rng.random_range(5..45),
            Mode::Air => {
                if geo::is_reporting(from) && geo::is_reporting(to) {
                    self.rng.random_range(45..80)
                } else {
                    self.rng.random_range(120..330)
                }
            }
            Mode::Sea => self.rng.random_range(240..900),
        };
        let post_from = self.pick_post(from, to, mode, None);
        let post_to = self.pick_post(to, from, mode, post_from);
        let irregular = mode == Mode::Land && !self.clean && {
            let p = match leg {
                Leg::Irregular => 0.6,
                Leg::Settle if to == MEX || to == USA || (to == GTM && from != MEX) => 0.3,
                Leg::Trip | Leg::Work => 0.005,
                _ => 0.0,
            };
            self.rng.random_bool(p)
        };
        let citizen_of_dest = self.person.citizenship == to;
        let (purpose, visa, permitted) = if citizen_of_dest || self.resident_of(to, t) {
            (
                "residence",
                if citizen_of_dest { "" } else { "resident" },
                0,
            )
        } else {
            let visa = if geo::needs_visa(self.person.citizenship) {
                match leg {
                    Leg::Work => "work",
                    _ => "tourist",
                }
            } else {
                match leg {
                    Leg::Work => "seasonal_work",
                    _ => "exempt",
                }
            };
            let purpose = match leg {
                Leg::Trip => *[
                    "tourism", "tourism", "family", "business", "family", "health",
                ]
                .choose(self.rng)
                .unwrap_or(&"tourism"),
                Leg::Work => "seasonal_work",
                Leg::Settle => *["work", "family", "residence", "study"]
                    .choose(self.rng)
                    .unwrap_or(&"work"),
                Leg::Irregular => *["transit", "tourism"]
                    .choose(self.rng)
                    .unwrap_or(&"transit"),
                Leg::Return => "residence",
            };
            let permitted = match (visa, leg) {
                ("seasonal_work", _) | ("work", _) => 180,
                ("tourist", _) => *[30u16, 60, 90].choose(self.rng).unwrap_or(&90),
                _ => 90,
            };
            (purpose, visa, permitted)
        };
        self.moves.push(Move {
            t_exit: t,
            transit,
            from,
            to,
            mode,
            irregular,
            purpose,
            visa,
            permitted_days: permitted,
            post_from,
            post_to,
        });
        self.loc = to;
        self.clock = t + transit as i64 + 1;
    }

    fn pick_post(&mut self, at: Cc, other: Cc, mode: Mode, facing: Option<u16>) -> Option<u16> {
        if !geo::is_reporting(at) {
            return None;
        }
        if let Some(f) = facing
            && let Some(p) = geo::facing_post(f as usize)
        {
            return Some(p as u16);
        }
        let posts: Vec<usize> = match mode {
            Mode::Land => geo::land_posts(at, other).collect(),
            Mode::Air => geo::air_posts(at).collect(),
            Mode::Sea => geo::POSTS
                .iter()
                .enumerate()
                .filter(|(_, p)| p.country == at && p.mode == Mode::Sea)
                .map(|(i, _)| i)
                .collect(),
        };
        // Traffic concentrates on the first-listed (main) post.
        if posts.is_empty() {
            return None;
        }
        let i = if self.rng.random_bool(0.55) {
            0
        } else {
            self.rng.random_range(0..posts.len())
        };
        Some(posts[i] as u16)
    }

    /// Holds a valid permit of `country` at minute `t`.
    pub fn resident_of(&self, country: Cc, t: i64) -> bool {
        let day = t.div_euclid(MINUTES_PER_DAY) as Day;
        self.permits.iter().any(|p| {
            p.country == country && p.issue <= day && p.valid_until.is_none_or(|u| u >= day)
        })
    }

    pub fn permit(
        &mut self,
        country: Cc,
        kind: &'static str,
        decision: &'static str,
        issue: Day,
        years: Option<i32>,
    ) {
        let number = self.rng.random_range(1_000_000..9_999_999u64);
        self.permits.push(Permit {
            country,
            kind,
            decision,
            issue,
            valid_until: years.map(|y| issue + 365 * y - 1),
            number,
        });
    }

    pub fn returned(
        &mut self,
        kind: &'static str,
        host: Cc,
        destination: Cc,
        mode: Mode,
        day: Day,
    ) {
        let age = (day - self.person.birth) / 365;
        let reintegration =
            kind == "assisted_voluntary" || (kind == "forced" && self.rng.random_bool(0.3));
        let unaccompanied_minor = age < 18 && self.rng.random_bool(0.6);
        self.returns.push(ReturnEvent {
            day,
            kind,
            host,
            destination,
            mode,
            reintegration,
            unaccompanied_minor,
        });
    }

    /// A waiting time in days, seasonally thinned: trips cluster in holiday months.
    pub fn next_trip_day(&mut self, from: Day, per_year: f64) -> Day {
        let exp =
            Exp::new(per_year / 365.0).unwrap_or_else(|_| Exp::new(1.0 / 365.0).expect("rate > 0"));
        let mut day = from;
        loop {
            day += exp.sample(self.rng).ceil() as Day;
            let w = TRAVEL_SEASON[month0(day)] / 1.6;
            if day > self.span.horizon || self.rng.random_bool(w.clamp(0.0, 1.0)) {
                return day;
            }
        }
    }

    pub fn lognormal_days(&mut self, median: f64, sigma: f64) -> i32 {
        LogNormal::new(median.ln(), sigma)
            .map(|d| d.sample(self.rng).round().max(0.0) as i32)
            .unwrap_or(median as i32)
    }

    fn finish(self) -> Life {
        Life {
            person: self.person,
            moves: self.moves,
            permits: self.permits,
            returns: self.returns,
        }
    }
}

fn document(rng: &mut impl Rng, citizenship: Cc, doc_type: DocType) -> String {
    let c = geo::alpha3(citizenship);
    match (doc_type, c) {
        (DocType::NationalId, "GTM") => format!(
            "{:04} {:05} {:04}",
            rng.random_range(1000..9999),
            rng.random_range(10000..99999),
            rng.random_range(101..2299)
        ),
        (DocType::NationalId, "SLV") => format!(
            "{:08}-{}",
            rng.random_range(0..99_999_999),
            rng.random_range(0..10)
        ),
        (DocType::NationalId, "HND") => format!(
            "{:04}-{:04}-{:05}",
            rng.random_range(101..1899),
            rng.random_range(1940..2010),
            rng.random_range(0..99999)
        ),
        (DocType::NationalId, _) => format!("{}{:09}", &c[..2], rng.random_range(0..999_999_999)),
        (DocType::Passport, _) => {
            let letter = (b'A' + rng.random_range(0..26u8)) as char;
            format!("{}{letter}{:07}", &c[..1], rng.random_range(0..9_999_999))
        }
    }
}

fn draw_person(rng: &mut ChaCha8Rng, id: u64, span: Span, profile: Profile) -> Person {
    let (citizenship, home) = match profile {
        Profile::ResidentTraveller => {
            let r = reporting(rng);
            // Some residents are foreign-born: Nicaraguans in Honduras and
            // Guatemala, Salvadorans in Guatemala…
            let cit = if rng.random_bool(0.05) {
                choose(rng, geo::IMMIGRANT_MIX)
            } else {
                r
            };
            (cit, r)
        }
        Profile::Visitor => {
            let cit = choose(rng, geo::VISITOR_MIX);
            (cit, cit)
        }
        Profile::Diaspora => (reporting(rng), USA),
        Profile::SeasonalWorker => {
            if rng.random_bool(0.5) {
                let cit = *[HND, SLV, NIC, NIC].choose(rng).unwrap_or(&NIC);
                (cit, cit)
            } else {
                (GTM, GTM)
            }
        }
        Profile::Immigrant => {
            let cit = choose(rng, geo::IMMIGRANT_MIX);
            (cit, cit)
        }
        Profile::Emigrant => {
            let r = reporting(rng);
            (r, r)
        }
        Profile::Overstayer => {
            let cit = choose(rng, geo::OVERSTAYER_MIX);
            (cit, cit)
        }
        Profile::Transit => {
            let cit = choose(rng, geo::TRANSIT_MIX);
            (cit, cit)
        }
    };
    let (p_female, age_lo, age_hi, p_child) = match profile {
        Profile::SeasonalWorker => (0.2, 18, 50, 0.02),
        Profile::Emigrant => (0.38, 16, 42, 0.1),
        Profile::Overstayer | Profile::Transit => (0.35, 18, 45, 0.1),
        Profile::Immigrant => (0.45, 20, 55, 0.08),
        Profile::Diaspora => (0.45, 22, 65, 0.08),
        Profile::Visitor => (0.5, 20, 75, 0.08),
        Profile::ResidentTraveller => (0.48, 18, 75, 0.12),
    };
    let female = rng.random_bool(p_female);
    let age = if rng.random_bool(p_child) {
        rng.random_range(0..age_lo)
    } else {
        rng.random_range(age_lo..=age_hi)
    };
    let birth = span.start - age * 365 - rng.random_range(0..365);
    let land_ca4 = geo::is_ca4(citizenship)
        && matches!(
            profile,
            Profile::ResidentTraveller | Profile::SeasonalWorker
        );
    let doc_type = if land_ca4 && age >= 18 && rng.random_bool(0.6) {
        DocType::NationalId
    } else {
        DocType::Passport
    };
    let doc_number = document(rng, citizenship, doc_type);
    let name = names::draw(
        rng,
        female,
        geo::hispanic(citizenship),
        geo::alpha3(citizenship),
    );
    Person {
        id,
        profile,
        citizenship,
        home,
        female,
        birth,
        doc_type,
        doc_number,
        name,
    }
}

/// Simulates the life of person `id` of a world with this `seed`.
pub fn life(seed: u64, id: u64, span: Span, clean: bool) -> Life {
    use rand::SeedableRng;
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ id.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let profile = choose_profile(&mut rng);
    let person = draw_person(&mut rng, id, span, profile);
    let home = person.home;
    let mut b = LifeBuilder {
        rng: &mut rng,
        span,
        person,
        loc: home,
        clock: span.warmup as i64 * MINUTES_PER_DAY,
        moves: Vec::new(),
        permits: Vec::new(),
        returns: Vec::new(),
        clean,
    };
    if b.person.citizenship != home && geo::is_reporting(home) {
        // A foreign-born resident has held a permanent permit for years.
        let issue = span.warmup - b.rng.random_range(200..4000);
        b.permit(home, "permanent", "first_permit", issue, None);
    }
    match profile {
        Profile::ResidentTraveller => resident_traveller(&mut b),
        Profile::Visitor => visitor(&mut b),
        Profile::Diaspora => diaspora(&mut b),
        Profile::SeasonalWorker => seasonal_worker(&mut b),
        Profile::Immigrant => immigrant(&mut b),
        Profile::Emigrant => emigrant(&mut b),
        Profile::Overstayer => overstayer(&mut b),
        Profile::Transit => transit(&mut b),
    }
    b.finish()
}

fn trip_mode(b: &mut LifeBuilder, to: Cc) -> Mode {
    let road = land_route(b.loc, to).map(|r| r.len()).unwrap_or(99);
    match road {
        1 => {
            if b.rng.random_bool(0.85) {
                Mode::Land
            } else {
                Mode::Air
            }
        }
        2 if b.rng.random_bool(0.4) => Mode::Land,
        _ => Mode::Air,
    }
}

/// A round trip from home: out on `day`, back after `len` days.
fn round_trip(b: &mut LifeBuilder, home: Cc, to: Cc, day: Day, len: i32, leg: Leg) {
    let mode = trip_mode(b, to);
    b.travel(to, day, mode, leg, (0, 1));
    let back = b.now_day() + len;
    let mode = trip_mode(b, home);
    b.travel(home, back, mode, Leg::Return, (0, 1));
}

fn resident_traveller(b: &mut LifeBuilder) {
    let home = b.person.home;
    let rate = LogNormal::new(0.0f64, 0.9)
        .map(|d| d.sample(b.rng))
        .unwrap_or(1.0)
        * 0.9;
    let mut day = b.span.warmup;
    loop {
        day = b.next_trip_day(day, rate);
        if day > b.span.horizon {
            break;
        }
        let to = if b.rng.random_bool(0.4) {
            other_reporting(b.rng, home)
        } else {
            choose(b.rng, geo::TRIP_MIX)
        };
        let len = if b.rng.random_bool(0.04) {
            // A spell of temporary work abroad: a "mover", not a migrant,
            // unless it lasts a year.
            b.rng.random_range(60..420)
        } else if to == USA || to == geo::cc("ESP") {
            b.lognormal_days(14.0, 0.5)
        } else {
            b.lognormal_days(4.0, 0.7)
        };
        round_trip(b, home, to, day, len, Leg::Trip);
        day = b.now_day();
    }
}

fn visitor(b: &mut LifeBuilder) {
    let home = b.person.home;
    let rate = 0.3 + b.rng.random::<f64>() * 1.2;
    let mut day = b.span.warmup;
    loop {
        day = b.next_trip_day(day, rate);
        if day > b.span.horizon {
            break;
        }
        let first = if home == GTM || home == HND || home == SLV {
            other_reporting(b.rng, home)
        } else {
            reporting(b.rng)
        };
        let mode = trip_mode(b, first);
        b.travel(first, day, mode, Leg::Trip, (0, 1));
        let len = b.lognormal_days(6.0, 0.8);
        let next_day = b.now_day() + len;
        if b.rng.random_bool(0.2) {
            // A tour of two countries of the region.
            let second = other_reporting(b.rng, first);
            if second != home {
                b.travel(second, next_day, Mode::Land, Leg::Trip, (0, 1));
                let len = b.lognormal_days(4.0, 0.6);
                let d = b.now_day() + len;
                let mode = trip_mode(b, home);
                b.travel(home, d, mode, Leg::Return, (0, 1));
                day = b.now_day();
                continue;
            }
        }
        let mode = trip_mode(b, home);
        b.travel(home, next_day, mode, Leg::Return, (0, 1));
        day = b.now_day();
    }
}

fn diaspora(b: &mut LifeBuilder) {
    let origin = b.person.citizenship;
    let first_year = crate::calendar::date_of(b.span.warmup)
        .format("%Y")
        .to_string()
        .parse::<i32>()
        .unwrap_or(2021);
    let last_year = first_year + 7;
    for year in first_year..=last_year {
        for (month, p) in [(12u32, 0.65), (7, 0.2), (4, 0.15)] {
            if !b.rng.random_bool(p) {
                continue;
            }
            let Some(date) =
                chrono::NaiveDate::from_ymd_opt(year, month, b.rng.random_range(1..=20))
            else {
                continue;
            };
            let day = crate::calendar::day_of(date);
            if day < b.now_day() || day > b.span.horizon {
                continue;
            }
            let len = b.lognormal_days(16.0, 0.4);
            round_trip(b, USA, origin, day, len, Leg::Trip);
        }
    }
}

fn seasonal_worker(b: &mut LifeBuilder) {
    let home = b.person.home;
    let dest = if home == GTM { MEX } else { GTM };
    let first_year = crate::calendar::date_of(b.span.warmup)
        .format("%Y")
        .to_string()
        .parse::<i32>()
        .unwrap_or(2021);
    let mut settled = false;
    for year in first_year - 1..=first_year + 7 {
        if settled || !b.rng.random_bool(0.8) {
            continue;
        }
        // The coffee and sugar-cane harvests: out in October–November,
        // back in February–March.
        let Some(date) = chrono::NaiveDate::from_ymd_opt(
            year,
            b.rng.random_range(10..=11),
            b.rng.random_range(1..=28),
        ) else {
            continue;
        };
        let day = crate::calendar::day_of(date);
        if day < b.now_day() || day > b.span.horizon {
            continue;
        }
        b.travel(dest, day, Mode::Land, Leg::Work, (0, 1));
        let arrived = b.now_day();
        if dest == GTM {
            b.permit(GTM, "seasonal_work", "first_permit", arrived, None);
            if let Some(p) = b.permits.last_mut() {
                p.valid_until = Some(arrived + 179);
            }
        }
        let len = if b.rng.random_bool(0.06) {
            // Stays on after the harvest: becomes a long-term immigrant.
            settled = true;
            b.rng.random_range(400..900)
        } else {
            b.rng.random_range(90..170)
        };
        b.travel(home, arrived + len, Mode::Land, Leg::Return, (0, 1));
    }
}

fn immigrant(b: &mut LifeBuilder) {
    let origin = b.person.home;
    let mut dest = reporting(b.rng);
    if dest == origin {
        dest = other_reporting(b.rng, origin);
    }
    let arrive = b.rng.random_range(b.span.warmup..b.span.horizon - 120);
    let mode = trip_mode(b, dest);
    b.travel(dest, arrive, mode, Leg::Settle, (1, 3));
    let arrived = b.now_day();
    // First permit after one to four months, renewals yearly, permanent
    // after three renewals.
    let mut issue = arrived + b.rng.random_range(30..120);
    let kind = *["work", "work", "family", "family", "study", "humanitarian"]
        .choose(b.rng)
        .unwrap_or(&"work");
    let leaves_after = if b.rng.random_bool(0.2) {
        Some(arrived + b.rng.random_range(500..1500))
    } else {
        None
    };
    let end = leaves_after.unwrap_or(b.span.horizon);
    let mut n = 0;
    while issue < end && issue <= b.span.horizon {
        let (k, decision, years) = match n {
            0 => (kind, "first_permit", Some(1)),
            1 | 2 => (kind, "renewal", Some(1)),
            3 => ("permanent", "change_of_status", None),
            _ => break,
        };
        b.permit(dest, k, decision, issue, years);
        n += 1;
        issue += 365;
    }
    // Visits home now and then.
    let mut day = arrived + 60;
    loop {
        day = b.next_trip_day(day, 0.5);
        if day > end {
            break;
        }
        let len = b.lognormal_days(14.0, 0.4);
        round_trip(b, dest, origin, day, len, Leg::Trip);
        day = b.now_day();
    }
    if let Some(leave) = leaves_after
        && leave > b.now_day()
    {
        let mode = trip_mode(b, origin);
        b.travel(origin, leave, mode, Leg::Return, (0, 1));
    }
}

fn emigrant(b: &mut LifeBuilder) {
    let home = b.person.home;
    // A few ordinary trips before leaving.
    let leave = b.rng.random_range(b.span.warmup + 30..b.span.horizon - 60);
    let mut day = b.span.warmup;
    loop {
        day = b.next_trip_day(day, 0.4);
        if day + 30 > leave {
            break;
        }
        let to = other_reporting(b.rng, home);
        let len = b.lognormal_days(4.0, 0.6);
        round_trip(b, home, to, day, len, Leg::Trip);
        day = b.now_day();
    }
    let dest = choose(b.rng, geo::EMIGRATION_MIX);
    let by_road = (dest == USA || dest == MEX) && b.rng.random_bool(0.6);
    let mode = if by_road { Mode::Land } else { Mode::Air };
    let leg = if by_road { Leg::Settle } else { Leg::Trip };
    b.travel(dest, leave.max(b.now_day()), mode, leg, (1, 12));
    let arrived = b.now_day();
    let unaccompanied = (arrived - b.person.birth) / 365 < 18;
    match b.rng.random_range(0..100) {
        // Deported back, a few weeks to two years later.
        0..25 => {
            let back = arrived + b.rng.random_range(20..700);
            if back > b.span.horizon {
                return;
            }
            let mode = if dest == MEX && home == GTM {
                Mode::Land
            } else {
                Mode::Air
            };
            b.travel(home, back, mode, Leg::Return, (0, 1));
            let returned = b.now_day();
            b.returned("forced", dest, home, mode, returned);
            if let Some(r) = b.returns.last_mut() {
                r.unaccompanied_minor = unaccompanied && r.unaccompanied_minor;
            }
            if b.rng.random_bool(0.3) {
                let again = returned + b.rng.random_range(60..300);
                b.travel(USA, again, Mode::Land, Leg::Settle, (1, 10));
            }
        }
        // Comes back of their own accord after one to four years.
        25..40 => {
            let back = arrived + b.rng.random_range(380..1500);
            if back > b.span.horizon {
                return;
            }
            b.travel(home, back, Mode::Air, Leg::Return, (0, 1));
            let returned = b.now_day();
            if b.rng.random_bool(0.35) {
                b.returned("assisted_voluntary", dest, home, Mode::Air, returned);
            } else if b.rng.random_bool(0.3) {
                b.returned("voluntary", dest, home, Mode::Air, returned);
            }
        }
        // Settled abroad; visits home at Christmas.
        40..55 => {
            let mut day = arrived + 300;
            while day < b.span.horizon {
                let date = crate::calendar::date_of(day);
                let Some(dec) = chrono::NaiveDate::from_ymd_opt(
                    date.format("%Y").to_string().parse().unwrap_or(2022),
                    12,
                    b.rng.random_range(5..20),
                ) else {
                    break;
                };
                let d = crate::calendar::day_of(dec);
                if d >= b.now_day() && d < b.span.horizon {
                    let len = b.lognormal_days(18.0, 0.3);
                    round_trip(b, dest, home, d, len, Leg::Trip);
                }
                day = d + 365;
            }
        }
        // Stays abroad.
        _ => {}
    }
}

fn overstayer(b: &mut LifeBuilder) {
    let home = b.person.home;
    let mut dest = reporting(b.rng);
    if dest == home {
        dest = other_reporting(b.rng, home);
    }
    let arrive = b.rng.random_range(b.span.warmup..b.span.horizon - 100);
    let mode = trip_mode(b, dest);
    b.travel(dest, arrive, mode, Leg::Trip, (1, 3));
    let arrived = b.now_day();
    let permitted = b
        .moves
        .last()
        .map(|m| m.permitted_days as i32)
        .unwrap_or(90)
        .max(30);
    let stay = permitted + b.lognormal_days(120.0, 0.8).max(5);
    let leave = arrived + stay;
    if leave > b.span.horizon {
        return;
    }
    match b.rng.random_range(0..100) {
        0..40 => b.travel(home, leave, Mode::Air, Leg::Return, (0, 1)),
        40..70 => {
            b.travel(home, leave, Mode::Air, Leg::Return, (0, 1));
            let day = b.now_day();
            b.returned("forced", dest, home, Mode::Air, day);
        }
        70..80 => {
            b.travel(home, leave, Mode::Air, Leg::Return, (0, 1));
            let day = b.now_day();
            b.returned("assisted_voluntary", dest, home, Mode::Air, day);
        }
        80..90 => b.travel(USA, leave, Mode::Land, Leg::Irregular, (2, 10)),
        _ => {}
    }
}

fn transit(b: &mut LifeBuilder) {
    let home = b.person.home;
    // Arrives by road from the south (after the Darién), or flies in.
    let start = b.rng.random_range(b.span.warmup..b.span.horizon - 60);
    if land_route(home, NIC).is_some() && b.rng.random_bool(0.8) {
        b.travel(NIC, start, Mode::Land, Leg::Irregular, (3, 15));
    } else {
        b.travel(NIC, start, Mode::Air, Leg::Irregular, (0, 0));
    }
    let d = b.now_day() + b.rng.random_range(1..5);
    b.travel(HND, d, Mode::Land, Leg::Irregular, (0, 0));
    let d = b.now_day() + b.rng.random_range(1..6);
    b.travel(GTM, d, Mode::Land, Leg::Irregular, (0, 0));
    let d = b.now_day() + b.rng.random_range(2..20);
    b.travel(MEX, d, Mode::Land, Leg::Irregular, (0, 0));
    if b.rng.random_bool(0.15) {
        let d = b.now_day() + b.rng.random_range(10..200);
        b.travel(home, d, Mode::Air, Leg::Return, (0, 0));
    } else {
        let d = b.now_day() + b.rng.random_range(10..90);
        b.travel(USA, d, Mode::Land, Leg::Irregular, (0, 0));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span() -> Span {
        let start =
            crate::calendar::day_of(chrono::NaiveDate::from_ymd_opt(2022, 1, 1).expect("date"));
        Span {
            warmup: start - 365,
            start,
            end: start + 4 * 365,
            horizon: start + 4 * 365 + 520,
        }
    }

    #[test]
    fn lives_are_consistent() {
        let span = span();
        for id in 0..3000 {
            let life = life(7, id, span, false);
            let mut loc = life.person.home;
            let mut t = i64::MIN;
            for m in &life.moves {
                assert_eq!(
                    m.from, loc,
                    "person {id}: a move starts where the last ended"
                );
                assert_ne!(m.from, m.to);
                assert!(m.t_exit > t, "person {id}: moves are ordered in time");
                t = m.t_entry();
                loc = m.to;
            }
        }
    }

    #[test]
    fn same_seed_same_life() {
        let span = span();
        for id in [0, 1, 99, 12345] {
            let a = life(3, id, span, false);
            let b = life(3, id, span, false);
            assert_eq!(a.moves.len(), b.moves.len());
            assert_eq!(a.person.doc_number, b.person.doc_number);
        }
    }

    #[test]
    fn land_routes() {
        assert_eq!(land_route(HND, MEX), Some(vec![GTM, MEX]));
        assert_eq!(land_route(GTM, HND), Some(vec![HND]));
        assert_eq!(land_route(SLV, USA), Some(vec![GTM, MEX, USA]));
        assert_eq!(land_route(GTM, geo::cc("ESP")), None);
    }
}
