"""Template-based generator of labelled training posts for the intent classifier.

Everything here (templates, vocabularies, phrasing) was written by the Goalpost project for this
purpose; it contains no text taken from any external data set. The output is deterministic for a
given seed: ``generate(seed)`` -> list of (text, label, style).

Styles imitate the places posts come from: forum questions and answers (title + body, long
explanations), chat-room lines, tweets (hashtags, mentions, RT prefixes, links, text-speak),
disaster-relief tweets (donation requests and offers, personal status, news) and
new-year-resolution posts.
"""
from __future__ import annotations

import random
import re

# --------------------------------------------------------------------------------------------
# Domains: things, activities (base verb phrases), problems, properties, factors, methods
# --------------------------------------------------------------------------------------------

DOMAINS = {
    "coffee": dict(
        things=["espresso machine", "burr grinder", "french press", "pour-over cone", "moka pot",
                "aeropress", "cold brew", "light roast", "dark roast", "single origin bean",
                "blade grinder", "milk frother", "decaf", "arabica bean", "robusta blend"],
        acts=["brew better espresso", "roast my own beans", "make cold brew at home",
              "dial in my grinder", "steam milk for latte art", "store coffee beans",
              "cut down on caffeine", "clean my espresso machine"],
        problems=["tastes bitter", "tastes sour", "is too weak", "clogs the filter",
                  "goes stale quickly", "leaves grounds in the cup"],
        props=["acidity", "bitterness", "body", "caffeine content", "crema", "sweetness", "aroma"],
        factors=["grind size", "water temperature", "brew time", "roast date", "the ratio of coffee to water",
                 "water hardness", "extraction time"],
        methods=["grinding a little coarser", "using water just off the boil", "weighing the beans",
                 "descaling the machine every month", "keeping the beans in an airtight container",
                 "pre-infusing for a few seconds"],
        people=["baristas", "roasters", "home brewers"]),
    "beer": dict(
        things=["stout", "IPA", "pilsner", "lager", "sour beer", "trappist ale", "wheat beer",
                "barleywine", "porter", "saison", "hop variety", "yeast strain", "growler", "keg"],
        acts=["brew my first batch", "age beer in the cellar", "pour a stout properly",
              "start homebrewing", "pair beer with food", "carbonate a keg", "make a gluten free beer"],
        problems=["has no head", "tastes skunky", "is flat", "is too cloudy", "foams over", "tastes like cardboard"],
        props=["bitterness", "alcohol content", "carbonation", "hop aroma", "malt sweetness", "shelf life",
               "colour"],
        factors=["the fermentation temperature", "the yeast", "how long it is aged", "the serving temperature",
                 "the hops", "the storage conditions", "oxidation"],
        methods=["pouring at a 45 degree angle", "keeping the bottles upright", "storing it cold and dark",
                 "using a wort chiller", "sanitising everything twice", "letting it condition for two weeks"],
        people=["brewers", "monks", "craft breweries", "bartenders"]),
    "wine": dict(
        things=["red wine", "pinot noir", "cabernet", "rose", "champagne", "decanter", "cork",
                "vintage", "riesling", "natural wine"],
        acts=["store wine without a cellar", "pick a wine for dinner", "learn about wine tasting",
              "open champagne safely"],
        problems=["tastes like vinegar", "has sediment", "smells like wet cardboard"],
        props=["tannin", "acidity", "sweetness", "aging potential", "price"],
        factors=["the grape", "the climate", "the vintage", "the oak"],
        methods=["letting it breathe for an hour", "storing bottles on their side", "chilling it slightly"],
        people=["sommeliers", "winemakers"]),
    "math teaching": dict(
        things=["proof assistant", "graphing calculator", "textbook", "problem set", "online homework system",
                "flipped classroom", "calculus course", "intro to proofs class", "logic puzzle",
                "linear algebra course", "exam", "rubric", "lecture slides", "group project"],
        acts=["teach fractions to struggling students", "motivate students in calculus",
              "grade proofs fairly", "introduce induction", "explain limits intuitively",
              "run a flipped classroom", "use puzzles in a logic course", "prevent cheating on online exams"],
        problems=["students copy homework", "students hate word problems", "nobody reads the textbook",
                  "the class is too large", "students cannot write proofs"],
        props=["difficulty", "engagement", "clarity", "rigor", "workload"],
        factors=["the level of the students", "class size", "how the course is assessed", "prior knowledge",
                 "the curriculum"],
        methods=["giving short weekly quizzes", "using worked examples", "letting students present solutions",
                 "starting with concrete examples", "grading for completion", "asking students to explain their reasoning"],
        people=["teachers", "students", "lecturers", "tutors", "undergraduates"]),
    "programming": dict(
        things=["python script", "docker container", "sql query", "git branch", "unit test",
                "rest api", "regular expression", "laptop", "linux server", "javascript framework",
                "database index", "kafka consumer", "compiler"],
        acts=["learn python", "deploy a web app", "speed up a slow query", "write better tests",
              "contribute to open source", "learn rust", "get into machine learning", "set up a home server"],
        problems=["throws a null pointer exception", "runs out of memory", "is really slow",
                  "fails on windows", "crashes on startup", "hangs forever"],
        props=["performance", "memory use", "readability", "latency", "startup time"],
        factors=["the size of the data", "the operating system", "the version you use", "the configuration",
                 "your workload"],
        methods=["adding an index", "profiling before optimising", "reading the official docs",
                 "writing a small reproducible example", "pinning the dependency versions", "using a virtual environment"],
        people=["developers", "beginners", "maintainers", "engineers"]),
    "gardening": dict(
        things=["tomato plant", "raised bed", "compost pile", "sourdough starter", "basil", "houseplant",
                "lawn", "fruit tree", "seedling", "succulent"],
        acts=["grow tomatoes on a balcony", "start a compost pile", "keep houseplants alive",
              "grow vegetables from seed", "prune an apple tree"],
        problems=["has yellow leaves", "keeps wilting", "has aphids", "is not flowering", "got root rot"],
        props=["sunlight", "drainage", "soil acidity", "yield"],
        factors=["how much sun it gets", "the soil", "how often you water", "the climate"],
        methods=["watering deeply but less often", "adding mulch", "moving it to a sunnier spot",
                 "using a well-draining mix"],
        people=["gardeners", "growers"]),
    "fitness": dict(
        things=["marathon", "half marathon", "5k", "running shoes", "gym membership", "protein shake",
                "yoga class", "kettlebell", "bench press", "couch to 5k plan", "treadmill"],
        acts=["run a marathon", "lose 20 pounds", "get fit", "build muscle", "run a 5k",
              "do a pull up", "train for a triathlon", "stretch properly", "get back in shape"],
        problems=["my knees hurt after running", "I plateaued", "I get shin splints",
                  "I cannot stay motivated", "my back hurts when I lift"],
        props=["endurance", "strength", "recovery time", "calorie burn"],
        factors=["your diet", "how much you sleep", "your current fitness", "your training volume"],
        methods=["increasing mileage by no more than ten percent a week", "adding rest days",
                 "getting fitted for shoes", "tracking what you eat", "warming up properly"],
        people=["runners", "coaches", "trainers", "beginners"]),
    "cooking": dict(
        things=["sourdough bread", "cast iron pan", "chef's knife", "instant pot", "pizza dough",
                "risotto", "curry", "stock", "pie crust", "rice cooker", "slow cooker", "meal prep"],
        acts=["bake sourdough bread", "cook healthier meals", "make pizza from scratch",
              "season a cast iron pan", "meal prep for the week", "learn to cook"],
        problems=["comes out dense", "sticks to the pan", "is too salty", "burns on the bottom", "turns out soggy"],
        props=["texture", "flavour", "crust", "moisture"],
        factors=["the oven temperature", "the flour", "the hydration", "how long you knead it"],
        methods=["using a kitchen scale", "preheating the pan", "letting the dough rest overnight",
                 "salting the water"],
        people=["cooks", "chefs", "bakers"]),
    "photography": dict(
        things=["mirrorless camera", "prime lens", "tripod", "raw file", "editing software", "zoom lens"],
        acts=["take better photos", "learn manual mode", "shoot the night sky", "edit raw photos"],
        problems=["pictures come out blurry", "photos look washed out", "the autofocus hunts"],
        props=["sharpness", "dynamic range", "noise"],
        factors=["the shutter speed", "the light", "the aperture", "the sensor size"],
        methods=["using a faster shutter speed", "shooting in raw", "using a tripod"],
        people=["photographers"]),
    "money": dict(
        things=["budget", "emergency fund", "index fund", "credit card", "student loan", "savings account",
                "retirement account", "mortgage"],
        acts=["save money", "pay off my debt", "start investing", "build an emergency fund",
              "stop impulse buying", "make more money", "buy a house", "get out of debt"],
        problems=["my credit score dropped", "I am always broke at the end of the month", "the interest keeps growing"],
        props=["interest rate", "fees", "risk", "return"],
        factors=["your income", "your goals", "the fees", "how long you can leave it invested"],
        methods=["paying the highest interest debt first", "automating your savings", "tracking every expense",
                 "using the fifty thirty twenty rule"],
        people=["investors", "advisers"]),
    "travel": dict(
        things=["passport", "backpack", "hostel", "rail pass", "visa", "carry-on", "travel insurance"],
        acts=["travel to Japan", "visit Europe", "backpack through South America", "see the northern lights",
              "travel more", "visit London", "go to Paris", "road trip across the country"],
        problems=["my flight was cancelled", "my luggage was lost", "my visa was delayed"],
        props=["cost", "comfort", "safety"],
        factors=["the season", "how far ahead you book", "where you stay"],
        methods=["booking early", "travelling off season", "packing light"],
        people=["travellers", "locals"]),
    "languages": dict(
        things=["spanish course", "language app", "grammar book", "flashcard deck", "conversation partner"],
        acts=["learn Spanish", "speak French fluently", "learn Japanese", "learn sign language",
              "improve my English", "learn a new language"],
        problems=["I forget words quickly", "I cannot understand native speakers", "I freeze when speaking"],
        props=["vocabulary", "pronunciation", "fluency"],
        factors=["how much you practise", "your native language", "immersion"],
        methods=["using spaced repetition", "watching shows with subtitles", "speaking from day one"],
        people=["learners", "native speakers"]),
    "music": dict(
        things=["acoustic guitar", "digital piano", "ukulele", "metronome", "guitar strings", "drum kit"],
        acts=["learn guitar", "play the piano", "write a song", "learn to sing", "start a band"],
        problems=["my fingers hurt", "the strings buzz", "I cannot keep time"],
        props=["tone", "action", "tuning"],
        factors=["the string gauge", "practice time", "the setup"],
        methods=["practising with a metronome", "getting a proper setup", "playing slowly at first"],
        people=["musicians", "teachers"]),
    "site meta": dict(
        things=["close vote", "duplicate question", "moderator election", "tag wiki", "reputation",
                "downvote", "edit queue", "comment thread", "bounty", "community wiki", "help center"],
        acts=["ask a good question", "merge two tags", "run for moderator", "improve low quality posts",
              "grow the community", "reopen a closed question"],
        problems=["my question was closed", "my edit was rejected", "I got downvoted without a comment",
                  "the review queue is always full"],
        props=["quality", "visibility", "activity"],
        factors=["the scope of the site", "community consensus", "how the question is worded"],
        methods=["editing the question to be more specific", "posting on meta first",
                 "leaving a comment explaining the downvote", "flagging for moderator attention"],
        people=["moderators", "users", "reviewers", "new users"]),
    "home": dict(
        things=["leaky faucet", "circuit breaker", "drywall", "space heater", "dehumidifier", "smoke detector",
                "generator", "sump pump", "washing machine"],
        acts=["fix a leaky faucet", "paint a room", "insulate the attic", "renovate my kitchen"],
        problems=["keeps tripping", "makes a loud noise", "leaks water", "smells musty"],
        props=["cost", "efficiency", "noise"],
        factors=["the age of the house", "the wiring", "the humidity"],
        methods=["turning off the water first", "calling a licensed electrician", "running a dehumidifier"],
        people=["plumbers", "electricians", "homeowners"]),
    "pets": dict(
        things=["puppy", "kitten", "dog food", "cat litter", "leash", "fish tank", "vet"],
        acts=["train my puppy", "adopt a dog", "introduce a new cat", "keep a fish tank clean"],
        problems=["barks all night", "scratches the furniture", "will not eat", "pulls on the leash"],
        props=["behaviour", "health", "energy"],
        factors=["the breed", "age", "how much exercise it gets"],
        methods=["rewarding good behaviour", "sticking to a routine", "getting a scratching post"],
        people=["vets", "trainers", "owners"]),
}

DOMAIN_NAMES = sorted(DOMAINS)

HANDLES = ["jenny", "mike22", "sk8rboi", "lisa_b", "DJ_Kev", "moonpie", "TexasTom", "user45", "kat",
           "bigdave", "Sarah_J", "rockchick", "nightowl", "Zed", "coolcat99", "marcus", "luna",
           "PaulyD", "sunshine", "tiny", "Mr_Grumpy", "ash", "beth77", "jojo", "rainman", "hawk",
           "CaptainK", "vic", "lola", "ghost", "maddog", "pixie", "TheRealSam", "deb", "room"]
PLACES = ["Ohio", "Texas", "Brooklyn", "Jersey", "Queens", "Boston", "the city", "Hoboken", "Toronto",
          "Philly", "Staten Island", "Long Island", "Atlanta", "Chicago", "LA", "London", "Manila",
          "Dallas", "the coast", "downtown", "Denver", "Seattle", "Miami", "Little Rock"]
RELATIVES = ["mom", "dad", "sister", "brother", "cousin", "aunt", "uncle", "friend", "best friend",
             "roommate", "boyfriend", "girlfriend", "wife", "husband", "grandma", "neighbour", "boss"]
FOODS = ["pizza", "tacos", "ramen", "cereal", "a burger", "leftovers", "ice cream", "chips", "pancakes",
         "sushi", "a sandwich", "soup", "chinese food", "wings"]
SHOWS = ["the game", "a movie", "netflix", "old cartoons", "the news", "football", "a horror movie",
         "youtube videos", "the office", "the playoffs", "cooking shows"]
EMOTICONS = [":)", ":(", ":D", ";)", ":P", "<3", ":-)", "xD", ":/", "^_^", ":'("]
DISASTERS = ["Sandy", "the hurricane", "the storm", "the flood", "the earthquake", "the wildfire",
             "the tornado", "the blizzard", "Frankenstorm", "the typhoon"]
