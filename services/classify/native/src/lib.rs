//! The classify service's per-post work: one normalisation and tokenisation of a post, its
//! sparse intent features (words, bigrams, hashtags, first words, linguistic cues), its routing
//! topics, and the linear model's scores.
//!
//! Python keeps the model's artefact, its training (`services/classify/training`, which reads
//! the features through `post_features`) and the records; everything that runs per token is
//! here, so a post costs microseconds instead of the interpreter's hundreds. Text predicates
//! follow Python's `str` methods (`isspace`, `isupper`, `strip`) so that features do not depend
//! on which side computed them.

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use regex::{Regex, RegexBuilder};
use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};
use std::borrow::Cow;
use std::sync::OnceLock;

const MAX_TOKENS: usize = 120; // features come from the first MAX_TOKENS tokens: bounded cost
const MAX_TOPIC_TOKENS: usize = 600; // topics from the first MAX_TOPIC_TOKENS
const MAX_TOPICS: usize = 8;

const WH: &str = "how what why where when which who whom whose is are can could would should
    does do did will has have any anyone anybody";
const IMPERATIVE: &str = "be get stop start quit lose eat drink read learn make keep try use go travel save run spend
    find take give put add buy sell call visit work focus cut write finish pay stay love live
    smile quit exercise sleep drop move become apply check see look avoid watch meet enjoy manage
    recruit cite follow address collaborate figure motivate hug thank forgive help support respect
    appreciate explore cook bake paint draw hike plant fix organize organise declutter donate listen
    study practice practise play record invest budget earn launch grow create design publish share
    celebrate cherish chase embrace ignore protect prioritize prioritise schedule track join lead
    stretch walk swim climb dance sing laugh pray meditate journal floss unplug unfollow delete
    graduate finish complete master perfect develop improve reduce increase spend cut eliminate
    kick break build clean dress wake treat tone train lift run bike write visit volunteer
    reconnect forgive invest declutter buy sell pass win land hit beat reach finally never always
    stay keep fall find give go release register raise adopt attend bring choose clear donate drive
    educate enroll enrol express gain heal jog knit lower mend open own pack plan relax remember rest
    return ride scale sign simplify speak spread stand surf teach tidy trust turn upgrade wash wear
    memorize memorise rebuild restart redo replace renovate remodel repair quit unrush declutter
    grow perfect visit master try learn finish start keep";

