//! The match service's expertise index: who answered what, how recently, and ranking.
//!
//! Python (`services/match/ranking.py`) keeps the bookkeeping keyed by post (root and reply
//! caches, reactions, relations, routes) and calls this core for everything that runs per term
//! or per candidate: tokenising, profile postings, helper counters, and ranking a batch of
//! posts. Every result is a deterministic function of the calls made (ties broken by helper
//! id), so two workers fed the same events rank alike. Floats are ordered with `total_cmp`:
//! a NaN (from a nonsense timestamp) sorts somewhere instead of panicking the follower.

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};
use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};
use std::collections::VecDeque;

const DAY: f64 = 86400.0;
const REBASE_AT: f64 = 600.0; // rescale the profile clock before exp() can overflow
const ACTIVE_HORIZON: f64 = 60.0 * DAY;

// A candidate's features; the score is their dot product with the weights (learned, see
// learn_answer, from the config's hand-set weights as prior).
const NF: usize = 13;
type Feats = [f64; NF];
const F_TEXT: usize = 0;         // log(1 + BM25(profile, post))
const F_RECENT: usize = 1;       // log(1 + answers, recent half-life)
const F_RECENT_SHORT: usize = 2; // log(1 + answers, short half-life)
const F_LAST: usize = 3;         // log(1 + answers among the site's last N)
const F_ANSWERS: usize = 4;      // log(1 + all answers)
const F_ACTIVE: usize = 5;       // exp(-idle / active tau)
const F_ACTIVE_SHORT: usize = 6; // exp(-idle / short active tau)
const F_ACCEPTED: usize = 7;     // log(1 + net accepted)
const F_VOTES: usize = 8;        // log(1 + net votes)
const F_FOLLOW: usize = 9;       // follows or followed by the author
const F_LOAD: usize = 10;        // minus open requests
const F_AVAILABLE: usize = 11;   // log(2 (answered asks + 1) / (asks + 2)), 0 when never asked
const F_TEXT_REL: usize = 12;    // F_TEXT over the best F_TEXT among the query's candidates
pub const FEATURE_NAMES: [&str; NF] = ["text", "recent", "recent_short", "last_answers", "answers", "active",
    "active_short", "accepted", "votes", "follow", "load", "available", "text_rel"];

// Small English + French stop list: words that say nothing about a topic.
const STOPWORDS: &str = "a about above after again against all also am an and any anyone anything are aren as at be \
because been before being below between both but by can cannot could couldn did didn do does \
doesn doing don down during each else etc even ever every few for from further get gets getting \
got had has hasn have haven having he her here hers herself him himself his how however i if in \
into is isn it its itself just know like ll make many may me might more most much must my \
myself need no nor not now of off on once one only or other our ours ourselves out over own \
please re really same say see seem seems she should so some something still such than thank \
thanks that the their theirs them themselves then there these they thing things think this \
those though through to too under until up us use used using ve very want was wasn way we well \
were weren what when where whether which while who whom why will with without would wouldn yes \
yet you your yours yourself yourselves http https www com org \
au aux avec ce ces dans de des du elle en est et eux il ils je la le les leur lui ma mais me \
mes moi mon ne nos notre nous ou par pas pour qu que qui sa se ses son sur ta te tes toi ton tu \
un une vos votre vous est sont été être avoir ai as avons avez ont cette cet";

struct Config {
    tag_weight: f64,
    text_term_cap: usize,
    own_text_weight: f64,
    author_term_weight: f64,
    k1: f64,
    b: f64,
    tau_profile: f64,
    tau_recent: f64,
    tau_recent_short: f64,
    tau_active: f64,
    tau_active_short: f64,
    w_text: f64,
    w_recent: f64,
    w_recent_short: f64,
    w_last_answers: f64,
    last_answers_n: usize,
    w_answers: f64,
    w_active: f64,
    w_active_short: f64,
    w_accepted: f64,
    w_votes: f64,
    w_follow: f64,
    w_load: f64,
    w_available: f64,
    w_text_rel: f64,
    max_postings_scan: usize,
    max_candidates: usize,
    hot_size: usize,
    recent_size: usize,
    common_df_fraction: f64,
    common_df_min: f64,
    answerers_only: bool,
    capacity: Option<i64>,
    max_postings_per_term: usize,
    max_terms: usize,
    max_idle_users: usize,
    learn_rate: f64,
    learn_prior: f64,
    learn_candidates: usize,
    max_learn_roots: usize,
    topical_lead: usize,
}

macro_rules! get {
    ($d:expr, $key:literal) => {
        $d.get_item($key)?
            .ok_or_else(|| PyValueError::new_err(concat!("config has no ", $key)))?
            .extract()?
    };
}

impl Config {
    /// The hand-set weights: the learner's prior and its starting point.
    fn prior(&self) -> Feats {
        let mut w: Feats = [0.0; NF];
        let weights = [
            (F_TEXT, self.w_text), (F_RECENT, self.w_recent), (F_RECENT_SHORT, self.w_recent_short),
            (F_LAST, self.w_last_answers), (F_ANSWERS, self.w_answers), (F_ACTIVE, self.w_active),
            (F_ACTIVE_SHORT, self.w_active_short), (F_ACCEPTED, self.w_accepted), (F_VOTES, self.w_votes),
            (F_FOLLOW, self.w_follow), (F_LOAD, self.w_load), (F_AVAILABLE, self.w_available),
            (F_TEXT_REL, self.w_text_rel),
        ];
        for (feature, weight) in weights {
            w[feature] = weight;
        }
        w
    }

    fn from_dict(d: &Bound<'_, PyDict>) -> PyResult<Self> {
        let ln2 = std::f64::consts::LN_2;
        Ok(Config {
            tag_weight: get!(d, "tag_weight"),
            text_term_cap: get!(d, "text_term_cap"),
            own_text_weight: get!(d, "own_text_weight"),
            author_term_weight: get!(d, "author_term_weight"),
            k1: get!(d, "k1"),
            b: get!(d, "b"),
            tau_profile: { let v: f64 = get!(d, "profile_half_life_days"); v } * DAY / ln2,
            tau_recent: { let v: f64 = get!(d, "recent_half_life_days"); v } * DAY / ln2,
            tau_recent_short: { let v: f64 = get!(d, "recent_short_half_life_days"); v } * DAY / ln2,
            tau_active: { let v: f64 = get!(d, "active_tau_days"); v } * DAY,
            tau_active_short: { let v: f64 = get!(d, "active_short_tau_days"); v } * DAY,
            w_text: get!(d, "w_text"),
            w_recent: get!(d, "w_recent"),
            w_recent_short: get!(d, "w_recent_short"),
            w_last_answers: get!(d, "w_last_answers"),
            last_answers_n: get!(d, "last_answers_n"),
            w_answers: get!(d, "w_answers"),
            w_active: get!(d, "w_active"),
            w_active_short: get!(d, "w_active_short"),
            w_accepted: get!(d, "w_accepted"),
            w_votes: get!(d, "w_votes"),
            w_follow: get!(d, "w_follow"),
            w_load: get!(d, "w_load"),
            w_available: get!(d, "w_available"),
            w_text_rel: get!(d, "w_text_rel"),
            max_postings_scan: get!(d, "max_postings_scan"),
            max_candidates: get!(d, "max_candidates"),
            hot_size: get!(d, "hot_size"),
            recent_size: get!(d, "recent_size"),
            common_df_fraction: get!(d, "common_df_fraction"),
            common_df_min: { let v: f64 = get!(d, "common_df_min"); v },
            answerers_only: get!(d, "answerers_only"),
            capacity: get!(d, "capacity"),
            max_postings_per_term: { let v: usize = get!(d, "max_postings_per_term"); v }.max(1),
            max_terms: get!(d, "max_terms"),
            max_idle_users: get!(d, "max_idle_users"),
            learn_rate: get!(d, "learn_rate"),
            learn_prior: get!(d, "learn_prior"),
            learn_candidates: { let v: usize = get!(d, "learn_candidates"); v }.max(2),
            max_learn_roots: get!(d, "max_learn_roots"),
            topical_lead: get!(d, "topical_lead"),
        })
    }
}