DISASTER_TAGS = ["Sandy", "HurricaneSandy", "hurricane", "flood", "storm", "earthquake", "wildfire",
                 "NYC", "relief", "prayers", "Frankenstorm", "tornado", "typhoon", "NJ", "weather"]
ORGS = ["the Red Cross", "Salvation Army", "the food bank", "our church", "the local shelter",
        "FEMA", "the ASPCA", "Team Rubicon", "the community center", "the city", "UNICEF",
        "Habitat for Humanity", "our school", "the fire department"]
RESOURCES = ["blankets", "bottled water", "canned food", "diapers", "warm clothes", "batteries",
             "flashlights", "baby formula", "hot meals", "phone charging", "shelter", "medical supplies",
             "pet food", "generators", "a place to stay", "free wifi", "rides", "toiletries", "coats"]
VICTIMS = ["victims", "families", "people", "those affected", "survivors", "residents", "evacuees",
           "neighbors", "displaced families", "kids"]
URL = ["http://t.co/{c}", "https://bit.ly/{c}", "http://tinyurl.com/{c}", "https://example.org/{c}",
       "http://www.{w}.com/{c}"]
GOAL_TAGS = ["NewYearsResolution", "resolution", "2015", "NewYear", "goals", "newyearnewme",
             "fitness", "motivation", "NYE", "2016", "resolutions", "goals2015", "blessed", "YOLO",
             "focus", "grind", "teamnosleep", "health", "bucketlist"]
STATUS_TAGS = ["mood", "bored", "tgif", "monday", "lazy", "random", "life", "fail", "winning", "blessed",
               "nofilter", "tired", "foodie", "justsaying", "sports", "love", "weekend", "ugh"]
ANSWER_SOURCES = ["the official documentation", "Wikipedia", "a study from 2012", "the manufacturer",
                  "most textbooks", "the FAQ", "a paper I read", "the style guidelines", "the help center"]

GENERIC_GOALS = [
    "lose 20 pounds", "lose weight", "quit smoking", "save more money", "read 50 books", "read more",
    "drink more water", "drink less", "stop drinking soda", "eat healthier", "go to the gym more",
    "hit the gym 4 times a week", "get a six pack", "be more positive", "stop procrastinating",
    "finish my degree", "graduate", "get a new job", "get a promotion", "get my license", "pass my exams",
    "get straight A's", "be a better person", "be nicer to people", "call my mom more", "spend more time with family",
    "stop caring what people think", "delete my social media", "spend less time on my phone",
    "pray more", "go to church more", "be happy", "find myself", "fall in love", "stop being lazy",
    "wake up earlier", "sleep 8 hours a night", "meditate every day", "keep my room clean",
    "stop biting my nails", "stop cursing", "finish my novel", "write a book", "learn to cook",
    "cook at home more", "volunteer more", "get out of debt", "pay off my student loans",
    "move out", "buy a car", "start my own business", "make more money", "make bank", "get paid",
    "be a better friend", "stop texting my ex", "forgive more", "stay single", "get a girlfriend",
    "get a boyfriend", "get engaged", "smile more", "worry less", "complain less", "go vegan",
    "stop eating fast food", "cut out sugar", "run every morning", "do yoga", "learn to swim",
    "get my black belt", "visit my grandparents", "see more concerts", "take more pictures",
    "keep a journal", "be more organized", "stop being late", "be on time", "stop skipping class",
    "make the honor roll", "make varsity", "dunk a basketball", "get into college", "finish school",
    "take my career seriously", "ignore the haters", "cut off fake friends", "keep grinding",
    "stay focused", "be more confident", "love myself", "stop eating after 8", "quit my job",
    "stop gossiping", "be more patient", "go back to school", "travel more", "drink more tea",
]
GOAL_ADVERBS = ["", "", "", " this year", " in 2015", " in 2016", " by summer", " by June",
                " once and for all", " for real this time", " every day", " more often", " this time",
                " starting monday", " next year"]

STATUS_ACTIVITIES = [
    "watching {show}", "eating {food}", "chilling at home", "stuck in traffic", "at work",
    "cleaning my room", "doing laundry", "on my lunch break", "waiting for the bus", "at the mall",
    "listening to music", "playing video games", "just got home", "in bed", "so tired", "bored",
    "half asleep", "drinking coffee", "on the train", "babysitting my {rel}'s kids",
    "still in my pajamas", "sitting by the fire", "doing homework", "walking the dog",
]
STATUS_FEELINGS = ["bored", "tired", "happy", "sad", "sleepy", "hungry", "cold", "annoyed", "excited",
                   "stressed", "sick", "so done", "confused", "grumpy", "chill", "fine", "great",
                   "lonely", "full", "cranky"]
WEATHER = ["it's raining again", "so cold today", "snowing here", "it's hot as hell", "the wind is crazy",
           "finally sunny", "foggy this morning", "thunder outside"]


def _pick(r: random.Random, xs):
    return xs[r.randrange(len(xs))]


def _code(r: random.Random, n: int = 8) -> str:
    return "".join(r.choice("abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ0123456789") for _ in range(n))


def _url(r):
    return _pick(r, URL).format(c=_code(r), w=_pick(r, ["news", "blog", "donate", "help", "local", "story"]))


def _handle(r):
    x = r.random()
    if x < 0.1:
        return _pick(r, ["User", "guest", "Guest", "member", "chatter", "anon"]) + str(r.randrange(1, 999))
    h = _pick(r, HANDLES)
    if x < 0.4:
        h = h + str(r.randrange(1, 99))
    return h


def _num(r, lo=2, hi=30):
    return str(r.randrange(lo, hi))


# --------------------------------------------------------------------------------------------
# Surface noise: makes tweets and chat look like tweets and chat
# --------------------------------------------------------------------------------------------

_TEXTSPEAK = {"you": "u", "your": "ur", "are": "r", "to": "2", "for": "4", "please": "pls",
              "because": "cuz", "tonight": "2nite", "people": "ppl", "thanks": "thx", "with": "w/",
              "really": "rly", "going to": "gonna", "want to": "wanna", "i am": "im", "don't": "dont",
              "i'm": "im", "can't": "cant", "okay": "ok", "love": "luv", "great": "gr8", "be": "b"}


def textspeak(r, s: str, p: float = 0.4) -> str:
    words = s.split(" ")
    out = []
    for w in words:
        lw = w.lower()
        if lw in _TEXTSPEAK and r.random() < p:
            out.append(_TEXTSPEAK[lw])
        else:
            out.append(w)
    return " ".join(out)


def casual(r, s: str) -> str:
    x = r.random()
    if x < 0.35:
        s = s.lower()
    elif x < 0.40:
        s = s.upper()
    if r.random() < 0.4:
        s = s.replace("'", "")
    if r.random() < 0.3:
        s = s.rstrip(".")
    if r.random() < 0.25:
        s = textspeak(r, s)
    return s


def tweetify(r, s: str, tags: list[str], p_tag=0.5, p_rt=0.2, p_url=0.2, p_mention=0.15, p_emo=0.1) -> str:
    if r.random() < p_mention:
        s = "@" + _handle(r) + " " + s
    if r.random() < p_tag:
        k = 1 + (r.random() < 0.35) + (r.random() < 0.15)
        s = s + " " + " ".join("#" + _pick(r, tags) for _ in range(k))
    if r.random() < p_emo:
        s = s + " " + _pick(r, EMOTICONS)
    if r.random() < p_url:
        s = s + " " + _url(r)
    if r.random() < p_rt:
        s = "RT @" + _handle(r) + ": " + s
    if r.random() < 0.1:
        # inline hashtag on a word
        ws = s.split(" ")
        i = r.randrange(len(ws))
        if ws[i].isalpha() and len(ws[i]) > 3:
            ws[i] = "#" + ws[i]
            s = " ".join(ws)
    return s


def drop_hashtags(r, s: str, p: float = 0.25) -> str:
    """Clients may move hashtags into the post's tags: the text then has holes where they were."""
    if "#" not in s or r.random() >= p:
        return s
    return " ".join(w for w in s.split(" ") if not w.startswith("#")) or s


# --------------------------------------------------------------------------------------------
# goal
# --------------------------------------------------------------------------------------------

GOAL_VERBS = {
    "release": ["a mixtape", "my first album", "an app", "a podcast episode every week"],
    "grow out": ["my hair", "my beard", "my eyebrows", "my nails"],
    "perfect": ["my chili recipe", "my jump shot", "my handwriting", "my pancake flip", "my homebrew"],
    "work on": ["my patience", "handling stress", "my posture", "my temper", "my credit score", "my confidence",
                "my relationship with god", "my self esteem", "being on time"],
    "find": ["a job I love", "a better apartment", "inner peace", "a hobby", "my passion", "a gym buddy"],
    "build": ["a tiny house", "my own computer", "a better morning routine", "muscle", "my savings", "an app"],
    "master": ["the guitar", "chess", "the splits", "excel", "my emotions", "a handstand"],
    "try": ["a new sport", "rock climbing", "every pizza place in town", "something that scares me", "yoga"],
    "visit": ["my grandparents more", "all 50 states", "Iceland", "a new country", "Disney World"],
    "learn": ["to drive stick", "to juggle", "sign language", "to budget", "photoshop", "to say no", "to dance"],
    "quit": ["energy drinks", "biting my nails", "online shopping", "fast food", "vaping", "my toxic job"],
    "finish": ["my degree", "that puzzle", "the marathon", "my bathroom remodel", "every book I start"],
    "start": ["a garden", "a blog", "my own business", "journaling", "running again", "saving for a house"],
    "keep": ["my room clean", "a gratitude journal", "my plants alive", "in touch with old friends"],
    "get": ["a new job", "my GED", "my finances in order", "in shape", "over my ex", "organized", "a passport"],
    "stop": ["overthinking", "procrastinating", "eating late", "caring so much", "skipping breakfast", "buying junk"],
    "eat": ["less meat", "more greens", "breakfast every day", "clean", "out less"],
    "drink": ["less coffee", "more water", "only on weekends", "green tea daily"],
    "save": ["for a car", "$5000", "every penny", "half my paycheck"],
    "run": ["a 10k", "every day", "my first ultra", "three times a week"],
    "read": ["the whole bible", "a book a week", "more poetry", "before bed"],
    "spend": ["less on clothes", "more time outside", "more time with my kids", "less time online"],
    "make": ["new friends", "time for myself", "my bed every morning", "the dean's list", "a budget"],
    "become": ["a nurse", "a morning person", "vegetarian", "debt free", "a better cook"],
    "pay off": ["my car", "my credit cards", "my loans", "the house"],
    "develop": ["my own style", "better habits", "a thicker skin", "my signature dish"],
    "lose": ["the last 10 pounds", "the baby weight", "my belly", "15 lbs"],
    "treat": ["myself better", "people with kindness", "my body right"],
    "leave": ["twitter for a month", "my comfort zone", "the past behind", "work on time"],
    "write": ["every day", "a letter to my future self", "my memoir", "more poems"],
    "unplug": ["on sundays", "after 9pm", "more often"],
    "go": ["to bed earlier", "skydiving", "back to school", "a whole month without sugar", "to more concerts"],
}
GOAL_VERB_LIST = sorted(GOAL_VERBS)


IMP_VERBS = ["watch", "meet", "enjoy", "manage", "recruit", "cite", "follow", "address", "collaborate with",
             "figure out", "motivate", "call", "hug", "thank", "forgive", "help", "support", "respect",
             "appreciate", "explore", "cook", "bake", "paint", "draw", "hike", "plant", "fix", "organize",
             "declutter", "donate", "listen to", "study", "practice", "play", "record", "invest in", "budget for",
             "earn", "visit", "apply to", "launch", "grow", "create", "design", "publish", "share", "take",
             "make", "see", "try", "attend", "celebrate", "cherish", "chase", "embrace", "ignore", "protect",
             "prioritize", "schedule", "track", "finish", "read", "write", "buy", "sell", "fund", "join", "lead"]
IMP_MORE = ["sunsets", "books", "vegetables", "movies", "friends", "photos", "risks", "walks", "concerts",
            "museums", "podcasts", "people", "fruit", "documentaries", "compliments", "letters", "classes",
            "road trips", "home cooked meals", "games", "videos", "songs", "recipes", "projects", "clients"]
IMP_OBJ = ["my time", "my money", "my family", "my friends", "my body", "my mind", "life", "every moment",
           "the little things", "my idol", "someone famous", "my dreams", "my health", "my career",
           "my sleep", "my spending", "my goals", "my blessings", "new people", "the world", "my own path",
           "a new hobby", "the outdoors", "my passion", "my calendar", "my weight", "my faith", "my team"]


def _goal_vo(r) -> str:
    x = r.random()
    if x < 0.4:
        v = _pick(r, GOAL_VERB_LIST)
        return v + " " + _pick(r, GOAL_VERBS[v])
    v = _pick(r, IMP_VERBS)
    if x < 0.65:
        return f"{v} more {_pick(r, IMP_MORE)}"
    if x < 0.72:
        return f"{v} less {_pick(r, IMP_MORE)}"
    if x < 0.8:
        return f"{v} {_pick(r, IMP_OBJ)} {_pick(r, ['wisely', 'better', 'more', 'every day', 'seriously', 'like never before'])}"
    return f"{v} {_pick(r, IMP_OBJ)}"


def _goal_phrase(r) -> str:
    x = r.random()
    if x < 0.45:
        g = _goal_vo(r)
    elif x < 0.75:
        g = _pick(r, GENERIC_GOALS)
    else:
        d = DOMAINS[_pick(r, DOMAIN_NAMES)]
        g = _pick(r, d["acts"])
    return g


FRAG_ADJ = ["financial", "mental", "physical", "emotional", "personal", "professional", "academic",
            "creative", "social", "daily", "weekly", "healthy", "better", "real", "total", "inner", "more",
            "less", "steady", "honest", "positive", "consistent", "quiet", "early", "slow", "simple"]
FRAG_NOUN = ["growth", "freedom", "health", "fitness", "discipline", "balance", "peace", "focus", "habits",
             "self care", "self love", "sleep", "savings", "independence", "confidence", "patience",
             "gratitude", "kindness", "progress", "mornings", "workouts", "budgeting", "journaling",
             "prayer", "reading", "writing", "walks", "meals", "stretching", "mindfulness", "hydration",
             "organisation", "boundaries", "honesty", "courage", "stability", "adventures", "family dinners"]
FRAG_GERUND = ["reading", "saving", "running", "cooking", "praying", "writing", "travelling", "studying",
               "stretching", "swimming", "volunteering", "walking", "smiling", "laughing", "listening",
               "eating clean", "drinking water", "working out", "getting organised", "learning", "sleeping",
               "calling home", "hiking", "meditating", "budgeting", "dancing", "forgiving"]
