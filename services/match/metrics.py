"""match's metrics."""
from prometheus_client import Counter, Histogram

MATCHES = Counter("goalpost_match_matches_total", "Matches sent", ["intent"])
UNMATCHED = Counter("goalpost_match_unmatched_total", "Goals and requests with no candidate", ["intent"])
RANK_SECONDS = Histogram("goalpost_match_rank_seconds", "Time to rank one post (a batch's time over its posts)",
                         buckets=(.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1))
TIME_TO_MATCH = Histogram("goalpost_match_time_to_match_seconds",
                          "From a goal or request's created_at (its ingest time) to its match being sent",
                          buckets=(.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300))
FOLLOWED = Counter("goalpost_match_index_events_total", "Events applied to the expertise index", ["topic"])
ASKS = Counter("goalpost_match_asks_total", "Helpers asked (one notification each), by wave", ["wave"])
WAVES = Counter("goalpost_match_waves_total", "Waves of asks sent, by wave (replacements for declines not counted)",
                ["wave"])
ERASED = Counter("goalpost_match_erasures_total", "Users erased from the match index and views")
WITHDRAWN = Counter("goalpost_match_withdrawn_total", "Posts withdrawn from routing by flags")
DECLINES = Counter("goalpost_match_declines_total", "Asks declined (each passed on to the next candidate)")
ANSWERED = Counter("goalpost_match_answered_total",
                   "Goals and requests in their waves that got a first reply, by whether the replier was asked",
                   ["replier"])
TIME_TO_ANSWER = Histogram("goalpost_match_time_to_first_answer_seconds",
                           "From a goal or request's created_at to its first reply or accept",
                           ["replier"], buckets=(10, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 21600, 86400))
