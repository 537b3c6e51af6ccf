package rollout

// Search attributes every rollout keeps up to date, so the Temporal UI,
// `temporal workflow list --query` and `starter list` find rollouts by app,
// namespace, phase, weight or version. A server must have them registered
// before a worker runs (the worker checks at start-up); `temporal operator
// search-attribute create` does it, see README "Search attributes".
const (
	SearchAttrApp       = "CanaryApp"
	SearchAttrNamespace = "CanaryNamespace"
	SearchAttrPhase     = "CanaryPhase"
	SearchAttrWeight    = "CanaryWeight"
	SearchAttrVersion   = "CanaryVersion"
)

// SearchAttrTypes maps each search attribute to its Temporal type, in the
// spelling `temporal operator search-attribute create --type` and
// `temporal server start-dev --search-attribute` take.
var SearchAttrTypes = map[string]string{
	SearchAttrApp:       "Keyword",
	SearchAttrNamespace: "Keyword",
	SearchAttrPhase:     "Keyword",
	SearchAttrWeight:    "Int",
	SearchAttrVersion:   "Keyword",
}