// Cue groups: a letter, then words and two-word phrases separated by '|'.
const CUE_GROUPS: [(char, &str); 8] = [
    ('F', "i'll|gonna|wanna|imma|ima|gotta|we'll|i will|we will|i shall|i'm going|im going|am going|
    plan to|planning to|want to|hope to|hoping to|intend to|promise to|resolve to|vow to|need to|have to|
    determined to|like to|aim to|aiming to|trying to|try to|decided to|going to|i must|i should"),
    ('G', "resolution|resolutions|goal|goals|newyear|newyears|nye|bucketlist|challenge|_year_|
    this year|next year|new year|new year's|new years|bucket list|from now|no more|starting today|
    starting tomorrow|starting monday|end of"),
    ('R', "recommend|recommendations|recommendation|suggestions|appreciated|anyone|anybody|advice|
    how do|how can|how should|how would|how to|how does|how much|how many|how long|how often|anyone know|
    does anyone|do you|can someone|can anyone|can you|can i|could someone|could anyone|could you|any tips|
    any advice|any ideas|any suggestions|any recommendations|any help|is it|is there|is this|are there|
    should i|what is|what are|what's|what should|what would|what do|what does|what can|which is|which one|
    i wonder|wondering if|wondering whether|wondering how|looking for|help me|need help|need advice|
    please help|please donate|please give|please send|please retweet|please rt|where can|where do|where is|
    where are|where should|why do|why does|why is|why are|why did|my question|in advance"),
    ('O', "try|because|depends|generally|usually|typically|basically|however|offering|providing|
    provides|available|free|here's|resources|info|information|answer|source|eg|ie|you can|you could|
    you should|you might|you may|you need|you will|you want|you'll|you would|i'd recommend|i'd suggest|
    would recommend|would suggest|i recommend|i suggest|in my|my experience|the reason|for example|
    in general|this is|there are|there is|we're offering|are offering|are providing|are giving|
    are collecting|here is|here are|if you|check out|see also|according to|sign up"),
    ('D', "donate|donated|donating|donation|donations|donor|donors|relief|volunteer|volunteers|
    volunteering|redcross|shelter|shelters|fundraiser|fundraising|supplies|victims|red cross"),
    ('C', "lol|lool|lolol|lmao|rofl|haha|hahaha|hehe|brb|wb|omg|ty|thx|nite|bye|byee|hi|hii|hey|
    heya|hello|hiya|yo|sup|wassup|ugh|yay|aw|aww|awww|kk|ok|okay|nah|yeah|yea|yep|cya|g2g|gtg|bbl|hugs|
    pm|pms|afk|lmfao"),
    ('Y', "you|your|you're|yours|u|ur"),
    ('M', "i|my|me|i'm|im|i've|myself"),
];
// cues whose count matters: (cue letter, feature, bucket bounds of the count)
const COUNTED_CUES: [(char, &str, &[usize]); 4] =
    [('R', "r:req", &[1, 2]), ('O', "r:off", &[1, 3, 6]), ('Y', "r:you", &[1, 3]), ('M', "r:i", &[1, 3, 6])];
const SKIP_FIRST: [&str; 9] = ["rt", "_user_", "_url_", ".", ",", ":", ";", "...", "!"];
const PUNCT_SOFT: [&str; 5] = [".", ",", ";", ":", "..."];
const SENT_END: [&str; 4] = [".", "?", "!", "..."];

const STOP: &str = "
a an the and or but if then so of to in on at by for with from as into onto about over under
up down out off is are was were be been being am do does did doing have has had having it its
it's this that these those there here i me my mine myself we us our ours you your yours he him
his she her hers they them their theirs what which who whom whose when where why how not no
nor yes very too just can could should would will shall may might must also than such own same
other some any all each every both few more most much many lot lots again once only s t don
didn't doesn't isn't aren't wasn't weren't won't can't cannot i'm i've i'll i'd you're you've
you'll you'd we're we've they're it'll that's there's what's let's im ive ill id dont cant wont
isnt u ur r ya yeah yep ok okay oh ah hey hi hello lol lmao haha hehe omg rt via amp
get got getting go going gone went make made want wanted need needed know knew like really
thing things something anything someone anyone anybody everyone way ways one two new good
best better well still even though since while because would question questions answer
answers thanks thank please help know think thought see say said tell use used using
year years day days time today tonight now back first last next see way lot bit actually
";
const TOPIC_STOP_EXTRA: &str = "
want wants wanting wanna gonna gotta trying try tried need needs needing hope hoping plan plans
resolution resolutions goal goals new years year's years newyear newyears nye 2014 2015 2016
maybe probably definitely already always never ever often sometimes usually really actually
quite pretty enough else another around through during before after without within between
every everything nothing people person guy guys girl girls man woman stuff much many lot lots
okay sure yes yeah nope please thank thanks thx ty hi hey hello bye lol lmao haha hehe omg
anyone someone somebody anybody everybody nobody wondering wonder looking find found know
known does doing done make makes making made take takes took taken give gives gave given
come comes came put puts seem seems seemed feel feels felt look looks looked let lets keep
keeps kept start started stop stopped think thinks thought ask asked asking tell told say
says said use uses used using work works worked working able unable sort kind type types
thing things way ways part parts case cases example examples point reason reasons idea ideas
fact question questions answer answers post posts edit update http https www com org net
rt amp via url user good great nice bad best better worse worst big small little long short
high low right wrong true false sure much more less most least also just only even still
today tonight tomorrow yesterday morning night week weeks month months day days time times
";
const TITLE_STARTS: &str = "The|This|These|There|So|When|What|How|Is|Are|Can|Many|Some|In|A|An|\
Our|We|It|Does|Do|Why|Okay|OK|Before|After|Recently|Let|My|I'm|I've|I'd|Currently|Most|Every|\
Which|Where|Should|Would|Could|Has|Have|If|As|For|Since|Lately|Last|Today|Yesterday|Hi|Hello|Hey|\
Suppose|Consider|Given|Assume|Usually|Sometimes|While|At|On|One|Two|Another|Any|All|Often";

// Python's \s and \S: Unicode White_Space and the ASCII separators \x1c-\x1f
const SPACE: &str = r"[\s\x1c-\x1f]";
const NOT_SPACE: &str = r"[^\s\x1c-\x1f]";
// Python's \w (what str.isalnum accepts, and '_'): letters and numbers, not marks
const WORD: &str = r"[\p{L}\p{N}_]";
const NOT_WORD: &str = r"[^\p{L}\p{N}_]";

struct Lexicon {
    url: Regex,
    mention: Regex,
    entity: Regex,
    emoticon: Regex, // a whole whitespace-delimited word
    text_code: Regex,
    wh: HashSet<&'static str>,
    imperative: HashSet<&'static str>,
    cues: HashMap<String, String>, // a word, or "a b" for a bigram -> its cue letters
    topic_stop: HashSet<&'static str>,
}

fn lexicon() -> &'static Lexicon {
    static LEX: OnceLock<Lexicon> = OnceLock::new();
    LEX.get_or_init(|| {
        let re = |p: &str| RegexBuilder::new(p).size_limit(64 << 20).build().expect("valid pattern");
        let mut cues: HashMap<String, String> = HashMap::default();
        for (letter, spec) in CUE_GROUPS {
            for term in spec.split('|') {
                let term = term.split_whitespace().collect::<Vec<_>>().join(" ");
                if !term.is_empty() {
                    cues.entry(term).or_default().push(letter);
                }
            }
        }
        // punctuation: sentence ends (P), questions (Q), exclamations (E), commas (K)
        for (p, letter) in [(".", "P"), ("...", "P"), ("?", "Q"), ("!", "E"), (",", "K")] {
            cues.insert(p.to_string(), letter.to_string());
        }
        Lexicon {
            url: re(&r"(?i)(?:https?://|www\.)N+|\bN+\.(?:com|org|net|ly|co|io)/N*".replace('N', NOT_SPACE)),
            mention: re(&format!("@{WORD}+")),
            entity: re(r"&(amp|lt|gt|quot|#39);"),
            emoticon: re(r"(?i)^(?:[:;=8][-'^o]?[()\[\]dpo/\\|*3]+|<3|\^_\^|xd+|[(][:;])$"),
            text_code: re(&format!(r"(?:^|{NOT_WORD})text{WORD}*{SPACE}+[a-z]+{SPACE}+to{SPACE}+\d{{4,6}}(?:{NOT_WORD}|$)")),
            wh: WH.split_whitespace().collect(),
            imperative: IMPERATIVE.split_whitespace().collect(),
            cues,
            topic_stop: STOP.split_whitespace().chain(TOPIC_STOP_EXTRA.split_whitespace()).collect(),
        }
    })
}

/// Python's `str.isspace` for one character (Unicode White_Space plus the ASCII separators).
fn py_space(c: char) -> bool {
    c.is_whitespace() || ('\x1c'..='\x1f').contains(&c)
}

fn is_titlecase(c: char) -> bool {
    matches!(c, '\u{1c5}' | '\u{1c8}' | '\u{1cb}' | '\u{1f2}' | '\u{1f88}'..='\u{1f8f}' | '\u{1f98}'..='\u{1f9f}'
        | '\u{1fa8}'..='\u{1faf}' | '\u{1fbc}' | '\u{1fcc}' | '\u{1ffc}')
}

/// Python's `str.isupper`: at least one cased character, and none lowercase or titlecase.
fn py_isupper(s: &str) -> bool {
    let mut cased = false;
    for c in s.chars() {
        if c.is_lowercase() || is_titlecase(c) {
            return false;
        }
        cased |= c.is_uppercase();
    }
    cased
}

fn bucket(n: usize, edges: &[usize]) -> usize {
    edges.iter().position(|&e| n <= e).unwrap_or(edges.len())
}

/// Lower case; HTML entities, curly quotes, URLs and mentions made plain.
fn normalise(raw: &str, lex: &Lexicon) -> String {
    let mut t = raw.to_lowercase();
    if t.contains('&') {
        t = lex.entity.replace_all(&t, |c: &regex::Captures| match &c[1] {
            "amp" => "&", "lt" => "<", "gt" => ">", "quot" => "\"", _ => "'",
        }).into_owned();
    }
    if t.contains(['\u{2019}', '\u{2018}', '`']) {
        t = t.replace(['\u{2019}', '\u{2018}', '`'], "'");
    }
    if t.contains('/') || t.contains("www.") {
        t = lex.url.replace_all(&t, " _url_ ").into_owned();
    }
    if t.contains('@') {
        t = lex.mention.replace_all(&t, " _user_ ").into_owned();
    }
    t
}

/// token -> the word the features use: numbers and years become placeholders, hashtags lose
/// their '#', handles and codes (mike22, sk8r) become `_alnum_`.
fn feature_word(tok: &str) -> &str {
    let w = if tok.len() > 1 && tok.starts_with('#') { &tok[1..] } else { tok };
    if w.bytes().all(|b| b.is_ascii_digit()) {
        let b = w.as_bytes();
        return if w.len() == 4 && (b.starts_with(b"19") || b.starts_with(b"20")) { "_year_" } else { "_num_" };
    }
    let alnum = w.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    if w.len() > 4 && alnum && w.bytes().any(|b| b.is_ascii_digit()) && w.bytes().any(|b| b.is_ascii_lowercase()) {
        return "_alnum_";
    }
    w
}

/// The tokens of a normalised text, as `_url_|_user_|#?[a-z0-9]+(?:'[a-z]+)*|[?!,;:]|\.(?:\.\.+)?`
/// finds them leftmost-first (`normalise` has made every curly quote straight). By hand:
/// a regex engine's cost per match is most of a post's cost here.
fn tokens(t: &str, limit: usize) -> Vec<&str> {
    let b = t.as_bytes();
    let alnum = |c: u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() && out.len() < limit {
        let rest = &b[i..];
        let end = if rest.starts_with(b"_url_") {
            i + 5
        } else if rest.starts_with(b"_user_") {
            i + 6
        } else if alnum(b[i]) || (b[i] == b'#' && rest.len() > 1 && alnum(rest[1])) {
            let mut j = i + 1;
            while j < b.len() && alnum(b[j]) {
                j += 1;
            }
            while j + 1 < b.len() && b[j] == b'\'' && b[j + 1].is_ascii_lowercase() {
                j += 2;
                while j < b.len() && b[j].is_ascii_lowercase() {
                    j += 1;
                }
            }
            j
        } else if matches!(b[i], b'?' | b'!' | b',' | b';' | b':') {
            i + 1
        } else if b[i] == b'.' {
            let dots = rest.iter().take_while(|&&c| c == b'.').count();
            if dots >= 3 { i + dots } else { i + 1 }
        } else {
            i += 1;
            continue;
        };
        out.push(&t[i..end]);
        i = end;
    }
    out
}

/// "Some title words Then the body starts": a forum question's title and body run together, as
/// `^[^.?!:\n]{8,120}?[a-z0-9)\]"'] (?:The|This|...)\b` matches.
fn looks_titled(raw: &str) -> bool {
    let chars: Vec<(usize, char)> = raw.char_indices().take(124).collect();
    let forbidden = |c: char| matches!(c, '.' | '?' | '!' | ':' | '\n');
    if chars.iter().take(7).any(|x| forbidden(x.1)) {
        return false;
    }
    for k in 8..chars.len().min(121) {
        if forbidden(chars[k - 1].1) {
            return false;
        }
        let end = chars[k].1;
        if !(end.is_ascii_lowercase() || end.is_ascii_digit() || matches!(end, ')' | ']' | '"' | '\'')) {
            continue;
        }
        if chars.get(k + 1).map(|x| x.1) != Some(' ') {
            continue;
        }
        let rest = &raw[chars[k + 1].0 + 1..];
        if !rest.starts_with(|c: char| c.is_ascii_uppercase()) {
            continue; // every start word is capitalised
        }
        let starts = TITLE_STARTS.split('|').any(|w| {
            rest.starts_with(w) && rest[w.len()..].chars().next().is_none_or(|c| !(c.is_alphanumeric() || c == '_'))
        });
        if starts {
            return true;
        }
    }
    false
}

/// A lexical feature of a post, borrowed from its normalised text.
#[derive(Clone, Copy)]
enum Lexical<'a> {
    Word(&'a str),
    Bigram(&'a str, &'a str),
    Hashtag(&'a str),
    First(&'a str),
    FirstTwo(&'a str, &'a str),
}

impl Lexical<'_> {
    /// Its name in the model's artefact, written into `buf` (reused: no allocation per feature).
    fn name_into(&self, buf: &mut String) {
        buf.clear();
        let (prefix, a, b) = match *self {
            Lexical::Word(w) => ("w:", w, None),
            Lexical::Bigram(x, y) => ("b:", x, Some(y)),
            Lexical::Hashtag(h) => ("h:", h, None),
            Lexical::First(w) => ("f:", w, None),
            Lexical::FirstTwo(x, y) => ("f2:", x, Some(y)),
        };
        buf.push_str(prefix);
        buf.push_str(a);
        if let Some(b) = b {
            buf.push(' ');
            buf.push_str(b);
        }
    }

    fn name(&self) -> String {
        let mut buf = String::new();
        self.name_into(&mut buf);
        buf
    }
}

/// The lexical features (words and bigrams repeated as often as they occur: a term-frequency
/// weight) and cue feature names of one post, from its raw text, its normalised text `t` and
/// the first MAX_TOKENS tokens of `t`.
fn read<'a>(raw: &str, t: &str, toks: &[&'a str], lex: &Lexicon) -> (Vec<Lexical<'a>>, Vec<String>) {
    let toks = &toks[..toks.len().min(MAX_TOKENS)];
    let words: Vec<&'a str> = toks.iter().map(|tok| feature_word(tok)).collect();
    let n = words.len();
    let mut cue: Vec<String> = Vec::new();
    let mut lexical: Vec<Lexical<'a>> = Vec::with_capacity(2 * n + 4);
    lexical.extend(words.iter().map(|w| Lexical::Word(w)));
    // bigrams skip . , ; : (their unigrams stay), with <s> and </s> at the ends
    let mut prev = "<s>";
    for w in words.iter().copied().filter(|w| !PUNCT_SOFT.contains(w)).chain(std::iter::once("</s>")) {
        lexical.push(Lexical::Bigram(prev, w));
        prev = w;
    }
    if t.contains('#') {
        let before = lexical.len();
        lexical.extend(toks.iter().filter(|x| x.starts_with('#')).map(|x| Lexical::Hashtag(&x[1..])));
        let tags = lexical.len() - before;
        if tags > 0 {
            cue.push(format!("r:hash{}", bucket(tags, &[1, 3])));
        }
    }
    // first words (outside a retweet/mention prefix)
    let k = words.iter().take_while(|w| SKIP_FIRST.contains(w)).count();
    if k < n {
        let w0 = words[k];
        lexical.push(Lexical::First(w0));
        if k + 1 < n {
            lexical.push(Lexical::FirstTwo(w0, words[k + 1]));
        }
        if lex.imperative.contains(w0) {
            cue.push("r:imp_start".into());
        }
        if lex.wh.contains(w0) {
            cue.push("r:wh_start".into());
        }
    }
    let mut counts = [0usize; 128]; // cue letter -> how many words and bigrams carry it
    let mut buf = String::new();
    for f in lexical.iter() {
        let letters = match *f {
            Lexical::Word(w) => lex.cues.get(w),
            Lexical::Bigram(a, b) => {
                buf.clear();
                buf.push_str(a);
                buf.push(' ');
                buf.push_str(b);
                lex.cues.get(buf.as_str())
            }
            _ => None,
        };
        for c in letters.into_iter().flat_map(|l| l.bytes()) {
            counts[c as usize] += 1;
        }
    }
    let any_hits = counts.iter().any(|&c| c > 0);
    let hit = |c: char| counts[c as usize];
    let nq = hit('Q');
    if nq > 0 {
        cue.push("r:q".into());
        if nq > 1 {
            cue.push("r:q2".into());
        }
        let qi = words.iter().position(|w| *w == "?").unwrap_or(0);
        if qi <= 15 {
            cue.push("r:q_early".into());
        } else if qi <= 40 {
            cue.push("r:q_mid".into());
        }
        // first sentence is a question (forum title / opening question)
        if words.iter().find(|w| SENT_END.contains(w)) == Some(&"?") {
            cue.push("r:first_sent_q".into());
        }
        if words.last() == Some(&"?") || raw.trim_end_matches(py_space).ends_with('?') {
            cue.push("r:q_end".into());
        }
    }
    if looks_titled(raw) {
        cue.push("r:title".into()); // "Some title words Then the body starts": a forum question's title + body
    }
    if raw.contains('!') {
        cue.push("r:excl".into());
    }
    let nstop = hit('P');
    let nw = n.saturating_sub(hit('K') + nstop);
    cue.push(format!("r:len{}", bucket(nw, &[2, 5, 10, 20, 40, 80])));
    cue.push(format!("r:sent{}", bucket(nstop + nq + hit('E'), &[0, 1, 3, 6])));
    if t.contains("_url_") {
        cue.push("r:url".into());
    }
    if t.contains("_user_") {
        cue.push("r:mention".into());
        if words.first() == Some(&"rt") || t.contains(" rt _user_") {
            cue.push("r:rt".into());
        }
    }
    if (raw.contains([':', ';', '=']) || raw.contains("<3") || raw.contains("^_^") || t.contains("xd"))
        && raw.split(py_space).any(|w| w.starts_with([':', ';', '=', '8', '<', '^', 'x', 'X', '(']) && lex.emoticon.is_match(w))
    {
        cue.push("r:emoticon".into());
    }
    if any_hits {
        let longp = if nw > 40 { "L" } else if nw > 15 { "M" } else { "S" }; // cue x length conjunctions
        if hit('F') > 0 {
            cue.push("r:future".into());
            cue.push(format!("r:future{longp}"));
        }
        if hit('G') > 0 {
            cue.push("r:goalw".into());
            cue.push(format!("r:goalw{longp}"));
        }
        for (letter, name, bounds) in COUNTED_CUES {
            let c = hit(letter);
            if c > 0 {
                cue.push(format!("{name}{}", bucket(c, bounds)));
            }
        }
        if hit('D') > 0 {
            cue.push("r:donate".into());
        }
        if hit('C') > 0 {
            cue.push("r:chat".into());
        }
    }
    if t.contains("text") && lex.text_code.is_match(&t) {
        cue.push("r:textcode".into());
    }
    if raw.chars().count() > 3 && py_isupper(raw) {
        cue.push("r:caps".into());
    }
    if n == 0 {
        cue.push("r:empty".into());
    }
    cue.push("r:bias".into());
    (lexical, cue)
}

/// 'Home Brewing' -> 'home-brewing'; '#Sourdough' -> 'sourdough'.
fn tag_of(tag: &str) -> String {
    let lower = tag.trim_matches(py_space).to_lowercase();
    let mut out = String::with_capacity(lower.len());
    let mut in_gap = false;
    for c in lower.trim_start_matches('#').chars() {
        if py_space(c) || c == '_' {
            if !in_gap {
                out.push('-');
            }
            in_gap = true;
        } else {
            in_gap = false;
            if c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '+' | '.' | '-') {
                out.push(c);
            }
        }
    }
    out.trim_matches(['-', '.']).to_string()
}

fn stem(w: &str) -> Cow<'_, str> {
    let n = w.chars().count();
    if n > 4 && w.ends_with("ies") {
        Cow::Owned(format!("{}y", &w[..w.len() - 3]))
    } else if n > 4 && w.ends_with("sses") {
        Cow::Borrowed(&w[..w.len() - 2])
    } else if n > 3 && w.ends_with('s') && !["ss", "us", "is", "'s"].iter().any(|e| w.ends_with(e)) {
        Cow::Borrowed(&w[..w.len() - 1])
    } else if w.ends_with("'s") {
        Cow::Borrowed(&w[..w.len() - 2])
    } else {
        Cow::Borrowed(w)
    }
}

/// A token's topic form, or "" when it cannot be a topic (stopword, punctuation, short,
/// number, placeholder, hashtag: hashtags are handled apart).
fn topic_form<'a>(tok: &'a str, lex: &Lexicon) -> Cow<'a, str> {
    let w = tok.trim_matches('\'');
    if w.chars().count() < 3 || lex.topic_stop.contains(w) || !w.chars().next().is_some_and(char::is_alphabetic) {
        return Cow::Borrowed("");
    }
    let s = stem(w);
    if lex.topic_stop.contains(s.as_ref()) { Cow::Borrowed("") } else { s }
}