/// One term's postings, in the order helpers first used it (the candidate scan follows it).
#[derive(Default)]
struct Postings {
    helper: Vec<u32>,
    weight: Vec<f64>,
}

impl Postings {
    fn find(&self, h: u32) -> Option<usize> {
        // Most lookups miss (a helper's first use of a term): compare 16 ids at a time, which
        // the compiler vectorises, and look inside a chunk only when it holds the id.
        let mut chunks = self.helper.chunks_exact(16);
        let mut base = 0;
        for chunk in &mut chunks {
            if chunk.iter().fold(false, |hit, &x| hit | (x == h)) {
                return chunk.iter().position(|&x| x == h).map(|i| base + i);
            }
            base += 16;
        }
        chunks.remainder().iter().position(|&x| x == h).map(|i| base + i)
    }
}

/// Per-user counters, one column each (indexed by the user's slot).
#[derive(Default)]
struct Users {
    ids: HashMap<String, u32>,
    name: Vec<String>,
    free: Vec<u32>,
    doclen: Vec<f64>,      // sum of the profile's posting weights (profile clock scale)
    answers: Vec<i64>,     // replies to other people's root posts
    recent: Vec<f64>,      // answers decayed with the recent half-life, as of recent_ts
    recent_short: Vec<f64>,
    recent_ts: Vec<f64>,
    accepted: Vec<i64>,    // net accepted answers
    votes: Vec<i64>,       // net upvotes + thanks - downvotes
    last_active: Vec<f64>,
    snoozed_until: Vec<f64>, // asked nothing before this time (a helper's snooze)
    open: Vec<i64>,        // routed requests not answered yet
    asked: Vec<u32>,       // asks received (each helper of each wave)
    answered_asks: Vec<u32>, // asks they answered (replied to the post they were asked on)
}

impl Users {
    fn get(&self, id: &str) -> Option<u32> {
        self.ids.get(id).copied()
    }

    fn get_or_create(&mut self, id: &str) -> u32 {
        if let Some(&u) = self.ids.get(id) {
            return u;
        }
        let u = match self.free.pop() {
            Some(u) => {
                let i = u as usize;
                self.name[i] = id.to_owned();
                self.doclen[i] = 0.0;
                self.answers[i] = 0;
                self.recent[i] = 0.0;
                self.recent_short[i] = 0.0;
                self.recent_ts[i] = 0.0;
                self.accepted[i] = 0;
                self.votes[i] = 0;
                self.last_active[i] = f64::NEG_INFINITY;
                self.snoozed_until[i] = f64::NEG_INFINITY;
                self.open[i] = 0;
                self.asked[i] = 0;
                self.answered_asks[i] = 0;
                u
            }
            None => {
                self.name.push(id.to_owned());
                self.doclen.push(0.0);
                self.answers.push(0);
                self.recent.push(0.0);
                self.recent_short.push(0.0);
                self.recent_ts.push(0.0);
                self.accepted.push(0);
                self.votes.push(0);
                self.last_active.push(f64::NEG_INFINITY);
                self.snoozed_until.push(f64::NEG_INFINITY);
                self.open.push(0);
                self.asked.push(0);
                self.answered_asks.push(0);
                (self.name.len() - 1) as u32
            }
        };
        self.ids.insert(id.to_owned(), u);
        u
    }

    fn remove(&mut self, u: u32) {
        let name = std::mem::take(&mut self.name[u as usize]);
        self.ids.remove(&name);
        self.free.push(u);
    }

    /// Nothing learnt about the user but when they were last active.
    fn is_bare(&self, u: u32) -> bool {
        let i = u as usize;
        self.answers[i] == 0 && self.doclen[i] == 0.0 && self.recent[i] == 0.0 && self.accepted[i] == 0
            && self.votes[i] == 0 && self.open[i] == 0 && self.snoozed_until[i] == f64::NEG_INFINITY
            && self.asked[i] == 0
    }
}

/// Least-recently-touched order with lazy deletion: a touch pushes a fresh stamp, stale
/// queue entries are skipped when popped, and the queue is compacted when it doubles.
#[derive(Default)]
struct LazyLru {
    stamp: HashMap<u32, u64>,
    queue: VecDeque<(u32, u64)>,
    next: u64,
}

impl LazyLru {
    fn touch(&mut self, u: u32) {
        self.next += 1;
        self.stamp.insert(u, self.next);
        self.queue.push_back((u, self.next));
        if self.queue.len() > 2 * self.stamp.len() + 1024 {
            let stamp = &self.stamp;
            self.queue.retain(|(u, s)| stamp.get(u) == Some(s));
        }
    }

    fn len(&self) -> usize {
        self.stamp.len()
    }

    fn pop_oldest(&mut self) -> Option<u32> {
        while let Some((u, s)) = self.queue.pop_front() {
            if self.stamp.get(&u) == Some(&s) {
                self.stamp.remove(&u);
                return Some(u);
            }
        }
        None
    }
}

/// One ranked candidate and what its reasons are built from.
#[pyclass(module = "goalpost_match_native", get_all, frozen)]
#[derive(Default)]
pub struct Why {
    helper_id: String,
    score: f64,
    tags: Vec<String>,      // the first three matched "#tags" (without '#'), rarest first
    words: Vec<String>,     // the first three matched words, rarest first
    helped_author: bool,    // shares the author's "@asker" term: answered them before
    answers: i64,
    accepted: i64,
    last_answers: u32,      // answers among the site's last N
    last_active: f64,
    asked: u32,             // asks received
    answered_asks: u32,     // of which answered
}