FRAG_WHAT = ["sugar", "soda", "takeout", "gossip", "drama", "screen time", "junk", "stress", "debt",
             "procrastination", "caffeine", "negativity", "spending", "complaining", "snacking", "excuses"]


def gen_goal_fragment(r) -> str:
    """Resolution posts whose hashtag was moved to the tags: often just a noun phrase or a bare
    verb phrase ("Better habits", "more stretching", "cut back on soda")."""
    a = _pick(r, FRAG_ADJ); nn = _pick(r, FRAG_NOUN); gg = _pick(r, FRAG_GERUND); wh = _pick(r, FRAG_WHAT)
    t = r.randrange(16)
    if t == 0: s = f"{a} {nn}"
    elif t == 1: s = f"{nn}"
    elif t == 2: s = f"more {gg}"
    elif t == 3: s = f"less {wh}"
    elif t == 4: s = f"{gg} more"
    elif t == 5: s = f"{gg} every day"
    elif t == 6: s = f"no {wh}"
    elif t == 7: s = f"cut back on {wh}"
    elif t == 8: s = f"{a} {nn} and {gg} more"
    elif t == 9: s = f"{_goal_vo(r)}"
    elif t == 10: s = f"{_pick(r, GENERIC_GOALS)}"
    elif t == 11: s = f"{nn}. {_pick(r, FRAG_NOUN)}. {_pick(r, FRAG_NOUN)}"
    elif t == 12: s = f"my {_pick(r, ['only one', 'main one', 'big one', 'number one'])}: {gg} more"
    elif t == 13: s = f"{_pick(r, ['focus on', 'prioritise', 'all about', 'committing to'])} {a} {nn}"
    elif t == 14: s = f"{_pick(r, GENERIC_GOALS)} and {_pick(r, GENERIC_GOALS)}"
    else: s = f"{_pick(r, ['to', 'To'])} {_pick(r, GENERIC_GOALS)}"
    x = r.random()
    if x < 0.5:
        s = s[0].upper() + s[1:]
    elif x < 0.6:
        s = s.title()
    if r.random() < 0.3:
        s += _pick(r, ["!", ".", " :)", "!!", " lol", " 🙏", " 💪", " for real", " this time"])
    x = r.random()
    if x < 0.15:
        s = f"RT @{_handle(r)}: " + s
    elif x < 0.25:
        s = s + " @" + _handle(r)
    elif x < 0.35:
        s = s + " #" + _pick(r, ["fitness", "health", "motivation", "selfcare", "faith", "money", "2015", "life"])
    return s


def gen_goal_casual(r) -> str:
    """Resolutions said in passing: musing, half-joking, with a reason or a complaint attached."""
    g = _goal_vo(r) if r.random() < 0.5 else _pick(r, GENERIC_GOALS)
    gg = _pick(r, FRAG_GERUND); wh = _pick(r, FRAG_WHAT)
    yr = _pick(r, ["2015", "2016", "this year", "the new year", "january"])
    t = r.randrange(14)
    if t == 0: s = f"Seriously considering {gg} more, it just makes sense"
    elif t == 1: s = f"I still love {wh} way too much... MUST {g}!"
    elif t == 2: s = f"Here's to {gg} more in {yr}"
    elif t == 3: s = f"{wh.capitalize()} has to go. Something to change."
    elif t == 4: s = f"Yearly tradition: promise to {g}. Let's see how long it lasts"
    elif t == 5: s = f"Maybe {yr} should be about {gg}. Can't hurt"
    elif t == 6: s = f"Not {gg} enough lately. That changes {_pick(r, ['now', 'tomorrow', 'monday', 'this week'])}"
    elif t == 7: s = f"The plan for {yr}? {g.capitalize()}. Who's with me?"
    elif t == 8: s = f"{_pick(r, ['Ugh', 'Welp', 'Ok', 'Alright'])}. {yr.capitalize()}. Time to {g}"
    elif t == 9: s = f"I keep saying I'll {g}. This time I mean it"
    elif t == 10: s = f"Day one of trying to {g}. {_pick(r, ['So far so good', 'Already hard', 'Pray for me', 'Send snacks'])}"
    elif t == 11: s = f"Thinking about {gg} every morning instead of scrolling"
    elif t == 12: s = f"Less {wh}, more {gg}. That's all I ask of myself"
    else: s = f"Quick reminder to self: {g}"
    return drop_hashtags(r, tweetify(r, casual(r, s) if r.random() < 0.4 else s, GOAL_TAGS, p_tag=0.35, p_rt=0.2,
                                     p_url=0.05, p_mention=0.15, p_emo=0.1), 0.4)


def gen_goal(r) -> tuple[str, str]:
    if r.random() < 0.12:
        return gen_goal_fragment(r), "tweet"
    if r.random() < 0.08:
        return gen_goal_casual(r), "tweet"
    g = _goal_phrase(r)
    adv = _pick(r, GOAL_ADVERBS)
    yr = _pick(r, ["2015", "2016", "2017", "2024", "2025", "2027", "this year", "next year", "the new year"])
    g2 = _goal_phrase(r)
    g3 = _goal_phrase(r)
    cap = g[0].upper() + g[1:]
    t = r.randrange(80)
    if t == 0: s = f"I want to {g}{adv}."
    elif t == 1: s = f"This year I will {g}."
    elif t == 2: s = f"New Years resolution: {g}"
    elif t == 3: s = f"New year's resolutions: {g}, {g2} and {g3}."
    elif t == 4: s = f"My goal for {yr} is to {g}."
    elif t == 5: s = f"{cap}{adv}."
    elif t == 6: s = f"{cap}. {g2[0].upper() + g2[1:]}. {g3[0].upper() + g3[1:]}."
    elif t == 7: s = f"I'm going to {g}{adv}"
    elif t == 8: s = f"Gonna {g} in {yr}"
    elif t == 9: s = f"{yr} is the year I {g}"
    elif t == 10: s = f"Resolution #1: {g}. Resolution #2: {g2}."
    elif t == 11: s = f"I really need to {g}{adv}"
    elif t == 12: s = f"Hoping to finally {g}{adv}"
    elif t == 13: s = f"Time to {g}!"
    elif t == 14: s = f"Determined to {g}{adv}"
    elif t == 15: s = f"One of my goals is to {g}."
    elif t == 16: s = f"I'd love to {g} someday."
    elif t == 17: s = f"Someday I will {g}."
    elif t == 18: s = f"Step one: {g}. Step two: {g2}."
    elif t == 19: s = f"No more excuses, I'm going to {g}"
    elif t == 20: s = f"I promise myself I will {g}{adv}"
    elif t == 21: s = f"Planning to {g} before I turn {r.randrange(20, 60)}."
    elif t == 22: s = f"Bucket list: {g}"
    elif t == 23: s = f"Starting monday I am going to {g}"
    elif t == 24: s = f"My only resolution is to {g}"
    elif t == 25: s = f"In {yr} I plan to {g} and {g2}"
    elif t == 26: s = f"I will {g}. I will {g2}. I will {g3}."
    elif t == 27: s = f"Stop {_pick(r, ['worrying', 'complaining', 'being lazy', 'drinking', 'smoking', 'wasting time', 'eating junk'])}. Start {_pick(r, ['living', 'saving', 'running', 'reading', 'working out', 'praying', 'studying'])}."
    elif t == 28: s = f"This is the year I finally {g}"
    elif t == 29: s = f"Goal: {g}{adv}"
    elif t == 30: s = f"I can't let {yr} end without me being able to {g}"
    elif t == 31: s = f"Trying to {g}{adv}, wish me luck"
    elif t == 32: s = f"Dream: {g}. Plan: {g2}. Reality: let's do this."
    elif t == 33: s = f"Come {yr} I will {g}"
    elif t == 34: s = f"I've decided to {g}{adv}."
    elif t == 35: s = f"I am going to {g} even if it kills me"
    elif t == 36: s = f"Less {_pick(r, ['drama', 'junk food', 'stress', 'netflix', 'partying', 'excuses', 'screen time'])}, more {_pick(r, ['sleep', 'books', 'water', 'gym', 'family time', 'money', 'love', 'travel'])}"
    elif t == 37: s = f"I will NOT {g2} in {yr}. I will {g}."
    elif t == 38: s = f"Want to {g}{adv}."
    elif t == 39: s = f"Really thinking about trying to {g}{adv}"
    elif t == 40: s = f"My {yr} goals: {g}, {g2}."
    elif t == 41: s = f"Aiming to {g} by the end of {yr}"
    elif t == 42: s = f"Never again. From now on I {g2.split(' ')[0]} {' '.join(g2.split(' ')[1:])}."
    elif t == 43: s = f"Finally signing up to {g}, this is happening"
    elif t == 44: s = f"New year new me: {g}"
    elif t == 45: s = f"I wanna {g}{adv}"
    elif t == 46: s = f"To {g}{adv}!"
    elif t == 47: s = f"{r.randrange(1, 10)}. {cap}"
    elif t == 48: s = f"My #{_pick(r, ['resolution', 'NewYearsResolution', 'goal', 'resolution2015'])} is to {g}{adv}"
    elif t == 49: s = f"My #{_pick(r, ['resolution', 'goal', 'NewYearsResolution'])}? {cap}. What's your #{_pick(r, ['resolution', 'goal'])}?"
    elif t == 50: s = f"Mine is to {g}. What are yours?"
    elif t == 51: s = f"{cap} and {g2}{adv}"
    elif t == 52: s = f"Goodbye {_pick(r, ['junk food', 'soda', 'toxic people', 'cigarettes', 'laziness', 'debt', 'excuses'])}, hello {_pick(r, ['gym', 'salad', 'savings', 'happiness', 'books', 'new me'])}"
    elif t == 53: s = f"Gotta {g} so I can {g2}"
    elif t == 54: s = f"Need to {g} after the holidays"
    elif t == 55: s = f"I'm done with {_pick(r, ['junk food', 'drama', 'fake friends', 'smoking', 'being broke', 'procrastinating'])}. Going to {g} instead"
    elif t == 56: s = f"Be {_pick(r, ['more patient', 'kinder', 'healthier', 'happier', 'braver', 'more grateful', 'less selfish', 'the best version of me'])}{adv}"
    elif t == 57: s = f"Just {g}. That's it. That's the plan."
    elif t == 58: s = f"{cap}, one day at a time"
    elif t == 59: s = f"I should really {g}{adv}"
    elif t == 60: s = f"Mine: {g}"
    elif t == 61: s = f"Not making any big promises, just want to {g}"
    elif t == 62: s = f"I have a list. Number one: {g}. Surely I can do that in 365 days"
    elif t == 63: s = f"Working on it: {g}"
    elif t == 64: s = f"{cap}. No excuses."
    elif t == 65: s = f"Going to try to {g} and {g2}{adv}"
    elif t == 66: s = f"More {_pick(r, ['selfies', 'reading', 'travel', 'laughing', 'hiking', 'family time', 'vegetables', 'music', 'sleep'])}, less {_pick(r, ['stress', 'drama', 'takeout', 'tv', 'worrying', 'sugar', 'phone time'])}"
    elif t == 67: s = f"{cap} #{_pick(r, ['goals', 'resolution', 'motivation', 'NewYear', '2015goals', 'fitspo'])}"
    elif t == 68: s = f"My {_pick(r, ['first', 'new', 'big'])} {_pick(r, ['5k training', 'savings plan', 'diet', 'reading challenge', 'no spend month'])} {_pick(r, ['starts tomorrow', 'kicks off tonight', 'begins monday', 'starts now'])}!"
    elif t == 69: s = f"Finally {g}{adv}"
    elif t == 70: s = f"{_pick(r, ['Must', 'Have to', 'Need to'])} {g}!"
    elif t == 71: s = f"I'll try harder to {g}{adv}"
    elif t == 72: s = f"Do {_pick(r, ['more', 'less'])} {_pick(r, ['volunteer work', 'cardio', 'overtime', 'reading', 'cooking', 'yoga', 'stuff that scares me'])}{adv}."
    elif t == 73: s = f"{_pick(r, ['Dont', 'Never', 'NEVER', 'Do not', 'dont'])} {_pick(r, ['catch feelings', 'take back an ex', 'settle', 'skip leg day', 'text him back', 'give up', 'look back', 'eat after midnight', 'trust fake people', 'waste another year'])}{_pick(r, ['', '!', '!!!', ' again', ' this year', ' under any circumstance'])}"
    elif t == 74: s = f"No more {_pick(r, ['fast food', 'excuses', 'drama', 'late nights', 'soda', 'mr nice guy', 'procrastination', 'toxic people', 'cigarettes', 'online shopping'])}{_pick(r, ['', '!', '!!!!', ' in ' + yr, '. Enough is enough'])}"
    elif t == 75: s = f"Fewer {_pick(r, ['excuses', 'late nights', 'takeout meals', 'arguments', 'impulse buys', 'selfies'])}, more {_pick(r, ['results', 'sleep', 'home cooking', 'hugs', 'savings', 'books'])}"
    elif t == 76: s = f"Out with the old and in with the new{_pick(r, ['', '!', '. ' + cap])}"
    elif t == 77: s = f"{_pick(r, ['Only', 'Just', 'Nothing but'])} {_pick(r, ['positive vibes', 'good energy', 'real friends', 'gains', 'love', 'water'])} {_pick(r, ['from now on', 'this year', 'in ' + yr, ''])}"
    elif t == 78: s = f"{_pick(r, ['Time to', 'Ready to', 'About to'])} {g} {_pick(r, ['for good', 'once and for all', 'fr', 'no cap', ''])}"
    else: s = f"For {yr}: {g}"
    if r.random() < 0.2:
        # the keyword was a hashtag that the client moved to the post's tags: "My is to ..."
        s2 = re.sub(r"(?i)#?(new ?year'?s )?(resolution|goal)s?\b", "", s, count=1)
        s = re.sub(r"  +", " ", s2).strip() or s
    style = _pick(r, ["tweet"] * 7 + ["chat"] * 3 + ["forum"])
    if style == "tweet":
        s = drop_hashtags(r, tweetify(r, casual(r, s), GOAL_TAGS, p_tag=0.45, p_rt=0.2, p_url=0.1, p_emo=0.1), 0.35)
    elif style == "chat":
        s = casual(r, s)
    else:
        d = _pick(r, DOMAIN_NAMES)
        if r.random() < 0.5:
            s = s + " " + _pick(r, [
                "I've been putting it off for years.", "Wish me luck!", "I'll post updates here.",
                "This is my year.", "Nothing is going to stop me.", "Already bought the gear.",
                f"I have never been into {d} before but I'm excited.", "I'm nervous but ready."])
    return s, style