/// A first-seen-order counter.
struct Counts<K> {
    index: HashMap<K, usize>,
    items: Vec<(K, f64)>,
}

impl<K: std::hash::Hash + Eq + Copy> Counts<K> {
    fn new() -> Self {
        Counts { index: HashMap::default(), items: Vec::new() }
    }
    fn add(&mut self, key: K) {
        match self.index.get(&key) {
            Some(&i) => self.items[i].1 += 1.0,
            None => {
                self.index.insert(key, self.items.len());
                self.items.push((key, 1.0));
            }
        }
    }
    fn get(&self, key: K) -> f64 {
        self.index.get(&key).map_or(0.0, |&i| self.items[i].1)
    }
}

/// Normalised routing keywords: the post's tags, its hashtags, then salient words and phrases,
/// from its normalised text `t` and the first MAX_TOPIC_TOKENS tokens of `t`.
fn topics_of(t: &str, toks: &[&str], tags: &[String], limit: usize, lex: &Lexicon) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let push = |out: &mut Vec<String>, x: String| {
        if !x.is_empty() && out.len() < limit && !out.contains(&x) {
            out.push(x);
        }
    };
    for tag in tags {
        push(&mut out, tag_of(tag));
    }
    let toks = &toks[..toks.len().min(MAX_TOPIC_TOKENS)];
    if t.contains('#') {
        for tok in toks.iter().filter(|t| t.len() > 1 && t.starts_with('#')) {
            let h = &tok[1..];
            if !h.bytes().all(|b| b.is_ascii_digit()) && !lex.topic_stop.contains(h) {
                push(&mut out, stem(&tag_of(h)).into_owned());
            }
        }
        if out.len() >= limit {
            return out;
        }
    }
    let stems: Vec<Cow<str>> = toks.iter().map(|tok| topic_form(tok, lex)).collect();
    let mut counts: Counts<&str> = Counts::new();
    for s in stems.iter().filter(|s| !s.is_empty()) {
        counts.add(s.as_ref());
    }
    if counts.items.is_empty() {
        return out;
    }
    let mut bigrams: Counts<(&str, &str)> = Counts::new();
    for pair in stems.windows(2) {
        if !pair[0].is_empty() && !pair[1].is_empty() {
            bigrams.add((pair[0].as_ref(), pair[1].as_ref()));
        }
    }
    let phrase = |(a, b): (&str, &str)| format!("{a}-{b}");
    for ((a, b), _) in bigrams.items.iter().filter(|(_, c)| *c > 1.0).take(2) {
        push(&mut out, phrase((a, b)));
    }
    // most frequent first (long words get a half-count bonus), ties by first position
    for (w, c) in counts.items.iter_mut() {
        if w.chars().count() > 6 {
            *c += 0.5;
        }
    }
    let mut ranked: Vec<(&str, f64)> = counts.items.clone();
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1)); // stable: ties keep their order
    for (w, _) in ranked.into_iter().take(limit) {
        push(&mut out, w.to_string());
    }
    if out.len() < limit && !bigrams.items.is_empty() {
        // the phrase whose words are most frequent, e.g. "cold-brew", "sourdough-starter"
        let mut best: Option<((&str, &str), (f64, f64))> = None;
        for &((x, y), c) in bigrams.items.iter() {
            let k = (c, counts.get(x) + counts.get(y));
            if best.is_none_or(|(_, bk)| k > bk) {
                best = Some(((x, y), k));
            }
        }
        if let Some((b, _)) = best {
            push(&mut out, phrase(b));
        }
    }
    out
}