impl Why {
    /// Human-readable reasons for this candidate at time t; each says what makes the helper
    /// likely to help, never a penalty. Built here, for the top k only: formatting them in
    /// Python took a third of a ranked batch.
    fn reason_texts(&self, follows_author: bool, followed_by_author: bool, last_n: usize, t: f64) -> Vec<String> {
        let mut out = Vec::new();
        if !self.tags.is_empty() {
            out.push(format!("answered questions tagged {}", self.tags.join(", ")));
        }
        if !self.words.is_empty() {
            out.push(format!("answered questions mentioning {}", self.words.join(", ")));
        }
        if self.helped_author {
            out.push("has helped this author before".to_string());
        }
        if self.answers != 0 {
            let mut said = format!("{} answer{} so far", self.answers, if self.answers != 1 { "s" } else { "" });
            if self.accepted > 0 {
                said.push_str(&format!(", {} accepted", self.accepted));
            }
            out.push(said);
        }
        if self.last_answers != 0 {
            out.push(format!("wrote {} of the site's last {} answers", self.last_answers, last_n));
        }
        let idle = t - self.last_active;
        let idle = if idle.is_nan() { f64::INFINITY } else { idle.max(0.0) }; // nonsense times: no activity said
        if idle < 2.0 * DAY {
            let hours = (idle / 3600.0).floor() as i64;
            out.push(if hours < 1 { "active in the last hour".to_string() } else { format!("active {} h ago", hours) });
        } else if idle < 60.0 * DAY {
            out.push(format!("active {} days ago", (idle / DAY).floor() as i64));
        }
        // a merit only when it raises the score
        if self.asked > 0 && 2 * (self.answered_asks as i64 + 1) > self.asked as i64 + 2 {
            out.push(format!("answered {} of {} asks", self.answered_asks, self.asked));
        }
        if follows_author {
            out.push("follows the author".to_string());
        } else if followed_by_author {
            out.push("followed by the author".to_string());
        }
        if out.is_empty() {
            out.push("active helper".to_string());
        }
        out
    }
}

/// A root post's best candidates when it arrived (helper slot, features), and the answerers
/// already learnt from.
struct Snap {
    rows: Vec<(u32, [f32; NF])>,
    learnt: Vec<u32>,
}

/// One query term: weight x IDF and its id.
struct QueryTerm {
    weight: f64,
    term: u32,
}

#[pyclass(module = "goalpost_match_native")]
pub struct ExpertiseCore {
    c: Config,
    stop: HashSet<&'static str>,
    users: Users,
    term_ids: HashMap<String, u32>,
    term_name: Vec<String>,
    postings: Vec<Postings>,
    df_extra: Vec<u32>, // helpers trimmed off a term's postings
    n_df_extra: usize,  // terms with df_extra > 0
    free_terms: Vec<u32>,
    n_profiles: i64,
    total_len: f64,
    t0: Option<f64>,
    hot: HashMap<u32, f64>, // helper -> time-invariant key of decayed recent answers
    last_answers: VecDeque<u32>,
    last_counts: HashMap<u32, u32>,
    recent_users: VecDeque<u32>, // most recently active last
    idle: LazyLru,
    // scratch of rank(), indexed by user slot; only touched slots are reset
    bm25: Vec<f64>,
    norm: Vec<f64>,
    mask: Vec<u128>,
    seen: Vec<bool>,
    w: Feats,   // the weights ranking uses
    w0: Feats,  // their prior (the config's)
    snaps: HashMap<String, Snap>, // root post id -> its candidates' features, the last max_learn_roots
    snap_order: VecDeque<String>,
    n_learnt: u64,
}