# --------------------------------------------------------------------------------------------
# request (questions, asking for help or recommendations, asking for donations)
# --------------------------------------------------------------------------------------------

def _short_question(r, d) -> str:
    th = _pick(r, d["things"]); th2 = _pick(r, d["things"]); a = _pick(r, d["acts"])
    pb = _pick(r, d["problems"]); pr = _pick(r, d["props"]); fa = _pick(r, d["factors"])
    pe = _pick(r, d["people"])
    t = r.randrange(36)
    if t == 0: return f"How do I {a}?"
    if t == 1: return f"Anyone know a good {th}?"
    if t == 2: return f"What's the best way to {a}?"
    if t == 3: return f"Can someone recommend a {th} for a beginner?"
    if t == 4: return f"Any tips on how to {a}?"
    if t == 5: return f"My {th} {pb}. What am I doing wrong?"
    if t == 6: return f"Is it normal that my {th} {pb}?"
    if t == 7: return f"Where can I buy a decent {th}?"
    if t == 8: return f"Which {th} should I get?"
    if t == 9: return f"Why does my {th} {pb.replace('is ', 'seem ') if pb.startswith('is ') else pb}?"
    if t == 10: return f"Does {fa} affect the {pr} of a {th}?"
    if t == 11: return f"{th[0].upper() + th[1:]} vs {th2}: which is better?"
    if t == 12: return f"How much does {fa} matter?"
    if t == 13: return f"Is it safe to use an old {th}?"
    if t == 14: return f"What is the difference between a {th} and a {th2}?"
    if t == 15: return f"Should I get a {th} or a {th2}?"
    if t == 16: return f"How long does it take to {a}?"
    if t == 17: return f"Is there a way to {a} without a {th}?"
    if t == 18: return f"Do {pe} really care about {pr}?"
    if t == 19: return f"Looking for advice on how to {a}"
    if t == 20: return f"Need help: my {th} {pb}"
    if t == 21: return f"Can anyone help me {a}?"
    if t == 22: return f"What {th} do you guys use?"
    if t == 23: return f"How can I tell if my {th} is any good?"
    if t == 24: return f"What are good resources to {a}?"
    if t == 25: return f"Is {th} worth it?"
    if t == 26: return f"Recommendations for a {th} under ${r.randrange(20, 500)}?"
    if t == 27: return f"I was wondering how {pe} deal with {pr}"
    if t == 28: return f"Could somebody explain how {fa} changes the {pr}?"
    if t == 29: return f"What would you suggest for someone who wants to {a}?"
    if t == 30: return f"Has anyone tried using a {th} to {a}?"
    if t == 31: return f"Where do I start if I want to {a}?"
    if t == 32: return f"Please help, my {th} {pb}!"
    if t == 33: return f"What causes a {th} to lose {pr}?"
    if t == 34: return f"Can you {a} with a {th}?"
    return f"Any {pe} here who can tell me how to {a}?"


def _context_sentence(r, d) -> str:
    th = _pick(r, d["things"]); a = _pick(r, d["acts"]); pb = _pick(r, d["problems"])
    pr = _pick(r, d["props"]); fa = _pick(r, d["factors"]); me = _pick(r, d["methods"])
    pe = _pick(r, d["people"])
    t = r.randrange(34)
    if t == 20: return f"Most {pe} I know assume that {fa} is what matters, and the usual advice is {me}."
    if t == 21: return f"For example, in my last {_pick(r, ['class', 'batch', 'project', 'attempt', 'semester'])} the {pr} was {_pick(r, ['fine', 'terrible', 'unpredictable', 'much better than expected'])}."
    if t == 22: return f"Disclaimer: I will use {th} as an example because it is easier for me to explain."
    if t == 23: return f"The {th} is {_pick(r, ['widely', 'often', 'usually', 'sometimes'])} described as the standard choice, and there are many ways of doing it."
    if t == 24: return f"I was {_pick(r, ['helping a friend', 'tutoring a student', 'talking to a colleague', 'at a meetup', 'reading a book'])} {_pick(r, ['today', 'last week', 'recently', 'the other day'])} and we got onto {pr}."
    if t == 25: return f"{_pick(r, ['Some', 'Many', 'Most'])} {pe} {_pick(r, ['insist on', 'swear by', 'avoid', 'forbid'])} {me}, and I never understood why."
    if t == 26: return f"There are {_pick(r, ['many', 'several', 'a few', 'two'])} {_pick(r, ['schools of thought', 'approaches', 'common answers', 'opinions'])} on this, and {_pick(r, ['none', 'all', 'most'])} of them seem convincing."
    if t == 27: return f"I attended a {_pick(r, ['great', 'small', 'strict', 'typical'])} {_pick(r, ['university', 'school', 'workshop', 'course', 'club'])} where {me} was the norm."
    if t == 28: return f"It {_pick(r, ['tasted', 'looked', 'felt', 'worked', 'went'])} {_pick(r, ['awful', 'great', 'odd', 'fine', 'wrong'])} and I had to {_pick(r, ['stop', 'start over', 'throw it out', 'ask around'])}."
    if t == 29: return f"In my experience {fa} matters, but I have no data on it."
    if t == 30: return f"This question is about {pr}, not about {_pick(r, d['props'])}."
    if t == 31: return f"As I understand it, {me} is supposed to help with the {pr}."
    if t == 32: return f"My {_pick(r, ['students', 'friends', 'colleagues', 'kids', 'readers'])} keep {_pick(r, ['asking', 'complaining', 'arguing'])} about the {pr} of the {th}."
    if t == 33: return f"Here is what I have so far: {me}, then {_pick(r, d['methods'])}."
    if t == 0: return f"I've been trying to {a} for about {_num(r)} months now."
    if t == 1: return f"Recently I bought a {th}."
    if t == 2: return f"I read somewhere that {fa} has a big effect on the {pr}."
    if t == 3: return f"I tried {me} but it didn't make much difference."
    if t == 4: return f"My {th} {pb}."
    if t == 5: return f"I have a {th} and a {_pick(r, d['things'])} at home."
    if t == 6: return f"Last week I noticed that my {th} {pb}."
    if t == 7: return f"I'm fairly new to this."
    if t == 8: return f"I've searched online but the answers contradict each other."
    if t == 9: return f"Some people say {me} helps, others say it makes no difference."
    if t == 10: return f"The {pr} seems to change from day to day."
    if t == 11: return f"I teach a small class and we have been discussing this."
    if t == 12: return f"My budget is around ${r.randrange(20, 900)}."
    if t == 13: return f"For context, I've been doing this for {_num(r, 1, 10)} years."
    if t == 14: return f"I found an old {th} in my {_pick(r, ['basement', 'garage', 'kitchen', 'office', 'closet'])}."
    if t == 15: return f"I am thinking of switching to a {th}."
    if t == 16: return f"It worked fine until {_pick(r, ['last month', 'yesterday', 'I moved', 'the update', 'I changed something'])}."
    if t == 17: return f"I'm not sure if {fa} is the problem."
    if t == 18: return f"I've seen {_pick(r, d['people'])} do it both ways."
    return f"I'm curious about this because {fa} seems to matter a lot."


def _question_sentence(r, d) -> str:
    th = _pick(r, d["things"]); a = _pick(r, d["acts"]); pr = _pick(r, d["props"])
    fa = _pick(r, d["factors"]); me = _pick(r, d["methods"]); pe = _pick(r, d["people"])
    t = r.randrange(18)
    if t == 0: return f"Is there any way to improve the {pr}?"
    if t == 1: return f"Should I try {me} or is that a waste of time?"
    if t == 2: return f"What am I doing wrong?"
    if t == 3: return f"Does {fa} really matter that much?"
    if t == 4: return f"How do {pe} usually handle this?"
    if t == 5: return f"Is it worth buying a new {th}?"
    if t == 6: return f"Any ideas?"
    if t == 7: return f"What would you recommend?"
    if t == 8: return f"Can anyone point me to a good resource?"
    if t == 9: return f"My question is: how do I {a}?"
    if t == 10: return f"Question: what are good ways to {a}?"
    if t == 11: return f"Is this normal or should I be worried?"
    if t == 12: return f"Are there any studies on this?"
    if t == 13: return f"Why does this happen?"
    if t == 14: return f"I'd like to know whether {fa} changes the {pr}."
    if t == 15: return f"I'm wondering if anyone has experience with a {th}."
    if t == 16: return f"How can I {a} without spending a fortune?"
    return f"What should I look for when choosing a {th}?"


def gen_forum_question(r) -> str:
    d = DOMAINS[_pick(r, DOMAIN_NAMES)]
    x = r.random()
    if x < 0.6:
        title = _short_question(r, d)
    elif x < 0.85:
        th = _pick(r, d["things"])
        title = _pick(r, [f"{th[0].upper() + th[1:]} {_pick(r, d['problems'])}",
                          f"Choosing a {th}", f"Best {th} for beginners", f"{_pick(r, d['props']).capitalize()} of {th}",
                          f"Help with my {th}", f"{th[0].upper() + th[1:]} recommendations",
                          f"Advice on how to {_pick(r, d['acts'])}", f"Problem with {th}",
                          f"{_pick(r, d['props']).capitalize()} vs. {_pick(r, d['props'])}",
                          f"{th[0].upper() + th[1:]} and {_pick(r, d['props'])}",
                          f"{_pick(r, ['Teaching', 'Learning', 'Explaining', 'Understanding'])} {_pick(r, d['props'])}",
                          f"Using {th} {_pick(r, ['in class', 'at home', 'for beginners', 'every day'])}",
                          f"{_pick(r, d['methods']).capitalize()} or not",
                          f"Distinguishing a {th} from a {_pick(r, d['things'])}"])
    else:
        title = ""
    body = []
    for _ in range(r.randrange(0, 7)):
        if r.random() < 0.2:
            body.append(_answer_sentence(r, d))  # background facts the asker already knows
        else:
            body.append(_context_sentence(r, d))
    if r.random() < 0.15:
        body.insert(0, _pick(r, ["Let me motivate my question with a situation.",
                                 "Before I begin, some background.", "Okay, so here is the thing.",
                                 "This might be a silly question.", "I've been wondering about this for a while.",
                                 "I could not find this asked before."]))
    nq = (title.endswith("?") and r.random() < 0.35) and 0 or (1 + (r.random() < 0.4))
    for _ in range(nq):
        pos = r.randrange(len(body) + 1) if r.random() < 0.3 else len(body)
        body.insert(pos, _question_sentence(r, d))
    if r.random() < 0.25:
        body.append(_pick(r, ["Thanks in advance!", "Any help appreciated.", "Thanks!", "Cheers.",
                              "Sorry if this is a dumb question.", "Edit: added some details.",
                              "Any input would be appreciated."]))
    s = (title + " " if title else "") + " ".join(body)
    return truncate(r, s.strip())


def truncate(r, s: str, limit: int = 600) -> str:
    """Long posts often arrive cut to a preview length; sometimes cut them mid-sentence."""
    if len(s) > limit and r.random() < 0.6:
        return s[:limit]
    return s


def gen_donation_request(r) -> str:
    dis = _pick(r, DISASTERS); org = _pick(r, ORGS); res = _pick(r, RESOURCES); res2 = _pick(r, RESOURCES)
    vic = _pick(r, VICTIMS); pl = _pick(r, PLACES); n = r.randrange(5, 50)
    t = r.randrange(22)
    if t == 0: s = f"Please donate to {org} to help {vic} of {dis}"
    elif t == 1: s = f"Help {vic} of {dis}: text {_pick(r, ['REDCROSS', 'HELP', 'RELIEF', 'GIVE', 'FOOD'])} to {r.randrange(10000, 99999)} to give ${n}"
    elif t == 2: s = f"{pl} needs {res} and {res2}. Please give if you can!"
    elif t == 3: s = f"Volunteers needed in {pl} for {dis} clean up. Please RT"
    elif t == 4: s = f"How can I help the people affected by {dis}?"
    elif t == 5: s = f"Where can I donate {res} for {dis} {vic}?"
    elif t == 6: s = f"Does anyone know where to drop off {res} in {pl}?"
    elif t == 7: s = f"We urgently need {res} at {org} in {pl}. Anything helps"
    elif t == 8: s = f"Please help {org} respond to {dis}. Make a donation today"
    elif t == 9: s = f"Give blood! {org} is short on blood after {dis}"
    elif t == 10: s = f"Anyone want to volunteer with me this weekend? {pl} needs help after {dis}"
    elif t == 11: s = f"Take a moment and donate to {dis} relief"
    elif t == 12: s = f"{org} is asking for donations of {res}. Please share"
    elif t == 13: s = f"If you can, please donate {res} to {vic} in {pl}"
    elif t == 14: s = f"How do I volunteer with {org} for {dis}?"
    elif t == 15: s = f"Looking for a place to donate {res} for {dis} victims, any ideas?"
    elif t == 16: s = f"My {_pick(r, RELATIVES)} lost everything in {dis}. Please help us with {res} if you can"
    elif t == 17: s = f"Please pray for {pl} and donate what you can"
    elif t == 18: s = f"Our {_pick(r, ['school', 'church', 'team', 'office', 'club'])} is collecting {res} for {dis} {vic}. Please bring what you can!"
    elif t == 19: s = f"Need {res} in {pl} ASAP. Can anyone help?"
    elif t == 20: s = f"What's the best way to help {dis} {vic}?"
    else: s = f"Donate now: {vic} of {dis} need {res} and {res2}"
    return tweetify(r, casual(r, s) if r.random() < 0.4 else s, DISASTER_TAGS, p_tag=0.5, p_rt=0.35, p_url=0.4)