/// (lexical feature names, cue feature names) of one post, as the model's artefact names them:
/// `w:` words and `b:` bigrams (repeated as often as they occur), `h:` hashtags, `f:`/`f2:`
/// first words, `r:` cues.
#[pyfunction]
fn post_features(text: &str) -> (Vec<String>, Vec<String>) {
    let lex = lexicon();
    let t = normalise(text, lex);
    let toks = tokens(&t, MAX_TOKENS);
    let (lexical, cues) = read(text, &t, &toks, lex);
    (lexical.iter().map(Lexical::name).collect(), cues)
}

/// Routing topics of a post: its tags, its hashtags, then salient words and phrases.
#[pyfunction]
#[pyo3(signature = (text, tags=Vec::new(), limit=MAX_TOPICS))]
fn topics(text: &str, tags: Vec<String>, limit: usize) -> Vec<String> {
    let lex = lexicon();
    let t = normalise(text, lex);
    topics_of(&t, &tokens(&t, MAX_TOPIC_TOKENS), &tags, limit, lex)
}

/// 'Home Brewing' -> 'home-brewing'; '#Sourdough' -> 'sourdough'.
#[pyfunction]
fn normalise_tag(tag: &str) -> String {
    tag_of(tag)
}

/// The linear intent model: feature name -> coefficient row, and the scoring of a batch.
#[pyclass(module = "goalpost_classify_native", frozen)]
struct IntentScorer {
    rows: HashMap<String, usize>,
    coef: Vec<f64>, // (features, labels), row-major
    intercept: Vec<f64>,
    cue_value: f64,
}