impl ExpertiseCore {
    /// Lower-case runs of letters and digits; no stop words or 1-letter tokens; light plural
    /// stemming (a trailing s of words over 4 letters, not ss). Lazy, over a lower-cased text.
    fn token_iter<'s, 't>(&'s self, lower: &'t str) -> impl Iterator<Item = &'t str> + use<'s, 't> {
        let stop = &self.stop;
        lower.split(|c: char| !c.is_alphanumeric()).filter_map(move |tok| {
            let n = tok.chars().count();
            if n < 2 || stop.contains(tok) {
                None
            } else if n > 4 && tok.ends_with('s') && !tok.ends_with("ss") {
                Some(&tok[..tok.len() - 1])
            } else {
                Some(tok)
            }
        })
    }

    fn tokens(&self, text: &str) -> Vec<String> {
        let lower = text.to_lowercase();
        self.token_iter(&lower).map(str::to_owned).collect()
    }

    /// The first `cap` distinct tokens of a lower-cased text, in order (a long post stops being
    /// read there), borrowed from it.
    fn distinct_tokens<'t>(&self, lower: &'t str, cap: usize) -> Vec<&'t str> {
        let mut seen: HashSet<&str> = HashSet::default();
        let mut out = Vec::new();
        if cap == 0 {
            return out;
        }
        for tok in self.token_iter(lower) {
            if seen.insert(tok) {
                out.push(tok);
                if out.len() >= cap {
                    break;
                }
            }
        }
        out
    }

    /// The distinct words of a post (weight 1, at most text_term_cap) then its tags and topics
    /// as "#tag" (tag_weight), in first-seen order.
    fn post_terms_of(&self, text: &str, tags: &[String], topics: &[String]) -> Vec<(String, f64)> {
        let lower = text.to_lowercase();
        let mut terms: Vec<(String, f64)> = Vec::new();
        let mut at: HashMap<String, usize> = HashMap::default();
        for tok in self.distinct_tokens(&lower, self.c.text_term_cap) {
            at.insert(tok.to_owned(), terms.len());
            terms.push((tok.to_owned(), 1.0));
        }
        for tag in tags.iter().chain(topics.iter()) {
            let t = format!("#{}", tag.trim().to_lowercase());
            if t.len() > 1 {
                match at.get(&t) {
                    Some(&i) => terms[i].1 = self.c.tag_weight,
                    None => {
                        at.insert(t.clone(), terms.len());
                        terms.push((t, self.c.tag_weight));
                    }
                }
            }
        }
        terms
    }

    /// A root post's terms packed as one string, each ended by a NUL (no term holds one: words
    /// are letters and digits, tags are trimmed): a compact copy to keep per cached root.
    fn packed_terms(&self, text: &str, tags: &[String], topics: &[String]) -> Vec<u8> {
        let mut out = Vec::new();
        for (term, _) in self.post_terms_of(text, tags, topics) {
            if !term.contains('\0') {
                out.extend_from_slice(term.as_bytes());
                out.push(0);
            }
        }
        out
    }

    /// The terms of `packed_terms`, each with its weight (tag_weight for "#" terms, else 1).
    fn unpack_terms<'p>(&self, packed: &'p [u8]) -> PyResult<Vec<(&'p str, f64)>> {
        let text = std::str::from_utf8(packed).map_err(|e| PyValueError::new_err(format!("packed terms: {e}")))?;
        Ok(text
            .split_terminator('\0')
            .map(|term| (term, if term.starts_with('#') { self.c.tag_weight } else { 1.0 }))
            .collect())
    }

    fn clock(&mut self, t: f64) -> f64 {
        let t0 = *self.t0.get_or_insert(t);
        let mut x = (t - t0) / self.c.tau_profile;
        if x > REBASE_AT {
            let f = (-(t - t0) / self.c.tau_profile).exp();
            for p in self.postings.iter_mut() {
                for w in p.weight.iter_mut() {
                    *w *= f;
                }
            }
            for d in self.users.doclen.iter_mut() {
                *d *= f;
            }
            self.total_len *= f;
            self.t0 = Some(t);
            x = 0.0;
        }
        x.exp()
    }

    fn term_id(&mut self, term: &str) -> u32 {
        if let Some(&id) = self.term_ids.get(term) {
            return id;
        }
        let id = match self.free_terms.pop() {
            Some(id) => {
                self.term_name[id as usize] = term.to_owned();
                id
            }
            None => {
                self.term_name.push(term.to_owned());
                self.postings.push(Postings::default());
                self.df_extra.push(0);
                (self.term_name.len() - 1) as u32
            }
        };
        self.term_ids.insert(term.to_owned(), id);
        id
    }

    fn remove_term(&mut self, id: u32) {
        let i = id as usize;
        let name = std::mem::take(&mut self.term_name[i]);
        self.term_ids.remove(&name);
        self.postings[i] = Postings::default();
        if self.df_extra[i] > 0 {
            self.n_df_extra -= 1;
        }
        self.df_extra[i] = 0;
        self.free_terms.push(id);
    }

    fn add_terms_to<S: AsRef<str>>(&mut self, u: u32, terms: &[(S, f64)], t: f64) {
        let scale = self.clock(t);
        let ui = u as usize;
        if self.users.doclen[ui] == 0.0 && !terms.is_empty() {
            self.n_profiles += 1;
        }
        let cap = self.c.max_postings_per_term;
        let slack = cap + (cap >> 2).max(1);
        let mut added = 0.0;
        for (term, w) in terms {
            let v = w * scale;
            added += v;
            let id = self.term_id(term.as_ref());
            let p = &mut self.postings[id as usize];
            match p.find(u) {
                Some(i) => p.weight[i] += v,
                None => {
                    p.helper.push(u);
                    p.weight.push(v);
                    if p.helper.len() > slack {
                        self.trim(id, cap);
                    }
                }
            }
        }
        self.users.doclen[ui] += added;
        self.total_len += added;
        let slack_terms = self.c.max_terms + (self.c.max_terms / 10).max(1);
        if self.term_ids.len() > slack_terms {
            self.prune_terms();
        }
    }

    /// Keep a term's cap heaviest postings (ties all kept). On one clock the heaviest are the
    /// helpers who used the term most and most recently; the document frequency keeps counting
    /// the dropped ones, and profile lengths are unchanged.
    fn trim(&mut self, id: u32, cap: usize) {
        let p = &mut self.postings[id as usize];
        let mut heaviest = p.weight.clone();
        let (_, nth, _) = heaviest.select_nth_unstable_by(cap - 1, |a, b| b.total_cmp(a));
        let threshold = *nth; // the cap-th heaviest weight
        let before = p.helper.len();
        let mut keep = Postings::default();
        for (h, w) in p.helper.iter().zip(p.weight.iter()) {
            if *w >= threshold {
                keep.helper.push(*h);
                keep.weight.push(*w);
            }
        }
        let removed = (before - keep.helper.len()) as u32;
        *p = keep;
        let i = id as usize;
        if self.df_extra[i] == 0 && removed > 0 {
            self.n_df_extra += 1;
        }
        self.df_extra[i] += removed;
    }

    /// Real text has an open vocabulary: past max_terms + 10% this drops words down to
    /// max_terms, the fewest helpers first, then the lowest (oldest) weight. "@asker" terms
    /// have their own bound, kept by the caller.
    fn prune_terms(&mut self) {
        let keep = self.c.max_terms;
        let n = self.term_ids.len();
        let mut ranked: Vec<(usize, f64, &str, u32)> = self
            .term_ids
            .iter()
            .filter(|(name, _)| !name.starts_with('@'))
            .map(|(name, &id)| {
                let p = &self.postings[id as usize];
                let maxw = p.weight.iter().cloned().fold(0.0_f64, f64::max);
                (p.helper.len(), maxw, name.as_str(), id)
            })
            .collect();
        ranked.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.total_cmp(&b.1)).then(a.2.cmp(b.2)));
        let drop: Vec<u32> = ranked.iter().take(n.saturating_sub(keep)).map(|r| r.3).collect();
        for id in drop {
            self.remove_term(id);
        }
    }

    fn df(&self, id: u32) -> i64 {
        let i = id as usize;
        ((self.postings[i].helper.len() as i64) + self.df_extra[i] as i64).min(self.n_profiles)
    }

    fn touch_user(&mut self, id: &str, t: f64) -> u32 {
        let u = self.users.get_or_create(id);
        let i = u as usize;
        if t > self.users.last_active[i] {
            self.users.last_active[i] = t;
        }
        if let Some(pos) = self.recent_users.iter().rposition(|&x| x == u) {
            self.recent_users.remove(pos);
        }
        self.recent_users.push_back(u);
        if self.recent_users.len() > (self.c.recent_size * 4).max(64) {
            self.recent_users.pop_front();
        }
        if self.users.is_bare(u) {
            self.idle.touch(u);
            if self.idle.len() > self.c.max_idle_users {
                if let Some(old) = self.idle.pop_oldest() {
                    self.forget_idle_user(old);
                }
            }
        }
        u
    }

    /// Drops a user's state if it still holds nothing but a last-active time. One of the
    /// recently active users (a candidate source of rank) is kept, and stays in line.
    fn forget_idle_user(&mut self, u: u32) {
        if !self.users.is_bare(u) {
            return;
        }
        if self.recent_users.contains(&u) {
            self.idle.touch(u);
        } else {
            self.users.remove(u);
        }
    }

    fn bump_recent(&mut self, u: u32, t: f64, delta: f64) {
        let i = u as usize;
        let us = &mut self.users;
        if t > us.recent_ts[i] {
            if us.recent[i] > 0.0 {
                us.recent[i] *= (-(t - us.recent_ts[i]) / self.c.tau_recent).exp();
            }
            if us.recent_short[i] > 0.0 {
                us.recent_short[i] *= (-(t - us.recent_ts[i]) / self.c.tau_recent_short).exp();
            }
            us.recent_ts[i] = t;
        }
        us.recent[i] = (us.recent[i] + delta).max(0.0);
        us.recent_short[i] = (us.recent_short[i] + delta).max(0.0);
        if delta > 0.0 && self.c.last_answers_n > 0 {
            self.last_answers.push_back(u);
            *self.last_counts.entry(u).or_insert(0) += 1;
            if self.last_answers.len() > self.c.last_answers_n {
                let old = self.last_answers.pop_front().unwrap();
                let left = self.last_counts[&old] - 1;
                if left > 0 {
                    self.last_counts.insert(old, left);
                } else {
                    self.last_counts.remove(&old);
                }
            }
        }
        // log(v) + ts / tau orders helpers by decayed recent answers at any time
        if self.users.recent[i] > 0.0 {
            let key = self.users.recent[i].ln() + (self.users.recent_ts[i] - self.t0.unwrap_or(0.0)) / self.c.tau_recent;
            self.hot.insert(u, key);
            if self.hot.len() > self.c.hot_size {
                let names = &self.users.name;
                let worst = *self
                    .hot
                    .iter()
                    .min_by(|a, b| a.1.total_cmp(b.1).then_with(|| names[*a.0 as usize].cmp(&names[*b.0 as usize])))
                    .unwrap()
                    .0;
                self.hot.remove(&worst);
            }
        } else {
            self.hot.remove(&u);
        }
    }

    /// Query terms known to the index, rarest (most telling) first; very common terms are
    /// skipped once some term was trimmed (only then can df exceed the postings).
    fn query_terms(&mut self, author: &str, text: &str, tags: &[String], topics: &[String]) -> Vec<QueryTerm> {
        let mut q = self.post_terms_of(text, tags, topics);
        if self.c.author_term_weight > 0.0 && !author.is_empty() {
            let a = format!("@{author}");
            if let Some(e) = q.iter_mut().find(|e| e.0 == a) {
                e.1 = self.c.author_term_weight;
            } else {
                q.push((a, self.c.author_term_weight));
            }
        }
        let n = self.n_profiles as f64;
        let max_df = self.c.common_df_min.max(self.c.common_df_fraction * n);
        let mut out: Vec<QueryTerm> = Vec::new();
        for (term, qw) in q {
            if let Some(&id) = self.term_ids.get(&term) {
                let len = self.postings[id as usize].helper.len();
                if len == 0 {
                    continue;
                }
                let mut df = len as f64;
                if self.n_df_extra > 0 {
                    df = self.df(id) as f64;
                    if df > max_df {
                        continue;
                    }
                }
                out.push(QueryTerm { weight: qw * (1.0 + (n - df + 0.5) / (df + 0.5)).ln(), term: id });
            }
        }
        let names = &self.term_name;
        out.sort_by(|a, b| {
            b.weight.total_cmp(&a.weight).then_with(|| names[a.term as usize].cmp(&names[b.term as usize]))
        });
        out
    }

    fn ensure_scratch(&mut self) {
        let n = self.users.name.len();
        if self.bm25.len() < n {
            self.bm25.resize(n, 0.0);
            self.norm.resize(n, f64::NAN);
            self.mask.resize(n, 0);
            self.seen.resize(n, false);
        }
    }

    /// BM25 of each helper's decayed profile against the query terms, into the scratch
    /// columns; returns the helpers scored, in the order found. Rare terms first; terms with
    /// long postings, or once max_candidates helpers are found, only add to the helpers
    /// already found (so a query costs O(max_candidates x terms), not O(helpers)).
    fn bm25_into_scratch(&mut self, terms: &[QueryTerm], t: f64) -> Vec<u32> {
        let mut found: Vec<u32> = Vec::new();
        let n = self.n_profiles;
        if n == 0 || terms.is_empty() {
            return found;
        }
        let c = &self.c;
        let decay = (-(t - self.t0.unwrap_or(t)) / c.tau_profile).exp();
        let avgdl = (self.total_len / n as f64).max(1e-12);
        // tf / (tf + k1 * norm) with tf = stored * decay, i.e. stored / (stored + (k1/decay) * norm)
        let kk = c.k1 / decay.max(1e-300);
        let c0 = kk * (1.0 - c.b);
        let c1 = kk * c.b / avgdl;
        for (qi, qt) in terms.iter().enumerate() {
            let num = qt.weight * (c.k1 + 1.0);
            let bit: u128 = if qi < 128 { 1u128 << qi } else { 0 };
            let p = &self.postings[qt.term as usize];
            let open = p.helper.len() <= c.max_postings_scan && found.len() < c.max_candidates;
            for (&h, &w) in p.helper.iter().zip(p.weight.iter()) {
                let i = h as usize;
                if !self.seen[i] {
                    if !open {
                        continue;
                    }
                    self.seen[i] = true;
                    self.norm[i] = c0 + c1 * self.users.doclen[i];
                    self.bm25[i] = 0.0;
                    self.mask[i] = 0;
                    found.push(h);
                }
                self.bm25[i] += num * w / (w + self.norm[i]);
                self.mask[i] |= bit;
            }
        }
        found
    }

    /// The candidates of a query and their features, best first by the current weights: the
    /// helpers found by its terms plus the hot, last and recent ones, never the author, an
    /// excluded id, a helper at capacity or snoozed. Also returns the query terms (for reasons).
    /// With `keep` > 0 only the best `keep` are returned: a selection, then a sort of those
    /// few, where sorting every candidate was most of a rank's time past the scoring.
    #[allow(clippy::too_many_arguments)]
    fn candidates(&mut self, author: &str, text: &str, tags: &[String], topics: &[String], t: f64,
                  excluded: &[String], near: &[String], keep: usize) -> (Vec<QueryTerm>, Vec<(f64, u32, Feats)>) {
        self.ensure_scratch();
        let qterms = self.query_terms(author, text, tags, topics);
        let found = self.bm25_into_scratch(&qterms, t);
        let c = &self.c;
        let us = &self.users;
        let mut cands = found;
        let mut extra: Vec<u32> = Vec::new();
        extra.extend(self.hot.keys());
        extra.extend(self.last_counts.keys());
        extra.extend(self.recent_users.iter().rev().take(c.recent_size));
        for u in extra {
            if !self.seen[u as usize] {
                self.seen[u as usize] = true;
                self.bm25[u as usize] = 0.0;
                self.mask[u as usize] = 0;
                cands.push(u);
            }
        }
        let excluded: HashSet<u32> = excluded.iter().chain(std::iter::once(&author.to_owned()))
            .filter_map(|x| us.get(x)).collect();
        let near: HashSet<u32> = near.iter().filter_map(|x| us.get(x)).collect();
        let min_answers = if c.answerers_only { 1 } else { 0 };
        let mut scored: Vec<(f64, u32, Feats)> = Vec::with_capacity(cands.len());
        let mut max_text = 0.0_f64;
        for &u in &cands {
            let i = u as usize;
            self.seen[i] = false;
            if excluded.contains(&u) || us.answers[i] < min_answers || t < us.snoozed_until[i] {
                continue;
            }
            if let Some(cap) = c.capacity {
                if us.open[i] >= cap {
                    continue;
                }
            }
            let mut f: Feats = [0.0; NF];
            f[F_TEXT] = self.bm25[i].ln_1p();
            max_text = max_text.max(f[F_TEXT]);
            if us.recent[i] > 0.0 {
                let age = (t - us.recent_ts[i]).max(0.0);
                f[F_RECENT] = (us.recent[i] * (-age / c.tau_recent).exp()).ln_1p();
                f[F_RECENT_SHORT] = (us.recent_short[i] * (-age / c.tau_recent_short).exp()).ln_1p();
            }
            f[F_ANSWERS] = (us.answers[i] as f64).ln_1p();
            if let Some(&last) = self.last_counts.get(&u) {
                f[F_LAST] = (last as f64).ln_1p();
            }
            let idle = t - us.last_active[i];
            if idle < ACTIVE_HORIZON {
                let idle = idle.max(0.0);
                f[F_ACTIVE] = (-idle / c.tau_active).exp();
                f[F_ACTIVE_SHORT] = (-idle / c.tau_active_short).exp();
            }
            f[F_ACCEPTED] = (us.accepted[i].max(0) as f64).ln_1p();
            f[F_VOTES] = (us.votes[i].max(0) as f64).ln_1p();
            if near.contains(&u) {
                f[F_FOLLOW] = 1.0;
            }
            f[F_LOAD] = -(us.open[i] as f64);
            if us.asked[i] > 0 {
                // availability: answered asks over asks, a prior of one of two; above a half
                // it raises the score, below it lowers it (helpers who ignore asks sink)
                f[F_AVAILABLE] = (2.0 * (us.answered_asks[i] as f64 + 1.0) / (us.asked[i] as f64 + 2.0)).ln();
            }
            scored.push((0.0, u, f));
        }
        // topical evidence relative to this query's best: comparable across short and long posts
        for x in scored.iter_mut() {
            if max_text > 0.0 {
                x.2[F_TEXT_REL] = x.2[F_TEXT] / max_text;
            }
            x.0 = dot(&self.w, &x.2);
        }
        let names = &us.name;
        let order = |a: &(f64, u32, Feats), b: &(f64, u32, Feats)| {
            b.0.total_cmp(&a.0).then_with(|| names[a.1 as usize].cmp(&names[b.1 as usize]))
        };
        if keep > 0 && scored.len() > keep {
            scored.select_nth_unstable_by(keep - 1, order); // a total order: the same best `keep` as a full sort
            scored.truncate(keep);
        }
        scored.sort_by(order);
        (qterms, scored)
    }

    fn rank_one(&mut self, author: &str, text: &str, tags: &[String], topics: &[String], t: f64,
                excluded: &[String], near: &[String], k: usize) -> Vec<Why> {
        let (qterms, mut scored) = self.candidates(author, text, tags, topics, t, excluded, near,
                                                   k.max(self.c.topical_lead).max(1));
        let lead = self.c.topical_lead.min(scored.len());
        if lead > 0 && scored[0].2[F_TEXT] == 0.0 {
            // a post with topical evidence gets a first candidate with topical evidence: the
            // best of the first `lead` who has some moves up to first place
            if let Some(j) = scored[..lead].iter().position(|x| x.2[F_TEXT] > 0.0) {
                let x = scored.remove(j);
                scored.insert(0, x);
            }
        }
        scored.truncate(k);
        let us = &self.users;
        let names = &us.name;
        let mut out = Vec::with_capacity(scored.len());
        for &(s, u, _) in &scored {
            let i = u as usize;
            let mask = self.mask[i];
            let mut why = Why { helper_id: names[i].clone(), score: s, answers: us.answers[i], accepted: us.accepted[i],
                                last_answers: self.last_counts.get(&u).copied().unwrap_or(0),
                                last_active: us.last_active[i], asked: us.asked[i],
                                answered_asks: us.answered_asks[i], ..Why::default() };
            for (qi, qt) in qterms.iter().enumerate() {
                // helpers found by no scored term (hot, recent) may still share a term
                let hit = if qi < 128 && mask != 0 { mask & (1u128 << qi) != 0 } else { self.postings[qt.term as usize].find(u).is_some() };
                if hit {
                    let name = &self.term_name[qt.term as usize];
                    if let Some(tag) = name.strip_prefix('#') {
                        if why.tags.len() < 3 {
                            why.tags.push(tag.to_owned());
                        }
                    } else if name.starts_with('@') {
                        why.helped_author = true;
                    } else if why.words.len() < 3 {
                        why.words.push(name.clone());
                    }
                }
            }
            out.push(why);
        }
        out
    }

    /// Keeps the features of a root post's best candidates (by the current weights, plus the
    /// most topical ones) so a later answer can teach the weights what that community answers.
    fn snapshot_root(&mut self, key: &str, author: &str, text: &str, tags: &[String], topics: &[String], t: f64,
                     excluded: &[String], near: &[String]) {
        if self.c.learn_rate <= 0.0 || self.c.max_learn_roots == 0 {
            return;
        }
        let (_, scored) = self.candidates(author, text, tags, topics, t, excluded, near, 0);
        let top = self.c.learn_candidates;
        let mut rows: Vec<(u32, [f32; NF])> = Vec::with_capacity(top + top / 3);
        let row = |x: &(f64, u32, Feats)| (x.1, x.2.map(|v| v as f32));
        rows.extend(scored.iter().take(top).map(row));
        if scored.len() > top {
            // the most topical of the rest: an answer from there teaches that topic counts
            let mut rest: Vec<&(f64, u32, Feats)> = scored[top..].iter().filter(|x| x.2[F_TEXT] > 0.0).collect();
            rest.sort_by(|a, b| b.2[F_TEXT].total_cmp(&a.2[F_TEXT]).then(a.1.cmp(&b.1)));
            rows.extend(rest.into_iter().take(top / 3).map(row));
        }
        if rows.len() < 2 {
            return;
        }
        if self.snaps.insert(key.to_owned(), Snap { rows, learnt: Vec::new() }).is_none() {
            self.snap_order.push_back(key.to_owned());
            while self.snap_order.len() > self.c.max_learn_roots {
                if let Some(old) = self.snap_order.pop_front() {
                    self.snaps.remove(&old);
                }
            }
        }
    }

    /// One answer to a snapshotted root: a step of conditional-logit (softmax over the root's
    /// candidates) gradient ascent on the answerer's likelihood, pulled back towards the prior
    /// weights. The candidates who already answered that root are left out of later steps.
    fn learn_answer(&mut self, key: &str, answerer: &str) -> bool {
        let Some(u) = self.users.get(answerer) else { return false };
        let Some(snap) = self.snaps.get_mut(key) else { return false };
        if snap.learnt.contains(&u) {
            return false;
        }
        let Some(pos) = snap.rows.iter().position(|r| r.0 == u) else { return false };
        let rows: Vec<(f64, [f64; NF])> = snap
            .rows
            .iter()
            .filter(|r| r.0 == u || !snap.learnt.contains(&r.0))
            .map(|r| { let f = r.1.map(|v| v as f64); (dot(&self.w, &f), f) })
            .collect();
        snap.learnt.push(u);
        let fpos = snap.rows[pos].1.map(|v| v as f64);
        let smax = rows.iter().map(|r| r.0).fold(f64::NEG_INFINITY, f64::max);
        let mut z = 0.0;
        let mut mean: Feats = [0.0; NF];
        for (s, f) in &rows {
            let e = (s - smax).exp();
            z += e;
            for j in 0..NF {
                mean[j] += e * f[j];
            }
        }
        let c = &self.c;
        for j in 0..NF {
            let g = fpos[j] - mean[j] / z;
            // never below 0: every feature is a merit (the reasons say so), none a penalty
            self.w[j] = (self.w[j] + c.learn_rate * (g - c.learn_prior * (self.w[j] - self.w0[j]))).max(0.0);
        }
        self.n_learnt += 1;
        true
    }
}