def gen_request(r) -> tuple[str, str]:
    x = r.random()
    if x < 0.45:
        return gen_forum_question(r), "forum"
    if x < 0.72:
        d = DOMAINS[_pick(r, DOMAIN_NAMES)]
        s = _short_question(r, d)
        st = _pick(r, ["tweet", "chat"])
        s = casual(r, s)
        if st == "tweet":
            s = tweetify(r, s, [n.replace(" ", "") for n in DOMAIN_NAMES] + ["help", "advice", "question"],
                         p_tag=0.3, p_rt=0.05, p_url=0.05)
        elif r.random() < 0.3:
            s = _pick(r, ["hey all, ", "quick question: ", "ok so ", "guys ", "", "question for the room: "]) + s
        return s, st
    if x < 0.8:
        return _pick(r, ["Can someone help me move this weekend?", "Anyone have a spare charger I can borrow?",
                         "Does anybody know a good dentist in " + _pick(r, PLACES) + "?",
                         "Looking for a babysitter for friday night, any recommendations?",
                         "Can anyone recommend a good book about " + _pick(r, DOMAIN_NAMES) + "?",
                         "Who knows how to fix a flat tire? need help asap",
                         "I need advice on " + _pick(r, DOMAINS[_pick(r, DOMAIN_NAMES)]["acts"]) + ", where do I even start?",
                         "Please recommend a podcast about " + _pick(r, DOMAIN_NAMES),
                         "What should I name my new " + _pick(r, ["puppy", "kitten", "goldfish", "car", "plant"]) + "?",
                         "Can you help me find a cheap flight to " + _pick(r, PLACES) + "?",
                         "Is the " + _pick(r, ["library", "post office", "pharmacy", "gym", "bank"]) + " open today?",
                         "Any suggestions for a birthday gift for my " + _pick(r, RELATIVES) + "?",
                         ]), "chat"
    return gen_donation_request(r), "disaster"


# --------------------------------------------------------------------------------------------
# offer (answers, advice, sharing knowledge, offering help or resources)
# --------------------------------------------------------------------------------------------

def _answer_sentence(r, d) -> str:
    th = _pick(r, d["things"]); th2 = _pick(r, d["things"]); a = _pick(r, d["acts"])
    pr = _pick(r, d["props"]); fa = _pick(r, d["factors"]); fa2 = _pick(r, d["factors"])
    me = _pick(r, d["methods"]); me2 = _pick(r, d["methods"]); pe = _pick(r, d["people"])
    t = r.randrange(52) if r.random() < 0.35 else r.randrange(44)
    if t == 44: return f"How about a {th}? It has more {pr} than a {th2}."
    if t == 45: return f"Why not try {me}?"
    if t == 46: return f"Have you tried {me}? It usually helps."
    if t == 47: return f"I can answer this: {fa} is what matters."
    if t == 48: return f"I have a list of {_pick(r, ['books', 'resources', 'examples', 'links'])} about this on my blog: {_url(r)}"
    if t == 49: return f"Maybe some {th}, or a {th2}?"
    if t == 50: return f"What you want is a {th}."
    if t == 51: return f"Not sure what you mean by {pr}, but {me} is how I would approach it."
    if t == 0: return f"The {pr} depends mostly on {fa}."
    if t == 1: return f"You can {a.replace('my ', 'your ')} by {me}."
    if t == 2: return f"I'd recommend {me}."
    if t == 3: return f"Try {me}."
    if t == 4: return f"In my experience, {me} makes a big difference."
    if t == 5: return f"The main reason is {fa}."
    if t == 6: return f"It depends on {fa}: if it is high, go for a {th}; otherwise a {th2} is fine."
    if t == 7: return f"There are a few ways to do this. First, {me}. Second, {me2}."
    if t == 8: return f"As @{_handle(r)} mentioned, {fa} matters more than most people think."
    if t == 9: return f"See {_url(r)} for more details."
    if t == 10: return f"A {th} usually has more {pr} than a {th2}."
    if t == 11: return f"Most {pe} agree that {fa} is the key factor."
    if t == 12: return f"According to {_pick(r, ANSWER_SOURCES)}, {fa} affects the {pr}."
    if t == 13: return f"This is more of a comment than an answer, but {me} worked for me."
    if t == 14: return f"Short answer: {_pick(r, ['yes', 'no', 'it depends', 'probably not', 'not really'])}."
    if t == 15: return f"Generally speaking, {pe} prefer a {th} because of the {pr}."
    if t == 16: return f"Keep in mind that {fa} also changes the {pr}."
    if t == 17: return f"I have used a {th} for {_num(r, 2, 15)} years and it is still going strong."
    if t == 18: return f"The problem is almost certainly {fa}."
    if t == 19: return f"A {th} will give you better {pr}, but it costs more."
    if t == 20: return f"You should also consider {fa2}."
    if t == 21: return f"For example, {me} usually fixes it."
    if t == 22: return f"That said, a {th} is a perfectly good choice for most people."
    if t == 23: return f"Don't worry too much about {fa}; {fa2} matters more."
    if t == 24: return f"When I {a.replace('my ', 'our ')}, I always start with {me}."
    if t == 25: return f"The {pr} of a {th} drops noticeably over time."
    if t == 26: return f"If you want better {pr}, {me} is the easiest fix."
    if t == 27: return f"Historically, {pe} used a {th} for this."
    if t == 28: return f"This happens because {fa} changes the {pr}."
    if t == 29: return f"A good rule of thumb is {me}."
    if t == 30: return f"I teach this every year and {me} works well for my {pe}."
    if t == 31: return f"Another option is a {th}, which is cheaper."
    if t == 32: return f"Edit: as pointed out in the comments, {fa} matters too."
    if t == 33: return f"Here is what worked for me: {me}, then {me2}."
    if t == 34: return f"The {th} is {_pick(r, ['overrated', 'underrated', 'a classic', 'the standard choice', 'fine for beginners'])}."
    if t == 35: return f"It is not the {th} itself but {fa} that causes this."
    if t == 36: return f"{me[0].upper() + me[1:]} is the standard approach."
    if t == 37: return f"There is no single right answer, but {me} is a safe bet."
    if t == 38: return f"Typically the {pr} improves after a couple of weeks."
    if t == 39: return f"Yes, you can, but {fa} will limit the {pr}."
    if t == 40: return f"No. A {th} is not designed for that."
    if t == 41: return f"Both work; the difference in {pr} is small."
    if t == 42: return f"I would avoid the {th}, since {fa} makes it unreliable."
    return f"{pe.capitalize()} have been doing this for centuries, so {me} is well tested."


BRANDS = ["Hario", "Baratza", "Bodum", "Weber", "Fender", "Yamaha", "Canon", "Nikon", "Lodge", "Le Creuset",
          "Vanguard", "Fidelity", "Duolingo", "Anki", "Brooklyn Brewery", "Chimay", "Guinness", "Sierra Nevada"]


def _story_sentence(r, d) -> str:
    """First-person experience and narrative, as found in many answers."""
    th = _pick(r, d["things"]); pe = _pick(r, d["people"]); me = _pick(r, d["methods"]); pr = _pick(r, d["props"])
    t = r.randrange(14)
    if t == 0: return f"I only {_pick(r, ['teach', 'brew', 'cook', 'work with', 'deal with'])} small batches, but I have found that {me} helps a lot."
    if t == 1: return f"My {_pick(r, RELATIVES)} tells a story from when I was {_pick(r, ['learning to read', 'a kid', 'starting out', 'in school'])}: she noticed the {pr} first."
    if t == 2: return f"I once had a {th} from {_pick(r, BRANDS)} that lasted {_num(r, 2, 20)} years."
    if t == 3: return f"Years ago I {_pick(r, ['tried', 'tested', 'measured', 'compared'])} this myself and the {pr} barely changed."
    if t == 4: return f"When I was {_pick(r, ['teaching', 'working', 'living', 'studying'])} in {_pick(r, PLACES)}, the {pe} there used a {th}."
    if t == 5: return f"I did a {_pick(r, ['dark', 'light', 'small', 'big', 'quick'])} one last year and went overboard on the {th}; lesson learned."
    if t == 6: return f"Last time I {_pick(r, ['did this', 'had this problem', 'tried it'])}, it took about {_num(r, 2, 40)} minutes."
    if t == 7: return f"We had exactly this {_pick(r, ['discussion', 'problem', 'debate'])} in our {_pick(r, ['department', 'club', 'team', 'kitchen'])}."
    if t == 8: return f"I drank a {th} from {_pick(r, BRANDS)} once and the {pr} was remarkable."
    if t == 9: return f"A {th} like the \"{_pick(r, BRANDS)} {_pick(r, ['Classic', 'Pro', 'Mini', 'Original', 'Select'])}\"."
    if t == 10: return f"From \"{_pick(r, ['A Guide to', 'The Art of', 'Notes on', 'Thinking about'])} {d['things'][0].title()}\" by {_pick(r, ['J. Smith', 'A. Rivera', 'M. Chen', 'K. Okafor'])}: \"{_pick(r, d['methods']).capitalize()} is the whole secret.\""
    if t == 11: return f"Teacher: what is {r.randrange(2, 9)} times {r.randrange(2, 9)}? Student: {r.randrange(10, 60)}. Teacher: close, how did you get that?"
    if t == 12: return f"If the {_pick(r, ['student', 'beginner', 'reader', 'customer'])} struggles with this, what do you think they understand by {pr}?"
    return f"{_pick(r, ['Home brew here', 'Teacher here', 'Barista here', 'Long time runner here', 'Developer here'])}: I use a {th} and {me}."


ANSWER_OPENERS = [
    "I'll assume you mean {th}.", "I'm going to read your question as being about {pr}.",
    "Let me start with a caveat: this is only my experience.", "I'll answer the second part first.",
    "As others have said in the comments, {fa} is the key.", "First, have a look at the related question about {th}.",
    "I think there are really two separate issues here.", "I find it useful to split this into steps.",
    "I'll share what worked for me, and I'd like to hear from others too.",
    "I'm not entirely sure what you are asking, so I'll cover both readings.",
    "This answer only covers {pr}.", "To put it simply: {fa}.", "It depends on what you mean by {pr}.",
    "Short answer: yes. Long answer below.", "Short answer: no, not really.", "The answer is a bit subtle.",
    "I remember struggling with exactly this when I started.", "Speaking as one of the {pe}:",
    "Funny you ask, I wrote about this on my blog last year.", "For what it's worth, here is my take.",
    "There is a common misconception here.", "You are right to be suspicious of that advice.",
    "I'd push back a little on the premise.", "Technically, the question has no single answer.",
    "Let me answer with an example.", "Two things come to mind.", "A few thoughts, in no particular order.",
    "Quoting the question: \"{q}\" The short answer is that it depends on {fa}.",
]


def _answer_opener(r, d) -> str:
    o = _pick(r, ANSWER_OPENERS)
    return o.format(th=_pick(r, d["things"]), pr=_pick(r, d["props"]), fa=_pick(r, d["factors"]),
                    pe=_pick(r, d["people"]), q=_question_sentence(r, d))


def gen_forum_answer(r) -> str:
    d = DOMAINS[_pick(r, DOMAIN_NAMES)]
    n = _pick(r, [1, 1, 2, 3, 3, 4, 5, 6, 7, 8, 10])
    sents = [_story_sentence(r, d) if r.random() < 0.2 else _answer_sentence(r, d) for _ in range(n)]
    if r.random() < 0.15:
        sents.insert(0, _pick(r, ["Great question.", "I had the same problem.", "Good question!",
                                  "I'll add to the other answers.", "Not an expert, but here goes."]))
    if r.random() < 0.3:
        sents.insert(0, _answer_opener(r, d))
    if r.random() < 0.15:
        sents.append(_pick(r, ["Hope this helps.", "Good luck!", "Hope that helps!", "Cheers.",
                               "Enjoy!", "Let me know how it goes."]))
    if r.random() < 0.04:
        sents.append(_pick(r, ["Does that make sense?", "Why? Because it is cheaper.",
                               "Who knows?", "Isn't that what you want?"]))
    if r.random() < 0.12 and len(sents) > 1:
        pr = _pick(r, d["props"]); fa = _pick(r, d["factors"])
        sents.insert(r.randrange(1, len(sents)), _pick(r, [
            f"Why does {fa} matter? Because it changes the {pr}.", f"What is {pr}, really? Mostly {fa}.",
            f"So what should you do? Start with {_pick(r, d['methods'])}.",
            f"What does the learner think {pr} means? Ask them, and listen.",
            f"Is it worth it? In my opinion, yes.", f"Does {fa} matter? Less than you would think."]))
    if r.random() < 0.12:
        i = r.randrange(len(sents))
        sents[i] = "- " + sents[i]
    x = r.random()
    if x < 0.1:
        sents = [f"{i + 1}) {_pick(r, d['methods']).capitalize()}. {_answer_sentence(r, d)}" for i in range(r.randrange(2, 4))]
    elif x < 0.17:
        sents = [_pick(r, [f"In {_pick(r, PLACES)} it is {_pick(r, BRANDS)} and {_pick(r, BRANDS)}.",
                           f"{_pick(r, PLACES)}: {_pick(r, BRANDS)} (source: {_pick(r, ANSWER_SOURCES)})",
                           f"The most popular {_pick(r, d['things'])} in {_pick(r, PLACES)} is from {_pick(r, BRANDS)}.",
                           f"{_pick(r, BRANDS)} is the closest I know of.",
                           f"My two favourites are the {_pick(r, d['things'])} from {_pick(r, BRANDS)} and a {_pick(r, d['things'])}.",
                           f"Go to {_url(r)}, search for {_pick(r, d['things'])} and filter by {_pick(r, d['factors'])}."])] + sents[:r.randrange(0, 3)]
    return truncate(r, " ".join(sents))


def gen_donation_offer(r) -> str:
    dis = _pick(r, DISASTERS); org = _pick(r, ORGS); res = _pick(r, RESOURCES); res2 = _pick(r, RESOURCES)
    vic = _pick(r, VICTIMS); pl = _pick(r, PLACES)
    t = r.randrange(22)
    if t == 0: s = f"{org} is providing {res} and {res2} to {vic} of {dis}"
    elif t == 1: s = f"We are offering free {res} at our store in {pl} for anyone affected by {dis}"
    elif t == 2: s = f"If you need {res}, {org} has {res} available at {pl}"
    elif t == 3: s = f"Free {res} for anyone affected by {dis}. DM me"
    elif t == 4: s = f"I have a spare room for anyone displaced by {dis} in {pl}"
    elif t == 5: s = f"Here are some resources for help after {dis}: {_url(r)}"
    elif t == 6: s = f"Shelters are open at {pl}. Text SHELTER and your zip code to {r.randrange(10000, 99999)} to find one"
    elif t == 7: s = f"If you were affected by {dis}, you can register as safe and well here: {_url(r)}"
    elif t == 8: s = f"Our restaurant will donate {r.randrange(5, 100)}% of today's sales to {dis} relief"
    elif t == 9: s = f"{org} will match every donation to {dis} relief this week"
    elif t == 10: s = f"Anyone in {pl} who needs {res}, I can drive some over. Just message me"
    elif t == 11: s = f"Updated list of open shelters and {res} distribution points in {pl}: {_url(r)}"
    elif t == 12: s = f"We've got {res} and {res2} at {org} in {pl}, come by if you need them"
    elif t == 13: s = f"Free wifi and phone charging at our cafe for {vic} of {dis}"
    elif t == 14: s = f"{org} is collecting nothing but offering {res} to all {vic}, no questions asked"
    elif t == 15: s = f"I'm donating {res} to {vic} in {pl} tomorrow, I have room for more if anyone needs"
    elif t == 16: s = f"Need a place to stay after {dis}? Our house in {pl} is open"
    elif t == 17: s = f"Power company says crews are restoring service in {pl}; check {_url(r)} for outage maps"
    elif t == 18: s = f"Tip: if your power is out, {_pick(r, ['keep the fridge closed', 'unplug appliances', 'never run a generator indoors', 'fill the bathtub with water'])}"
    elif t == 19: s = f"{org} volunteers are handing out {res} at {pl} until 6pm"
    elif t == 20: s = f"Our team is heading to {pl} with {res}. Tell us what else you need and we will bring it"
    else: s = f"Donating ${r.randrange(5, 500)} and {res} to {org} for {dis} relief. Happy to help"
    return tweetify(r, s, DISASTER_TAGS, p_tag=0.5, p_rt=0.4, p_url=0.35)