#[pymethods]
impl IntentScorer {
    #[new]
    fn new(names: Vec<String>, coef: Vec<f64>, intercept: Vec<f64>, cue_value: f64) -> PyResult<Self> {
        if intercept.is_empty() || coef.len() != names.len() * intercept.len() {
            return Err(PyValueError::new_err("coef must hold one row of len(intercept) per feature"));
        }
        let rows = names.into_iter().enumerate().map(|(i, n)| (n, i)).collect();
        Ok(IntentScorer { rows, coef, intercept, cue_value })
    }

    /// For each post: (the best label's index, every label's probability, its topics), or
    /// (None, [], topics) for a post with nothing to read.
    fn classify(&self, py: Python<'_>, texts: Vec<String>, tags: Vec<Vec<String>>)
        -> PyResult<Vec<(Option<usize>, Vec<f64>, Vec<String>)>> {
        if tags.len() != texts.len() {
            return Err(PyValueError::new_err("tags must have one list per text"));
        }
        Ok(py.detach(|| texts.iter().zip(tags.iter()).map(|(text, tg)| self.one(text, tg)).collect()))
    }
}

impl IntentScorer {
    /// Lexical features share an L2-style norm over the ones the model knows (long posts get no
    /// extreme scores); cues carry `cue_value` whatever the length, as `features.encode` gives
    /// the rows training fits on.
    fn one(&self, text: &str, tags: &[String]) -> (Option<usize>, Vec<f64>, Vec<String>) {
        let lex = lexicon();
        if text.chars().all(py_space) {
            return (None, Vec::new(), topics_of("", &[], tags, MAX_TOPICS, lex));
        }
        let t = normalise(text, lex);
        let toks = tokens(&t, MAX_TOPIC_TOKENS);
        let (lexical, cues) = read(text, &t, &toks, lex);
        let topics = topics_of(&t, &toks, tags, MAX_TOPICS, lex);
        let mut buf = String::new();
        let known: Vec<usize> = lexical.iter().filter_map(|f| {
            f.name_into(&mut buf);
            self.rows.get(buf.as_str()).copied()
        }).collect();
        let nl = self.intercept.len();
        let mut z = vec![0.0f64; nl];
        let mut add = |row: usize, v: f64| {
            for (zl, c) in z.iter_mut().zip(&self.coef[row * nl..(row + 1) * nl]) {
                *zl += v * c;
            }
        };
        if !known.is_empty() {
            let v = 1.0 / (known.len() as f64).powf(0.5);
            known.iter().for_each(|&row| add(row, v));
        }
        if self.cue_value != 0.0 {
            cues.iter().filter_map(|f| self.rows.get(f.as_str())).for_each(|&row| add(row, self.cue_value));
        }
        for (zl, b) in z.iter_mut().zip(&self.intercept) {
            *zl += b;
        }
        let top = z.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        z.iter_mut().for_each(|zl| *zl = (*zl - top).exp());
        let sum: f64 = z.iter().sum();
        z.iter_mut().for_each(|zl| *zl /= sum);
        let best = (0..nl).fold(0, |best, l| if z[l] > z[best] { l } else { best }); // the first of equals
        (Some(best), z, topics)
    }
}

#[pymodule]
fn goalpost_classify_native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(post_features, m)?)?;
    m.add_function(wrap_pyfunction!(topics, m)?)?;
    m.add_function(wrap_pyfunction!(normalise_tag, m)?)?;
    m.add_class::<IntentScorer>()?;
    m.add("MAX_TOPICS", MAX_TOPICS)?;
    Ok(())
}