fn dot(w: &Feats, f: &Feats) -> f64 {
    w.iter().zip(f.iter()).map(|(a, b)| a * b).sum()
}

#[pymethods]
impl ExpertiseCore {
    #[new]
    fn new(config: &Bound<'_, PyDict>) -> PyResult<Self> {
        let c = Config::from_dict(config)?;
        let w0 = c.prior();
        Ok(ExpertiseCore {
            c,
            w: w0,
            w0,
            snaps: HashMap::default(),
            snap_order: VecDeque::new(),
            n_learnt: 0,
            stop: STOPWORDS.split_whitespace().collect(),
            users: Users::default(),
            term_ids: HashMap::default(),
            term_name: Vec::new(),
            postings: Vec::new(),
            df_extra: Vec::new(),
            n_df_extra: 0,
            free_terms: Vec::new(),
            n_profiles: 0,
            total_len: 0.0,
            t0: None,
            hot: HashMap::default(),
            last_answers: VecDeque::new(),
            last_counts: HashMap::default(),
            recent_users: VecDeque::new(),
            idle: LazyLru::default(),
            bm25: Vec::new(),
            norm: Vec::new(),
            mask: Vec::new(),
            seen: Vec::new(),
        })
    }

    /// Word tokens of a text, as the index reads them.
    fn tokenize(&self, text: &str) -> Vec<String> {
        self.tokens(text)
    }