def gen_offer(r) -> tuple[str, str]:
    x = r.random()
    if x < 0.55:
        return gen_forum_answer(r), "forum"
    if x < 0.75:
        d = DOMAINS[_pick(r, DOMAIN_NAMES)]
        s = _answer_sentence(r, d)
        if r.random() < 0.5:
            s += " " + _answer_sentence(r, d)
        st = _pick(r, ["tweet", "chat"])
        s = casual(r, s)
        if st == "tweet":
            s = tweetify(r, s, ["tips", "protip", "advice", "howto"] + [n.replace(" ", "") for n in DOMAIN_NAMES],
                         p_tag=0.3, p_rt=0.1, p_url=0.2)
        return s, st
    if x < 0.82:
        d = _pick(r, DOMAIN_NAMES)
        a = _pick(r, DOMAINS[d]["acts"]).replace("my ", "your ")
        return _pick(r, [f"Happy to help anyone who wants to {a}, just DM me.",
                         f"I've done this for years, if you need help with {d} ask me anytime.",
                         f"Offering free lessons for anyone who wants to {a}.",
                         f"I can lend you my {_pick(r, DOMAINS[d]['things'])} if you need it.",
                         f"I wrote a guide on how to {a}: {_url(r)}",
                         f"If anyone wants to {a}, I have a spare {_pick(r, DOMAINS[d]['things'])} to give away.",
                         f"Pro tip: {_pick(r, DOMAINS[d]['methods'])}.",
                         f"Free {d} workshop this saturday, everyone welcome!",
                         f"You should try {_pick(r, DOMAINS[d]['methods'])}, it worked for me"]), "chat"
    if r.random() < 0.3:
        return gen_relief_news(r), "disaster"
    return gen_donation_offer(r), "disaster"


DONORS = ["A local bakery", "The hockey team", "Our bank", "A famous singer", "The phone company", "A tech firm",
          "The mayor's office", "Our union", "A billionaire", "The airline", "A coffee chain", "The school board",
          "Our neighbours", "A church group", "The football club", "A supermarket chain"]


def gen_relief_news(r) -> str:
    """Offers of help reported as news or announcements: donations made, hotlines, where to get aid."""
    dis = _pick(r, DISASTERS); res = _pick(r, RESOURCES); org = _pick(r, ORGS); v = _pick(r, VICTIMS)
    who = _pick(r, DONORS); amt = _pick(r, ["$5,000", "$50k", "$1 million", "$250,000", "$10 million", "$2k"])
    t = r.randrange(14)
    if t == 0: s = f"{who} is giving {amt} to {v} of {dis}"
    elif t == 1: s = f"{who} just donated {amt} to {org} for {dis} relief"
    elif t == 2: s = f"{dis.capitalize()} hotline for {v}: call {r.randrange(200, 999)}-{r.randrange(200, 999)}-{r.randrange(1000, 9999)} for {res}"
    elif t == 3: s = f"Where to get {res} after {dis}: our list, updated hourly {_url(r)}"
    elif t == 4: s = f"We're safe, but many aren't, so we just sent {amt} to {org}. Details: {_url(r)}"
    elif t == 5: s = f"{org.capitalize()} will match every donation for {dis} {v} until friday"
    elif t == 6: s = f"Need {res}? {org.capitalize()} is handing it out at {_pick(r, PLACES)} today"
    elif t == 7: s = f"{who} turns its {_pick(r, ['parking lot', 'store', 'gym', 'hall'])} into a {res} drop-off for {v}"
    elif t == 8: s = f"Map of open shelters and {res} after {dis}: {_url(r)}"
    elif t == 9: s = f"Our {_pick(r, ['store', 'office', 'church', 'school', 'cafe'])} has power: come charge your phone and grab {res}"
    elif t == 10: s = f"Insurance tips for {v} of {dis}, read before you file: {_url(r)}"
    elif t == 11: s = f"{who} pledges {amt} and {res} for {v}"
    elif t == 12: s = f"Update: {org} now has {res} for {v} in {_pick(r, PLACES)}"
    else: s = f"If you lost {_pick(r, ['power', 'your home', 'your car', 'food'])} in {dis}, {org} can help: {_url(r)}"
    return drop_hashtags(r, tweetify(r, s, DISASTER_TAGS, p_tag=0.5, p_rt=0.4, p_url=0.15, p_mention=0.1, p_emo=0.0))


# --------------------------------------------------------------------------------------------
# status (chit-chat, greetings, feelings, what I'm doing, news)
# --------------------------------------------------------------------------------------------

def gen_chat_status(r) -> str:
    h = _handle(r)
    t = r.randrange(40)
    if t == 0: s = _pick(r, ["hi", "hey", "hello", "hiya", "yo", "sup", "heya", "howdy", "hi all", "hey everyone",
                             "hello room", "hi everybody", "evening all", "morning all"]) + (" " + h if r.random() < 0.5 else "")
    elif t == 1: s = f"{_pick(r, ['hi', 'hey', 'hello'])} {h} how are you"
    elif t == 2: s = _pick(r, ["bye", "bye all", "gotta go", "night everyone", "later all", "cya", "g2g", "gtg bye",
                               "nite all", "bbl", "off to bed", "take care all"]) + (" " + h if r.random() < 0.5 else "")
    elif t == 3: s = _pick(r, ["lol", "lmao", "haha", "hehe", "rofl", "lolol", "hahaha", "omg", "ugh", "yay", "aww",
                               "wow", "meh", "yikes", "oops", "ewww", "lol yeah"]) + (" " + h if r.random() < 0.4 else "")
    elif t == 4: s = f"wb {h}"
    elif t == 5: s = f"im {_pick(r, STATUS_FEELINGS)}"
    elif t == 6: s = f"{_pick(r, STATUS_ACTIVITIES).format(show=_pick(r, SHOWS), food=_pick(r, FOODS), rel=_pick(r, RELATIVES))}"
    elif t == 7: s = f"my {_pick(r, RELATIVES)} lives in {_pick(r, PLACES)}"
    elif t == 8: s = f"just got back from {_pick(r, PLACES)}"
    elif t == 9: s = f"{_pick(r, WEATHER)}"
    elif t == 10: s = f"{r.randrange(18, 60)} {_pick(r, ['m', 'f', 'M', 'F'])} {_pick(r, PLACES)}"
    elif t == 11: s = f"that {_pick(r, ['movie', 'song', 'show', 'game', 'book'])} was {_pick(r, ['awesome', 'terrible', 'so good', 'boring', 'hilarious'])}"
    elif t == 12: s = f"my cat is sleeping on my keyboard"
    elif t == 13: s = f"{h} you're funny"
    elif t == 14: s = f"i agree with {h}"
    elif t == 15: s = f"thats cool {h}"
    elif t == 16: s = f"{_pick(r, ['brb', 'back', 'im back', 'ok back', 'here', 'still here'])}"
    elif t == 17: s = f"{_pick(r, EMOTICONS)}"
    elif t == 18: s = f"i'm {_pick(r, STATUS_FEELINGS)} and {_pick(r, STATUS_FEELINGS)}"
    elif t == 19: s = f"{h} {_pick(r, ['lol', 'haha', 'hugs', 'hi', 'ty', 'thanks', 'np', 'yw', ':)', 'lmao', 'you too'])}"
    elif t == 20: s = f"{_pick(r, ['i', 'we', 'my family'])} used to live in {_pick(r, PLACES)}"
    elif t == 21: s = f"it's {_pick(r, ['late', 'early', 'friday', 'monday', 'so quiet in here', 'dead in here'])}"
    elif t == 22: s = f"{_pick(r, ['fine', 'good', 'ok', 'not bad', 'great'])} {_pick(r, ['thanks', 'ty', 'here', 'and you'])}"
    elif t == 23: s = f"that's {_pick(r, ['funny', 'sad', 'crazy', 'true', 'weird', 'nice', 'sweet'])}"
    elif t == 24: s = f"i had {_pick(r, FOODS)} for dinner"
    elif t == 25: s = f"my {_pick(r, RELATIVES)} is {_pick(r, ['driving me crazy', 'visiting', 'sick', 'so annoying', 'here'])}"
    elif t == 26: s = f"{_pick(r, ['i', 'we'])} {_pick(r, ['went', 'drove', 'walked'])} to {_pick(r, PLACES)} {_pick(r, ['yesterday', 'last week', 'today', 'once'])}"
    elif t == 27: s = f"{h} is {_pick(r, ['here', 'asleep', 'gone', 'funny', 'quiet', 'cool'])}"
    elif t == 28: s = f"i {_pick(r, ['love', 'hate', 'like'])} {_pick(r, FOODS + SHOWS)}"
    elif t == 29: s = f"{_pick(r, ['watching', 'listening to', 'playing'])} {_pick(r, SHOWS)} {_pick(r, ['lol', '', '', 'right now', 'with my ' + _pick(r, RELATIVES)])}"
    elif t == 30: s = f"{_pick(r, ['off to', 'heading to', 'going to'])} {_pick(r, ['bed', 'work', 'the store', 'get food', 'burger king', 'the gym', 'shower'])}"
    elif t == 31: s = f"{h} what's up"
    elif t == 32: s = f"how is everyone {_pick(r, ['tonight', 'today', 'doing'])}"
    elif t == 33: s = f"this room is {_pick(r, ['dead', 'crazy', 'fun', 'boring', 'busy'])} {_pick(r, ['tonight', 'lol', ''])}"
    elif t == 34: s = f"{_pick(r, ['i', 'my ' + _pick(r, RELATIVES)])} {_pick(r, ['work', 'works'])} {_pick(r, ['nights', 'at a hospital', 'from home', 'in retail', 'at a bank'])}"
    elif t == 35: s = f"{_pick(r, ['yes', 'no', 'nope', 'yep', 'maybe', 'sure', 'true', 'exactly', 'right'])}"
    elif t == 36: s = f"{_pick(r, ['hugs', 'smiles', 'waves', 'dances', 'laughs', 'yawns'])} {h}"
    elif t == 37: s = f"{_pick(r, ['its', 'it is'])} {r.randrange(1, 12)} {_pick(r, ['am', 'pm'])} here"
    elif t == 38: s = f"i {_pick(r, ['just', 'finally', 'already'])} {_pick(r, ['ate', 'woke up', 'got paid', 'finished work', 'took a nap'])}"
    else: s = f"{_pick(r, ['the', 'my'])} {_pick(r, ['internet', 'power', 'computer', 'phone', 'car'])} {_pick(r, ['is acting up', 'died', 'is slow', 'works again'])}"
    if r.random() < 0.3:
        s = s + _pick(r, ["...", "!", "!!", " lol", " :)", " haha", "..lol", " ;)", "?"])
    if r.random() < 0.2:
        s = s.upper() if r.random() < 0.2 else s.capitalize()
    return s


def gen_tweet_status(r) -> str:
    t = r.randrange(26)
    pl = _pick(r, PLACES)
    if t == 0: s = f"Can't believe it's already {_pick(r, ['Monday', 'Friday', 'December', 'March', 'the weekend'])}"
    elif t == 1: s = f"Coffee first, then everything else"
    elif t == 2: s = f"{_pick(r, STATUS_ACTIVITIES).format(show=_pick(r, SHOWS), food=_pick(r, FOODS), rel=_pick(r, RELATIVES))}"
    elif t == 3: s = f"{_pick(r, ['Best', 'Worst', 'Longest', 'Weirdest'])} day ever"
    elif t == 4: s = f"Traffic on the way to {pl} is terrible"
    elif t == 5: s = f"The {_pick(r, ['Giants', 'Jets', 'Knicks', 'Yankees', 'Lakers', 'Cowboys'])} {_pick(r, ['won', 'lost', 'choked', 'played great'])} last night"
    elif t == 6: s = f"Just saw the {_pick(r, ['sunset', 'moon', 'rainbow', 'snow', 'fireworks'])} over {pl}, beautiful"
    elif t == 7: s = f"I ran {_num(r, 2, 12)} miles today"
    elif t == 8: s = f"Finally finished {_pick(r, ['my exams', 'the book', 'the project', 'work', 'packing'])}"
    elif t == 9: s = f"Happy birthday to my {_pick(r, RELATIVES)}!"
    elif t == 10: s = f"Why is {_pick(r, ['monday', 'work', 'traffic', 'the internet', 'my phone'])} so {_pick(r, ['long', 'slow', 'annoying', 'hard'])}?"
    elif t == 11: s = f"{_pick(r, ['Ugh', 'Yay', 'Omg', 'Wow', 'Meh', 'Lol'])}, {_pick(r, WEATHER)}"
    elif t == 12: s = f"That awkward moment when {_pick(r, ['you wave back at someone who was not waving at you', 'your phone dies mid sentence', 'you forget why you walked in'])}"
    elif t == 13: s = f"Listening to {_pick(r, ['old songs', 'the radio', 'the rain', 'my playlist'])}"
    elif t == 14: s = f"My {_pick(r, RELATIVES)} just {_pick(r, ['got engaged', 'had a baby', 'graduated', 'moved to ' + pl])}!"
    elif t == 15: s = f"New post on the blog {_url(r)}"
    elif t == 16: s = f"{_pick(r, ['Breaking', 'BREAKING', 'Update', 'News'])}: {_pick(r, ['mayor announces', 'police report', 'officials confirm', 'train delays', 'schools closed'])} in {pl}"
    elif t == 17: s = f"So proud of my {_pick(r, RELATIVES)} today"
    elif t == 18: s = f"Missing {pl} so much"
    elif t == 19: s = f"Nothing beats {_pick(r, FOODS)} on a {_pick(r, ['rainy', 'cold', 'lazy', 'sunday'])} day"
    elif t == 20: s = f"Feeling {_pick(r, STATUS_FEELINGS)} today"
    elif t == 21: s = f"Good morning {pl}!"
    elif t == 22: s = f"Thank you all for the birthday wishes!"
    elif t == 23: s = f"I had {_pick(r, FOODS)} for {_pick(r, ['breakfast', 'lunch', 'dinner'])} and no regrets"
    elif t == 24: s = f"Me and my {_pick(r, RELATIVES)} {_pick(r, ['at the beach', 'at the concert', 'at the game', 'chilling'])}"
    else: s = f"Today was {_pick(r, ['great', 'rough', 'long', 'perfect', 'weird'])}"
    return tweetify(r, casual(r, s), STATUS_TAGS, p_tag=0.4, p_rt=0.15, p_url=0.2, p_emo=0.15)


def gen_disaster_status(r) -> str:
    dis = _pick(r, DISASTERS); pl = _pick(r, PLACES)
    t = r.randrange(32)
    if t == 0: s = f"Power's out, day {_num(r, 1, 6)}"
    elif t == 1: s = f"Stay safe everyone"
    elif t == 2: s = f"Prayers for everyone in {pl}"
    elif t == 3: s = f"Watching the news about {dis}"
    elif t == 4: s = f"School cancelled tomorrow because of {dis}!!"
    elif t == 5: s = f"Trees down all over {pl}"
    elif t == 6: s = f"{dis} is coming and I got my snacks ready lol"
    elif t == 7: s = f"{_num(r)} dead after {dis} hits {pl}"
    elif t == 8: s = f"Subway closed until further notice"
    elif t == 9: s = f"The wind is insane right now in {pl}"
    elif t == 10: s = f"Hope everyone on the east coast is safe"
    elif t == 11: s = f"Still no power in {pl}. This sucks"
    elif t == 12: s = f"{dis} please cancel work tomorrow"
    elif t == 13: s = f"Pics of the flooding in {pl} are unreal"
    elif t == 14: s = f"Thanks for checking on us, we're fine! {dis} was scary"
    elif t == 15: s = f"Boardwalk in {pl} is gone. Heartbreaking"
    elif t == 16: s = f"Taking a nap then cleaning up the yard after {dis}"
    elif t == 17: s = f"Candles, board games and wine. {dis} party"
    elif t == 18: s = f"Dear {dis}, please go away"
    elif t == 19: s = f"{pl} looks like a ghost town"
    elif t == 20: s = f"My {_pick(r, RELATIVES)} is stuck in {pl} because of {dis}"
    elif t == 21: s = f"{dis} hasn't even hit yet and the stores are out of bread"
    elif t == 22: s = f"Where's Superman when you need him? {dis}"
    elif t == 23: s = f"Gas lines in {pl} are {_num(r, 2, 40)} blocks long"
    elif t == 24: s = f"We will recover and rebuild. {pl} strong"
    elif t == 25: s = f"Rainbow over {pl} after {dis}"
    elif t == 26: s = f"Crane collapsed in {pl}, wow"
    elif t == 27: s = f"Flights cancelled because of {dis}, stuck at the airport"
    elif t == 28: s = f"Everyone who says YOLO better be outside during {dis}"
    elif t == 29: s = f"Sending love to everyone caught up in {dis} xx"
    elif t == 30: s = f"{dis} got us all bored at home"
    else: s = f"Governor declares state of emergency ahead of {dis}"
    return tweetify(r, casual(r, s) if r.random() < 0.5 else s, DISASTER_TAGS, p_tag=0.6, p_rt=0.4, p_url=0.3, p_emo=0.05)


ANIMALS = ["deer", "raccoon", "fox", "hawk", "stray cat", "squirrel", "owl", "coyote", "skunk", "possum"]
CELEBS = ["the mayor", "the governor", "the president", "my boss", "some senator", "that news anchor",
          "the weatherman", "my landlord", "the coach", "a famous actor", "the CEO"]
SUBJECTS = ["this weather", "monday", "my job", "the internet", "this room", "reality tv", "politics",
            "traffic", "the news", "my phone", "school", "the referee", "my hair", "winter", "this song",
            "the subway", "twitter", "this party", "the wifi", "my neighbours", "that movie", "the election"]
ADJS = ["the worst", "so overrated", "hilarious", "ridiculous", "a joke", "amazing", "insane", "weird",
        "way too loud", "so boring", "a mess", "pretty cool", "not that bad", "crazy", "annoying"]
INSULTS = ["a drama queen", "such a troll", "a nerd", "weird", "crazy", "a genius", "a menace", "so lame"]
EMOTES = ["*waves*", "*hugs all*", "*yawns*", "*sips coffee*", "*hides*", "*grins*", "*runs away*",
          "*dances*", "*facepalm*", "*shrugs*"]


def gen_chat_banter(r) -> str:
    h = _handle(r); h2 = _handle(r)
    t = r.randrange(44)
    if t == 0: s = f"you're {_pick(r, INSULTS)} {h}"
    elif t == 1: s = f"u just want attention"
    elif t == 2: s = f"if you don't like it then {_pick(r, ['leave', 'dont read it', 'ignore me', 'whatever'])}"
    elif t == 3: s = f"you know what i mean"
    elif t == 4: s = f"you should see my {_pick(r, ['room', 'car', 'desk', 'kitchen'])} lol"
    elif t == 5: s = f"you can't be serious {h}"
    elif t == 6: s = _pick(r, EMOTES)
    elif t == 7: s = f"pokes {h}"
    elif t == 8: s = f"<-- {_pick(r, STATUS_FEELINGS)}"
    elif t == 9: s = f"{_pick(r, ['sits down', 'walks in', 'stands up', 'looks around', 'sneaks in'])} {_pick(r, ['', 'and waits', 'quietly', 'la la la'])}"
    elif t == 10: s = f"i saw a {_pick(r, ANIMALS)} {_pick(r, ['over that way', 'in my yard', 'on the road', 'last night'])}"
    elif t == 11: s = f"my {_pick(r, RELATIVES)} studied in {_pick(r, PLACES)} for a year"
    elif t == 12: s = f"i haven't been to {_pick(r, ['a drive in', 'a circus', 'the zoo', 'a concert', 'disney'])} since i was a kid"
    elif t == 13: s = f"{h} is {_pick(r, INSULTS)}"
    elif t == 14: s = f"{_pick(r, SUBJECTS)} is {_pick(r, ADJS)}"
    elif t == 15: s = f"i'm a huge {_pick(r, ['video game', 'sports', 'movie', 'music', 'book', 'comic'])} nerd"
    elif t == 16: s = f"i know... i watch {_pick(r, SHOWS)} too"
    elif t == 17: s = f"yea im about to {_pick(r, ['watch tv', 'eat', 'sleep', 'go out', 'shower', 'play xbox'])}"
    elif t == 18: s = f"good to hear {h}"
    elif t == 19: s = f"{h} and {h2} are {_pick(r, ['funny', 'at it again', 'cute', 'fighting again', 'twins lol'])}"
    elif t == 20: s = f"i dont get it {_pick(r, ['', 'lol', 'at all', h])}"
    elif t == 21: s = f"{_pick(r, ['there are always', 'there is always', 'you always get'])} {_pick(r, ['bugs', 'trolls', 'weirdos', 'idiots', 'creeps'])} in here"
    elif t == 22: s = f"one more {_pick(r, ['guy', 'person', 'creep'])} pms me and {_pick(r, ['i leave', 'they get ignored', 'im done'])}"
    elif t == 23: s = f"{_pick(r, ['sheesh', 'geez', 'dang', 'damn', 'wow', 'man'])} {_pick(r, ['', 'that was fast', 'its late', 'im tired', 'lol'])}"
    elif t == 24: s = f"{r.randrange(15, 60)} {_pick(r, ['f', 'm'])} {_pick(r, PLACES)} {_pick(r, ['here', 'here to chat', 'bored', 'pm me', 'hey all'])}"
    elif t == 25: s = f"cheers {_pick(r, ['babes', 'mate', h, 'all'])}"
    elif t == 26: s = f"{_pick(r, ['i', 'we'])} {_pick(r, ['had', 'saw', 'ate', 'heard', 'found'])} {_pick(r, ['a weird dream', 'a ghost', 'the best burger', 'a funny video', 'my old yearbook'])} {_pick(r, ['', 'last night', 'today', 'once'])}"
    elif t == 27: s = f"that's what {_pick(r, ['she said', 'i thought', 'i said', 'they all say'])}"
    elif t == 28: s = f"{_pick(r, ['its', 'it is', 'it was'])} {_pick(r, ['sort of', 'kind of', 'just'])} like {_pick(r, ['netflix', 'facebook', 'a game', 'school', 'a bad movie'])} {_pick(r, ['but worse', 'but for old people', 'lol', 'only cheaper'])}"
    elif t == 29: s = f"{h} {_pick(r, ['you missed it', 'you are late', 'you again', 'you rock', 'you win', 'you wish'])}"
    elif t == 30: s = f"i {_pick(r, ['dont', 'never', 'always'])} {_pick(r, ['do my own laundry', 'watch the news', 'drink coffee', 'sleep before 2', 'answer my phone'])}"
    elif t == 31: s = f"{_pick(r, ['no', 'nah', 'yes', 'ok', 'lol'])} {_pick(r, ['im not', 'i am', 'thats me', 'not me', 'was me'])}"
    elif t == 32: s = f"{_pick(r, ['welcome', 'wb', 'welcome back', 'hey there', 'hiya'])} {h}{_pick(r, ['', '!', '...', ' :)', '....lol'])}"
    elif t == 33: s = f"{_pick(r, ['later', 'bye', 'night', 'peace out'])} {h}, {_pick(r, ['off to', 'going to', 'heading to'])} {_pick(r, ['bed', 'work', 'get food', 'the store'])}"
    elif t == 34: s = f"{_pick(r, ['lol', 'haha', 'lmao'])} {h} {_pick(r, ['you crack me up', 'stop it', 'too funny', 'thats gross', 'nice one'])}"
    elif t == 35: s = f"{_pick(r, ['darwin', 'shakespeare', 'einstein', 'elvis', 'my teacher'])} {_pick(r, ['was overrated', 'was a genius', 'never said that', 'would hate this room'])}"
    elif t == 36: s = f"{_pick(r, ['still', 'already', 'finally'])} {_pick(r, ['in my day clothes', 'in pajamas', 'awake', 'at work', 'home'])}"
    elif t == 37: s = f"{_pick(r, ['my', 'the'])} {_pick(r, ['screen', 'text', 'font', 'chat'])} {_pick(r, ['is tiny', 'keeps freezing', 'is huge now', 'went blank'])}"
    elif t == 38: s = f"{_pick(r, ['i like', 'i love', 'i hate', 'nobody likes'])} {_pick(r, ['mondays', 'rain', 'cats', 'this song', 'country music', 'spiders', 'that show'])}"
    elif t == 39: s = f"{_pick(r, ['only', 'and', 'but'])} {_pick(r, ['i dont get paid enough', 'i see a lot of idiots', 'nobody listens', 'its too late now'])}"
    elif t == 40: s = f"{_pick(r, ['ahhh', 'ohhh', 'mmm', 'hmm', 'awww'])} {_pick(r, ['i missed you', 'that sounds good', 'ok', 'i see', 'poor thing'])} {h}"
    elif t == 41: s = f"{h} {_pick(r, ['u think', 'you think', 'did you know'])} {_pick(r, ['cotton breathes', 'im kidding', 'im 12', 'i care'])}? {_pick(r, ['not really', 'lol', 'nope', 'ha'])}"
    elif t == 42: s = f"{_pick(r, ['im', 'i am', 'we are'])} {_pick(r, ['from', 'in', 'near', 'moving to'])} {_pick(r, PLACES)}"
    else: s = f"{_pick(r, ['yeah', 'lol', 'true', 'ok', 'hmm', 'well'])}, {_pick(r, ['that happens', 'could be worse', 'its complicated', 'same here', 'been there'])}"
    if r.random() < 0.25:
        s = s + _pick(r, ["...", "..", "!", " lol", " :)", " =)", " ;0", "!!!", " haha", " ugh"])
    if r.random() < 0.15:
        s = s.capitalize()
    if r.random() < 0.08:
        s = s.upper()
    return s