    /// (term, weight) of a post: distinct words, then "#tag" for its tags and topics.
    #[pyo3(signature = (text, tags=None, topics=None))]
    fn post_terms(&self, text: &str, tags: Option<Vec<String>>, topics: Option<Vec<String>>) -> Vec<(String, f64)> {
        self.post_terms_of(text, &tags.unwrap_or_default(), &topics.unwrap_or_default())
    }

    /// The terms of a root post, packed into one bytes object for the root cache (weights
    /// follow from the "#" prefix); `answer` and `add_root_terms` read it.
    #[pyo3(signature = (text, tags=None, topics=None))]
    fn root_terms<'py>(&self, py: Python<'py>, text: &str, tags: Option<Vec<String>>, topics: Option<Vec<String>>)
        -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.packed_terms(text, &tags.unwrap_or_default(), &topics.unwrap_or_default()))
    }

    /// The terms of `root_terms` packed, without their NULs (what a caller may show or test).
    fn unpacked_terms(&self, packed: &[u8]) -> PyResult<Vec<String>> {
        Ok(self.unpack_terms(packed)?.into_iter().map(|(t, _)| t.to_owned()).collect())
    }

    /// Adds a root post's packed terms to the user's profile at time t, each weighted `weight`
    /// times its own (tag_weight for "#" terms).
    fn add_root_terms(&mut self, user: &str, packed: &[u8], weight: f64, t: f64) -> PyResult<()> {
        let terms: Vec<(&str, f64)> = self.unpack_terms(packed)?.into_iter().map(|(term, w)| (term, w * weight)).collect();
        let u = self.users.get_or_create(user);
        self.add_terms_to(u, &terms, t);
        Ok(())
    }

    /// The user was active at t (seconds since the epoch).
    fn touch(&mut self, user: &str, t: f64) {
        self.touch_user(user, t);
    }

    /// Adds weighted terms to the user's profile at time t.
    fn add_terms(&mut self, user: &str, terms: Vec<(String, f64)>, t: f64) {
        let u = self.users.get_or_create(user);
        self.add_terms_to(u, &terms, t);
    }

    /// The user answered someone else's post at t: the root post's terms (weights from the
    /// "#" prefix), the asker's pseudo-term and the answer's own words join their profile.
    #[pyo3(signature = (user, root_terms, asker_term, own_text, t))]
    fn answer(&mut self, user: &str, root_terms: Option<&[u8]>, asker_term: Option<String>, own_text: &str,
              t: f64) -> PyResult<()> {
        let u = self.users.get_or_create(user);
        let root_terms = match root_terms {
            Some(packed) => self.unpack_terms(packed)?,
            None => Vec::new(),
        };
        let c = &self.c;
        let lower = if c.own_text_weight > 0.0 { own_text.to_lowercase() } else { String::new() };
        let own_tokens = self.distinct_tokens(&lower, c.text_term_cap);
        // (term, weight) in first-seen order, the strings borrowed from the two lists above
        let mut terms: Vec<(&str, f64)> = Vec::with_capacity(root_terms.len() + own_tokens.len() + 1);
        let mut at: HashMap<&str, usize> = HashMap::default();
        for &(term, w) in &root_terms {
            match at.get(term) {
                Some(&i) => terms[i].1 = w,
                None => {
                    at.insert(term, terms.len());
                    terms.push((term, w));
                }
            }
        }
        if let Some(a) = asker_term.as_deref() {
            match at.get(a) {
                Some(&i) => terms[i].1 = c.author_term_weight,
                None => {
                    at.insert(a, terms.len());
                    terms.push((a, c.author_term_weight));
                }
            }
        }
        for &tok in &own_tokens {
            match at.get(tok) {
                Some(&i) => terms[i].1 += c.own_text_weight,
                None => {
                    at.insert(tok, terms.len());
                    terms.push((tok, c.own_text_weight));
                }
            }
        }
        self.add_terms_to(u, &terms, t);
        self.users.answers[u as usize] += 1;
        self.bump_recent(u, t, 1.0);
        Ok(())
    }

    /// Changes the user's net accepted answers and votes (creating the user).
    fn credit(&mut self, user: &str, accepted: i64, votes: i64) {
        let u = self.users.get_or_create(user) as usize;
        self.users.accepted[u] += accepted;
        self.users.votes[u] += votes;
    }

    /// One more (delta > 0, creating the user) or fewer (never below 0) open routed requests.
    fn add_open(&mut self, user: &str, delta: i64) {
        if delta > 0 {
            let u = self.users.get_or_create(user) as usize;
            self.users.open[u] += delta;
        } else if let Some(u) = self.users.get(user) {
            let o = &mut self.users.open[u as usize];
            *o = (*o + delta).max(0);
        }
    }

    /// `asked` more asks received and `answered` more of them answered (creating the user).
    fn record_ask(&mut self, user: &str, asked: u32, answered: u32) {
        let u = self.users.get_or_create(user) as usize;
        self.users.asked[u] += asked;
        self.users.answered_asks[u] = (self.users.answered_asks[u] + answered).min(self.users.asked[u]);
    }

    /// The user is asked nothing before `until` (the later of two snoozes holds).
    fn snooze(&mut self, user: &str, until: f64) {
        let u = self.users.get_or_create(user) as usize;
        if until > self.users.snoozed_until[u] {
            self.users.snoozed_until[u] = until;
        }
    }

    /// Forgets a user entirely (an erasure): their postings, counters and places among the hot,
    /// last and recent users; their slot is reused. False when the user is not known.
    fn erase_user(&mut self, user: &str) -> bool {
        let Some(u) = self.users.get(user) else { return false };
        let i = u as usize;
        for p in self.postings.iter_mut() {
            if let Some(j) = p.find(u) {
                p.helper.remove(j);
                p.weight.remove(j);
            }
        }
        if self.users.doclen[i] > 0.0 {
            self.n_profiles -= 1;
            self.total_len = (self.total_len - self.users.doclen[i]).max(0.0);
        }
        self.hot.remove(&u);
        self.last_counts.remove(&u);
        self.last_answers.retain(|&x| x != u);
        self.recent_users.retain(|&x| x != u);
        self.idle.stamp.remove(&u);
        for snap in self.snaps.values_mut() {
            snap.rows.retain(|r| r.0 != u);
            snap.learnt.retain(|&x| x != u);
        }
        self.users.doclen[i] = 0.0;
        self.users.answers[i] = 0;
        self.users.remove(u);
        true
    }

    /// Drops a term with its postings (the "@asker" terms past their bound).
    fn drop_term(&mut self, term: &str) {
        if let Some(&id) = self.term_ids.get(term) {
            self.remove_term(id);
        }
    }

    /// (doclen, answers, recent, recent_short, recent_ts, accepted, votes, last_active, open,
    /// answers among the site's last N, asks received, asks answered) of a user, or None.
    fn stats(&self, user: &str) -> Option<(f64, i64, f64, f64, f64, i64, i64, f64, i64, u32, u32, u32)> {
        let u = self.users.get(user)?;
        let i = u as usize;
        let us = &self.users;
        Some((us.doclen[i], us.answers[i], us.recent[i], us.recent_short[i], us.recent_ts[i], us.accepted[i],
              us.votes[i], us.last_active[i], us.open[i], self.last_counts.get(&u).copied().unwrap_or(0),
              us.asked[i], us.answered_asks[i]))
    }

    fn has_user(&self, user: &str) -> bool {
        self.users.get(user).is_some()
    }

    fn user_ids(&self) -> Vec<String> {
        self.users.ids.keys().cloned().collect()
    }

    fn n_users(&self) -> usize {
        self.users.ids.len()
    }

    fn n_answerers(&self) -> usize {
        self.users.ids.values().filter(|&&u| self.users.answers[u as usize] > 0).count()
    }

    fn n_terms(&self) -> usize {
        self.term_ids.len()
    }

    fn n_postings(&self) -> usize {
        self.postings.iter().map(|p| p.helper.len()).sum()
    }

    fn n_profiles(&self) -> i64 {
        self.n_profiles
    }

    fn last_answers_len(&self) -> usize {
        self.last_answers.len()
    }

    fn has_term(&self, term: &str) -> bool {
        self.term_ids.contains_key(term)
    }

    /// helper -> stored weight of one term (profile clock scale), in posting order.
    fn postings_of(&self, term: &str) -> Vec<(String, f64)> {
        match self.term_ids.get(term) {
            None => Vec::new(),
            Some(&id) => {
                let p = &self.postings[id as usize];
                p.helper.iter().zip(p.weight.iter()).map(|(&h, &w)| (self.users.name[h as usize].clone(), w)).collect()
            }
        }
    }

    /// Helpers who used the term, those trimmed off its postings included (never more than
    /// the number of profiles).
    fn doc_freq(&self, term: &str) -> i64 {
        self.term_ids.get(term).map(|&id| self.df(id)).unwrap_or(0)
    }

    /// (query weight x IDF, term) of a post's known terms, rarest first.
    #[pyo3(signature = (author, text, tags=None, topics=None))]
    fn query_terms_of(&mut self, author: &str, text: &str, tags: Option<Vec<String>>, topics: Option<Vec<String>>) -> Vec<(f64, String)> {
        let q = self.query_terms(author, text, &tags.unwrap_or_default(), &topics.unwrap_or_default());
        q.iter().map(|x| (x.weight, self.term_name[x.term as usize].clone())).collect()
    }

    /// Remembers a root post's candidates and their features as ranking sees them now (the
    /// post's own time), for the answers that come later (`learn`).
    #[pyo3(signature = (post_id, author, text, tags, topics, t, excluded, near))]
    fn snapshot(&mut self, post_id: &str, author: &str, text: &str, tags: Vec<String>, topics: Vec<String>, t: f64,
                excluded: Vec<String>, near: Vec<String>) {
        self.snapshot_root(post_id, author, text, &tags, &topics, t, &excluded, &near);
    }

    /// `answerer` replied to root `post_id`: one learning step if the root was snapshotted,
    /// the answerer was among its candidates and has not been learnt from on it yet.
    fn learn(&mut self, post_id: &str, answerer: &str) -> bool {
        self.learn_answer(post_id, answerer)
    }

    /// feature name -> the weight ranking uses now.
    fn weights(&self) -> Vec<(&'static str, f64)> {
        FEATURE_NAMES.iter().copied().zip(self.w.iter().copied()).collect()
    }

    /// Learning steps taken so far.
    fn n_learnt(&self) -> u64 {
        self.n_learnt
    }

    /// Roots whose candidates are kept for learning.
    fn n_snapshots(&self) -> usize {
        self.snaps.len()
    }

    /// Ranks a batch of posts. Each query: (author, text, tags, topics, t, excluded ids,
    /// ids close to the author by a follow, k). Each answer: up to k candidates (`Why`),
    /// best first; never the author or an excluded id, never a helper at capacity.
    fn rank_batch(&mut self, queries: Vec<(String, String, Vec<String>, Vec<String>, f64, Vec<String>, Vec<String>, usize)>)
        -> Vec<Vec<Why>> {
        queries
            .iter()
            .map(|(author, text, tags, topics, t, excluded, near, k)| self.rank_one(author, text, tags, topics, *t, excluded, near, *k))
            .collect()
    }

    /// rank_batch with each candidate's reasons: each query also names the users who follow
    /// the author and those the author follows. Each answer: up to k (helper id, score,
    /// reasons), best first.
    #[allow(clippy::type_complexity)]
    fn rank_batch_reasons(&mut self,
                          queries: Vec<(String, String, Vec<String>, Vec<String>, f64, Vec<String>, Vec<String>, usize,
                                        Vec<String>, Vec<String>)>)
        -> Vec<Vec<(String, f64, Vec<String>)>> {
        let last_n = self.last_answers.len();
        queries
            .iter()
            .map(|(author, text, tags, topics, t, excluded, near, k, followers, followees)| {
                self.rank_one(author, text, tags, topics, *t, excluded, near, *k)
                    .into_iter()
                    .map(|w| {
                        let said = w.reason_texts(followers.contains(&w.helper_id), followees.contains(&w.helper_id), last_n, *t);
                        (w.helper_id, w.score, said)
                    })
                    .collect()
            })
            .collect()
    }
}

#[pymodule]
fn goalpost_match_native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<ExpertiseCore>()?;
    m.add_class::<Why>()?;
    Ok(())
}