def gen_commentary(r) -> str:
    """Tweets of opinion, jokes, news and questions to nobody in particular: status, not requests."""
    pl = _pick(r, PLACES); dis = _pick(r, DISASTERS); c = _pick(r, CELEBS); sub = _pick(r, SUBJECTS)
    t = r.randrange(36)
    if t == 0: s = f"If {dis} hit {pl}, {c} would {_pick(r, ['rename it after himself', 'blame the weather', 'tweet about it', 'hold a press conference', 'cancel it'])}"
    elif t == 1: s = f"{sub.capitalize()} is {_pick(r, ADJS)}"
    elif t == 2: s = f"{c.capitalize()} said {_pick(r, ['we are ready', 'everything is fine', 'it was a success', 'nobody saw it coming', 'the worst is over'])}"
    elif t == 3: s = f"Remember when {c} {_pick(r, ['promised lower taxes', 'said it would never happen', 'tried to dance', 'cut the budget'])}?"
    elif t == 4: s = f"Nobody talks about {sub} enough"
    elif t == 5: s = f"I don't think {sub} is funny"
    elif t == 6: s = f"Who else is {_pick(r, ['bored', 'awake', 'at work', 'hungry', 'watching this'])} right now?"
    elif t == 7: s = f"Where is everyone tonight?"
    elif t == 8: s = f"What is up with {sub} lately???"
    elif t == 9: s = f"Is there {_pick(r, ['lightning', 'thunder', 'snow', 'a fire'])} outside??? I {_pick(r, ['dont hear anything', 'just saw a flash', 'cant tell'])}"
    elif t == 10: s = f"How are the rest of you holding up???"
    elif t == 11: s = f"Why does this always happen to me?"
    elif t == 12: s = f"{dis} is a {_pick(r, ['beast', 'joke', 'drama queen', 'monster', 'diva'])}"
    elif t == 13: s = f"That moment when {_pick(r, ['the power comes back', 'the wifi dies', 'your mom calls', 'the rain stops'])}"
    elif t == 14: s = f"Not long until {_pick(r, ['the weekend', 'the storm hits', 'christmas', 'the game', 'payday'])}"
    elif t == 15: s = f"If we {_pick(r, ['die', 'survive', 'lose power'])} in {dis}, {_pick(r, ['it was nice knowing you', 'blame the weatherman', 'i regret nothing'])}"
    elif t == 16: s = f"{_pick(r, ['Even though', 'Although'])} nothing {_pick(r, ['bad', 'much'])} happened, I {_pick(r, ['feel like celebrating', 'am still shaking', 'will sleep well tonight'])}"
    elif t == 17: s = f"{_pick(r, ['Thank you', 'Big thanks', 'Shout out'])} to {_pick(r, ['the firefighters', 'the nurses', 'the linemen', 'our teachers', 'the police'])} for {_pick(r, ['their hard work', 'keeping us safe', 'everything tonight'])}"
    elif t == 18: s = f"{c.capitalize()} {_pick(r, ['responded too fast', 'did a great job', 'messed up again', 'is on tv again'])}, {_pick(r, ['apparently', 'lol', 'wow', 'go figure'])}"
    elif t == 19: s = f"Can I get a {_pick(r, ['hello', 'retweet', 'follow', 'shout out'])} before {_pick(r, ['the storm', 'bedtime', 'the game', 'I turn 18'])}?!"
    elif t == 20: s = f"I hope {dis} {_pick(r, ['knocks out the power so school is cancelled', 'misses us', 'is not as bad as they say', 'cancels my exam'])}"
    elif t == 21: s = f"Some {_pick(r, ['breeze', 'rain', 'wind', 'storm'])} out there. {_pick(r, ['Wonder if work is cancelled', 'Sigh', 'Not going out', 'Hope it stops soon'])}"
    elif t == 22: s = f"{_pick(r, ['Indeed', 'Exactly', 'Agreed', 'True', 'Nope'])}. {_pick(r, ['No taped windows?', 'Stay safe', 'Same here', 'Could be worse'])}"
    elif t == 23: s = f"Praying for all the people {_pick(r, ['affected by', 'in the path of', 'dealing with'])} {dis}"
    elif t == 24: s = f"{_pick(r, ['Wonder how long', 'I bet', 'Watch how'])} {_pick(r, ['FEMA', 'the city', 'the power company', 'the landlord'])} {_pick(r, ['takes to respond', 'will handle this', 'blames someone else'])}"
    elif t == 25: s = f"{_pick(r, ['Lol', 'Haha', 'Wow', 'Ok'])} {_pick(r, ['people are buying all the bread', 'my dog hates the wind', 'the lights just flickered', 'the cable is out'])}"
    elif t == 26: s = f"The {_pick(r, ['power', 'lights', 'wifi', 'tv'])} just {_pick(r, ['flickered', 'went out', 'came back'])}. {_pick(r, ['NO', 'Damn you', 'Thank god', 'Here we go'])}"
    elif t == 27: s = f"{_pick(r, ['Times Square', 'The mall', 'Main street', 'The beach', 'Downtown'])} {_pick(r, ['is empty', 'is flooded', 'looks abandoned', 'is packed'])} {_pick(r, ['right now', 'tonight', 'because of ' + dis, ''])}"
    elif t == 28: s = f"Vote {_pick(r, ['tuesday', 'early', 'for change', 'like your job depends on it'])}. {_pick(r, ['Climate change is real', 'Every vote counts', 'Just saying'])}"
    elif t == 29: s = f"{_pick(r, ['Finally', 'Just', 'Already'])} {_pick(r, ['home', 'awake', 'done', 'fed up'])}. {_pick(r, ['What a day', 'Long night', 'Time for bed', 'Never again'])}"
    elif t == 30: s = f"Squirrels {_pick(r, ['looking', 'running', 'hiding'])} {_pick(r, ['everywhere', 'for cover', 'in the rain'])}. {_pick(r, ['Never mind', 'Cute', 'Weird'])}"
    elif t == 31: s = f"{_pick(r, ['Fer crying out loud', 'For real', 'Seriously', 'Wow'])}. {_pick(r, ['The crane is still hanging', 'The line is a mile long', 'Still no bus', 'The roof is leaking'])}"
    elif t == 32: s = f"{_pick(r, ['She', 'He', 'It'])} might have competition {_pick(r, ['tonight', 'with the wind', 'from my dog'])}"
    elif t == 33: s = f"Day {r.randrange(2, 9)} without {_pick(r, ['power', 'heat', 'internet', 'coffee', 'school'])}. {_pick(r, ['Send help', 'Losing my mind', 'Board games again', 'Still alive'])}"
    elif t == 34: s = f"{_pick(r, ['I', 'We'])} {_pick(r, ['made it', 'survived', 'are fine', 'lost a tree'])}. {_pick(r, ['Thanks for the prayers', 'Crazy night', 'Not much damage', 'Hope you are all ok'])}"
    else: s = f"{_pick(r, ['Honestly', 'Ngl', 'Tbh', 'Lowkey'])} {sub} {_pick(r, ['is getting to me', 'is not that deep', 'made my day', 'is everything'])}"
    tags = DISASTER_TAGS if r.random() < 0.6 else STATUS_TAGS
    return drop_hashtags(r, tweetify(r, casual(r, s) if r.random() < 0.4 else s, tags, p_tag=0.45, p_rt=0.35, p_url=0.15, p_mention=0.2, p_emo=0.05))


NARR_SUBJ = ["My neighbour", "My {rel}", "The guy next door", "Our teacher", "My boss", "The bus driver",
             "Some lady at the store", "My dog", "The cat", "We", "I", "My roommate", "The whole office",
             "My kid", "Everyone at work", "The landlord", "Our team", "Grandpa", "The cashier"]
NARR_VERB = ["finally fixed", "just painted", "accidentally broke", "spent all day on", "forgot about",
             "could not stop talking about", "showed up late to", "laughed at", "fell asleep during",
             "got stuck in", "won", "lost", "cleaned", "complained about", "sang through", "ruined",
             "posted pictures of", "found", "ate", "burned", "moved", "crashed", "skipped"]
NARR_OBJ = ["the fence", "the meeting", "the whole pizza", "the game", "my birthday", "the parking lot",
            "the basement", "the group chat", "the kitchen", "the concert", "the school play", "his car",
            "her phone", "the lottery", "the wedding", "the barbecue", "dinner", "the elevator", "class"]
NARR_TIME = ["yesterday", "this morning", "last night", "today", "again", "on friday", "an hour ago",
             "during lunch", "for the third time this week", "", "", ""]
NARR_TAIL = ["", "", "lol", "of course", "classic", "what a day", "smh", "unbelievable", "not even kidding",
             "so that happened", "typical", "haha", "and I'm still laughing", "#fail", "#life"]


def gen_narrative(r) -> str:
    subj = _pick(r, NARR_SUBJ).format(rel=_pick(r, RELATIVES))
    s = f"{subj} {_pick(r, NARR_VERB)} {_pick(r, NARR_OBJ)} {_pick(r, NARR_TIME)}".strip()
    tail = _pick(r, NARR_TAIL)
    s = s + (". " + tail[0].upper() + tail[1:] if tail and r.random() < 0.5 else (" " + tail if tail else ""))
    if r.random() < 0.3:
        s += ". " + _pick(r, ["It was " + _pick(r, ADJS) + ".", "Still can't believe it.", "Anyway.",
                              "Don't ask.", "Long story.", "Pics soon.", "I'm done.", "Never again.",
                              "We all just stood there.", "Best part of my week."])
    if r.random() < 0.5:
        s = tweetify(r, casual(r, s), STATUS_TAGS, p_tag=0.3, p_rt=0.15, p_url=0.15, p_emo=0.1)
    else:
        s = casual(r, s)
    return s


def gen_long_status(r) -> str:
    """Two or three status pieces in one post: tweets are often 20-30 words long."""
    gens = [gen_narrative, gen_commentary, gen_disaster_status, gen_tweet_status, gen_chat_banter]
    k = 2 + (r.random() < 0.3)
    parts = []
    for _ in range(k):
        p = _pick(r, gens)(r)
        if p.startswith("RT @"):
            p = p.split(": ", 1)[-1]
        parts.append(p.rstrip(" ."))
    sep = _pick(r, [". ", "... ", "! ", " - ", ", ", " "])
    return sep.join(parts)


def gen_rhetorical(r) -> str:
    """Questions that are not asking for help: rhetorical, social, jokes, small talk."""
    dis = _pick(r, DISASTERS); c = _pick(r, CELEBS); sub = _pick(r, SUBJECTS); h = _handle(r)
    t = r.randrange(20)
    if t == 0: s = f"Does anyone else hope {dis} {_pick(r, ['cancels school', 'takes out the reality shows', 'skips us', 'cancels the election'])}??"
    elif t == 1: s = f"Why do they name {_pick(r, ['hurricanes', 'storms', 'cars', 'babies'])} such {_pick(r, ['weird', 'boring', 'cute'])} names?"
    elif t == 2: s = f"@{h} did you get hit by {dis}?"
    elif t == 3: s = f"how u today {h}? we made it thru {dis}!"
    elif t == 4: s = f"{_pick(r, ['Internet', 'TV', 'Phone', 'Cable'])} is working but really slow. Is this {dis.replace('the ', '')}-related?"
    elif t == 5: s = f"{c.capitalize()} says we should {_pick(r, ['cut the budget', 'stay calm', 'go to work anyway', 'blame the weather'])}. What could go wrong?"
    elif t == 6: s = f"Who the heck is this {_pick(r, ['Sandy', 'Irene', 'guy', 'lady'])} everyone keeps talking about?"
    elif t == 7: s = f"Has anyone talked about the effect of {dis} on {_pick(r, ['the election', 'voter turnout', 'gas prices', 'the marathon'])}?"
    elif t == 8: s = f"Hey {c}, how {_pick(r, ['many', 'much'])} {_pick(r, ['guards', 'money', 'generators', 'cars'])} do you have while the power is out?"
    elif t == 9: s = f"Where do people find {_pick(r, ['all this bread', 'these cans of food', 'the time', 'the energy'])} anyway?"
    elif t == 10: s = f"Do you not {_pick(r, ['watch the news', 'read', 'listen'])}? {dis.capitalize()} {_pick(r, ['wrecked everything', 'is all over the news', 'is real'])}"
    elif t == 11: s = f"Is it just me or is {sub} {_pick(r, ADJS)}?"
    elif t == 12: s = f"Why is {sub} always like this?"
    elif t == 13: s = f"Who's ready for {_pick(r, ['the weekend', 'halloween', 'the game', 'the storm', 'pizza'])}?!"
    elif t == 14: s = f"How did I {_pick(r, ['sleep through that', 'get so lucky', 'forget my keys again', 'end up here'])}?"
    elif t == 15: s = f"{_pick(r, ['Can you believe', 'Did you see'])} {_pick(r, ['this weather', 'that game', 'what he said', 'the lines at the store'])}?"
    elif t == 16: s = f"what's everyone doing {_pick(r, ['tonight', 'this weekend', 'for halloween', 'during the storm'])}?"
    elif t == 17: s = f"Seriously, what is wrong with {_pick(r, ['people', 'drivers', 'this town', 'my phone'])}?"
    elif t == 18: s = f"Remember {_pick(r, ['last year', 'the blackout', 'that storm', 'high school'])}? Good times"
    else: s = f"Am I the only one {_pick(r, ['still awake', 'without power', 'who likes this weather', 'watching this'])}?"
    return drop_hashtags(r, tweetify(r, casual(r, s) if r.random() < 0.4 else s,
                                     DISASTER_TAGS if r.random() < 0.5 else STATUS_TAGS, p_tag=0.4, p_rt=0.3, p_url=0.1))


def gen_chat_you(r) -> str:
    """Chat-room remarks addressed to someone that are banter, not advice."""
    h = _handle(r); f = _pick(r, FOODS); rel = _pick(r, RELATIVES)
    s = _pick(r, [f"you can have my {f}, i'm full", f"you should see my room right now lol",
                  f"{h} you should have been there", f"you gotta be kidding me {h}",
                  f"u can keep ur {_pick(r, ['opinion', 'jokes', 'pizza', 'drama'])}",
                  f"{h} - you sound like my {rel}", f"you need a nap {h}", f"you guys are crazy",
                  f"if you say so", f"you know it", f"you wish", f"you're the best {h}",
                  f"you should totally come to the party", f"well you could always just go to bed lol",
                  f"{h} you'd better be joking", f"you'll never guess what my {rel} did"])
    return casual(r, s)


def gen_status(r) -> tuple[str, str]:
    if r.random() < 0.05:
        return gen_chat_you(r), "chat"
    if r.random() < 0.06:
        return gen_rhetorical(r), "tweet"
    x = r.random()
    if x < 0.15:
        return gen_long_status(r), "tweet"
    if x < 0.25:
        return gen_narrative(r), "tweet"
    x = r.random()
    if x < 0.22:
        return gen_chat_status(r), "chat"
    if x < 0.42:
        return gen_chat_banter(r), "chat"
    if x < 0.55:
        return gen_tweet_status(r), "tweet"
    if x < 0.70:
        return gen_disaster_status(r), "disaster"
    if x < 0.92:
        return gen_commentary(r), "tweet"
    d = DOMAINS[_pick(r, DOMAIN_NAMES)]
    th = _pick(r, d["things"])
    s = _pick(r, [f"Just got a new {th}!", f"Using my {th} for the first time today",
                  f"My {th} arrived", f"Spent the whole afternoon with my {th}",
                  f"Nothing like a {th} on a {_pick(r, ['friday', 'sunday', 'cold day'])}",
                  f"I've had this {th} for years", f"Went to a {_pick(r, DOMAIN_NAMES)} meetup last night, fun crowd",
                  f"Reading about {_pick(r, DOMAIN_NAMES)} again"])
    return casual(r, s), "tweet"


GENERATORS = {"goal": gen_goal, "request": gen_request, "offer": gen_offer, "status": gen_status}


def generate(seed: int = 20261101, per_label: int = 6000) -> list[tuple[str, str, str]]:
    """Deterministic synthetic corpus: [(text, label, style)], `per_label` posts per intent."""
    r = random.Random(seed)
    out: list[tuple[str, str, str]] = []
    for label in ("goal", "request", "offer", "status"):
        g = GENERATORS[label]
        for _ in range(per_label):
            text, style = g(r)
            out.append((text, label, style))
    return out


if __name__ == "__main__":
    import sys
    rr = random.Random(int(sys.argv[1]) if len(sys.argv) > 1 else 1)
    for lab, g in GENERATORS.items():
        for _ in range(8):
            print(lab, "|", g(rr)[0])
